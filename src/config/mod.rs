//! Configuration, from flags or the environment (README, "Configuration"). Every binary prints its
//! effective configuration at start, secrets masked, and `--help` lists every variable.
pub mod keys;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

pub use keys::{
    DEV_CARD_KEY, DEV_DASHBOARD_SESSION_KEY, DEV_FINGERPRINT_KEY, DEV_JWT_SECRET, DEV_WEBHOOK_SECRET_KEY,
    SecretSetting, SettingError,
};

/// The settings every component that touches AWS shares.
#[derive(Args, Debug, Clone)]
pub struct AwsArgs {
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Set for a local emulator (e.g. http://127.0.0.1:4566) or a VPC or FIPS endpoint; unset
    /// means real AWS. On a loopback address it means development mode (`config::keys`).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// DynamoDB's own endpoint beside `AWS_ENDPOINT_URL` (the SDK's variable; `aws::clients`).
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB")]
    pub dynamodb_endpoint_url: Option<String>,
    #[arg(long, env = "DYNAMODB_TABLE", default_value = "payment-platform-table")]
    pub table: String,
    #[arg(long, env = "PAYMENTS_QUEUE", default_value = "payment-platform-payments")]
    pub payments_queue: String,
    #[arg(long, env = "REFUNDS_QUEUE", default_value = "payment-platform-refunds")]
    pub refunds_queue: String,
    /// The webhook-worker's queue: every change of a payment is announced on it.
    #[arg(long, env = "WEBHOOKS_QUEUE", default_value = "payment-platform-webhooks")]
    pub webhooks_queue: String,
    /// Create the table and queues if missing and seed test merchants; never deletes anything.
    #[arg(long, env = "SETUP", default_value_t = false)]
    pub setup: bool,
}

impl AwsArgs {
    /// Development mode: the emulator on this machine, nothing else (`config::keys`).
    pub fn is_development(&self) -> bool {
        let dynamodb_local =
            self.dynamodb_endpoint_url.as_deref().filter(|u| !u.trim().is_empty()).is_none_or(keys::is_loopback_url);
        self.endpoint_url.as_deref().is_some_and(keys::is_loopback_url) && dynamodb_local
    }
}

/// The keys that seal what rests in the table: cards (the API seals, the payment-worker
/// opens) and webhook signing secrets (the API seals, the webhook-worker opens). Each process
/// reads only its own (README, "Who holds which key").
#[derive(Args, Debug, Clone)]
pub struct VaultArgs {
    /// Base64 of 32 random bytes (`openssl rand -base64 32`): seals card data. API and
    /// payment-worker only; required outside development mode.
    #[arg(long, env = "CARD_ENCRYPTION_KEY", hide_env_values = true, value_parser = secret)]
    pub card_encryption_key: Option<SecretString>,
    /// Comma-separated previous card keys, still accepted for opening during a rotation.
    #[arg(long, env = "CARD_ENCRYPTION_OLD_KEYS", hide_env_values = true, value_delimiter = ',', value_parser = secret)]
    pub card_encryption_old_keys: Vec<SecretString>,
    /// Base64 of 32 random bytes: seals webhook endpoints' signing secrets. API and
    /// webhook-worker only; required outside development mode.
    #[arg(long, env = "WEBHOOK_SECRET_KEY", hide_env_values = true, value_parser = secret)]
    pub webhook_secret_key: Option<SecretString>,
    /// Comma-separated previous webhook-secret keys, still accepted for opening during a rotation.
    #[arg(long, env = "WEBHOOK_SECRET_OLD_KEYS", hide_env_values = true, value_delimiter = ',', value_parser = secret)]
    pub webhook_secret_old_keys: Vec<SecretString>,
}

impl VaultArgs {
    pub fn cards(&self) -> SecretSetting<'_> {
        SecretSetting {
            name: "CARD_ENCRYPTION_KEY",
            old_name: "CARD_ENCRYPTION_OLD_KEYS",
            current: &self.card_encryption_key,
            previous: &self.card_encryption_old_keys,
            dev_default: DEV_CARD_KEY,
        }
    }

    pub fn webhook_secrets(&self) -> SecretSetting<'_> {
        SecretSetting {
            name: "WEBHOOK_SECRET_KEY",
            old_name: "WEBHOOK_SECRET_OLD_KEYS",
            current: &self.webhook_secret_key,
            previous: &self.webhook_secret_old_keys,
            dev_default: DEV_WEBHOOK_SECRET_KEY,
        }
    }
}

/// The key of the idempotency fingerprints (API only): an HMAC, so a stored fingerprint of a
/// request that carried a card cannot be brute-forced back to the card.
#[derive(Args, Debug, Clone)]
pub struct FingerprintArgs {
    /// Base64 of 32 random bytes; required outside development mode.
    #[arg(long, env = "IDEMPOTENCY_FINGERPRINT_KEY", hide_env_values = true, value_parser = secret)]
    pub idempotency_fingerprint_key: Option<SecretString>,
    /// Comma-separated previous keys: replays of keys stored under them still match (keep them
    /// for 48 hours after a rotation, as long as keys are kept).
    #[arg(long, env = "IDEMPOTENCY_FINGERPRINT_OLD_KEYS", hide_env_values = true, value_delimiter = ',', value_parser = secret)]
    pub idempotency_fingerprint_old_keys: Vec<SecretString>,
}

impl FingerprintArgs {
    pub fn setting(&self) -> SecretSetting<'_> {
        SecretSetting {
            name: "IDEMPOTENCY_FINGERPRINT_KEY",
            old_name: "IDEMPOTENCY_FINGERPRINT_OLD_KEYS",
            current: &self.idempotency_fingerprint_key,
            previous: &self.idempotency_fingerprint_old_keys,
            dev_default: DEV_FINGERPRINT_KEY,
        }
    }
}

/// Whether webhook endpoints may be plain http or private addresses (API and webhook worker).
#[derive(Args, Debug, Clone)]
pub struct WebhookUrlArgs {
    /// Accept and deliver to http URLs and loopback or private addresses. Default: true in
    /// development mode (`make dev`), false elsewhere, where only https to public addresses goes.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_URLS", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub webhook_allow_private_urls: Option<bool>,
}

impl WebhookUrlArgs {
    pub fn allow_private(&self, aws: &AwsArgs) -> bool {
        self.webhook_allow_private_urls.unwrap_or_else(|| aws.is_development())
    }
}

/// A secret setting: kept in a `SecretString`, so `Debug` and logs never show it.
pub(crate) fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// What the effective configuration line shows of a secret: whether it is set.
pub fn mask(secret: &Option<SecretString>) -> &'static str {
    if secret.as_ref().is_some_and(|s| !s.expose_secret().is_empty()) { "***" } else { "(unset)" }
}

/// The worker threads of the async runtime this runs on (0 outside one), for the effective
/// configuration line: `TOKIO_WORKER_THREADS` if set, else the cores the process may use.
pub fn runtime_worker_threads() -> usize {
    tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().num_workers())
}

mod api;
mod bank;
mod dashboard;
mod workers;

pub use api::ApiConfig;
pub use bank::BankArgs;
pub use dashboard::{DashboardConfig, SignIn};
pub use workers::{BankWorkerConfig, WebhookArgs, WebhookWorkerConfig, WorkerArgs, WorkerBinary};
pub use workers::{PAYMENT_WORKER, REFUND_WORKER, WEBHOOK_WORKER};
