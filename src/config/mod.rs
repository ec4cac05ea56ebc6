//! Configuration, from flags or the environment (README, "Configuration"). Every binary prints its
//! effective configuration at start, secrets masked, and `--help` lists every variable.
pub mod keys;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

pub use keys::{
    DEV_CARD_KEY, DEV_FINGERPRINT_KEY, DEV_JWT_SECRET, DEV_WEBHOOK_SECRET_KEY, SecretSetting, SettingError,
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

/// How the webhook worker delivers.
#[derive(Args, Debug, Clone)]
pub struct WebhookArgs {
    #[command(flatten)]
    pub urls: WebhookUrlArgs,
    /// One delivery attempt's limit, in milliseconds.
    #[arg(long, env = "WEBHOOK_TIMEOUT_MS", default_value_t = 15_000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub webhook_timeout_ms: u64,
    /// Delays between attempts (`ms`, `s`, `m`, `h`); the delivery fails after the last.
    #[arg(long, env = "WEBHOOK_RETRY_SCHEDULE", default_value = "5s,5m,30m,2h,5h,10h,10h",
          value_parser = crate::domain::webhooks::RetrySchedule::parse)]
    pub webhook_retry_schedule: crate::domain::webhooks::RetrySchedule,
    /// Delivery attempts in flight at once, in all.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub webhook_concurrency: u16,
    /// Delivery attempts in flight at once to one endpoint: a slow receiver holds no more.
    #[arg(long, env = "WEBHOOK_ENDPOINT_CONCURRENCY", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    pub webhook_endpoint_concurrency: u16,
    /// Delivery attempts in flight at once to one merchant's endpoints, all of them: a merchant's
    /// slow receivers hold no more of the worker's slots (an attempt past it waits its turn).
    #[arg(long, env = "WEBHOOK_MERCHANT_CONCURRENCY", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub webhook_merchant_concurrency: u16,
    /// An endpoint failing without a success for this many seconds is disabled (5 days).
    #[arg(long, env = "WEBHOOK_DISABLE_AFTER_SECS", default_value_t = 432_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_disable_after_secs: u64,
}

impl WebhookArgs {
    pub fn settings(&self) -> crate::app::deliver::DeliverySettings {
        crate::app::deliver::DeliverySettings {
            schedule: self.webhook_retry_schedule.clone(),
            timeout: std::time::Duration::from_millis(self.webhook_timeout_ms),
            disable_after_ms: self.webhook_disable_after_secs.saturating_mul(1000),
            concurrency: usize::from(self.webhook_concurrency),
            endpoint_concurrency: usize::from(self.webhook_endpoint_concurrency),
            merchant_concurrency: usize::from(self.webhook_merchant_concurrency),
        }
    }
}

/// A secret setting: kept in a `SecretString`, so `Debug` and logs never show it.
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// What the effective configuration line shows of a secret: whether it is set.
pub fn mask(secret: &Option<SecretString>) -> &'static str {
    if secret.as_ref().is_some_and(|s| !s.expose_secret().is_empty()) { "***" } else { "(unset)" }
}

/// The API's configuration.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "api",
    about = "Payments HTTP API: validates, stores PENDING, enqueues, answers 202",
    after_help = crate::telemetry::ENV_HELP
)]
pub struct ApiConfig {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub fingerprints: FingerprintArgs,
    #[command(flatten)]
    pub webhook_urls: WebhookUrlArgs,
    #[arg(long, env = "HTTP_HOST", default_value = "127.0.0.1")]
    pub http_host: std::net::IpAddr,
    #[arg(long, env = "HTTP_PORT", default_value_t = 4444)]
    pub http_port: u16,
    /// The public URL of the API, as clients reach it (for logs and docs).
    #[arg(long, env = "BASE_URL", default_value = "http://localhost:4444")]
    pub base_url: String,
    /// HS256 secret for bearer tokens; outside development mode required (without
    /// `JWT_JWKS_URL`) and at least 32 bytes.
    #[arg(long, env = "JWT_SECRET_KEY", hide_env_values = true, value_parser = secret)]
    pub jwt_secret_key: Option<SecretString>,
    /// Comma-separated previous secrets, still accepted (never used to sign) during a rotation.
    #[arg(long, env = "JWT_OLD_SECRET_KEYS", hide_env_values = true, value_delimiter = ',', value_parser = secret)]
    pub jwt_old_secret_keys: Vec<SecretString>,
    #[arg(long, env = "JWT_ISSUER", default_value = "payment-platform")]
    pub jwt_issuer: String,
    #[arg(long, env = "JWT_AUDIENCE", default_value = "payment-platform-api")]
    pub jwt_audience: String,
    #[arg(long, env = "TOKEN_TTL_SECS", default_value_t = 3600)]
    pub token_ttl_secs: u64,
    /// The merchant `GET /token` issues for by default.
    #[arg(long, env = "MERCHANT_ID", default_value = "test@merchant")]
    pub merchant_id: String,
    /// Serve `GET /token` (development token issuance). Unset: only in development mode, and
    /// only for HS256 tokens (no `JWT_JWKS_URL`). Outside development mode `true` needs
    /// `TOKEN_ISSUANCE_ACKNOWLEDGED=true` too.
    #[arg(long, env = "TOKEN_ISSUANCE", action = clap::ArgAction::Set)]
    pub token_issuance: Option<bool>,
    /// Acknowledges that `TOKEN_ISSUANCE=true` outside development mode hands tokens to anyone
    /// who reaches the API.
    #[arg(long, env = "TOKEN_ISSUANCE_ACKNOWLEDGED", default_value_t = false, action = clap::ArgAction::Set)]
    pub token_issuance_acknowledged: bool,
    /// Serve the OpenAPI document (`/openapi.json`) and its browser UI (`/docs`). Unset: only
    /// in development mode.
    #[arg(long, env = "API_DOCS", action = clap::ArgAction::Set)]
    pub api_docs: Option<bool>,
    /// An identity provider's JWKS (e.g. Cognito's `https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json`):
    /// tokens are then RS256/ES256 from that provider, and HS256 tokens are refused.
    #[arg(long, env = "JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,
    /// The claim naming the merchant (`client_id` for Cognito's client-credentials tokens).
    #[arg(long, env = "JWT_MERCHANT_CLAIM", default_value = "sub")]
    pub jwt_merchant_claim: String,
    /// Reads (GET) per second per merchant and API replica, burst of one second's worth; 0 = no limit.
    #[arg(long, env = "RATE_LIMIT_READS_PER_SEC", default_value_t = 300)]
    pub rate_limit_reads_per_sec: u32,
    /// Writes per second per merchant and API replica, burst of one second's worth; 0 = no limit.
    #[arg(long, env = "RATE_LIMIT_WRITES_PER_SEC", default_value_t = 100)]
    pub rate_limit_writes_per_sec: u32,
    /// How long a merchant's registration (or its absence) is remembered before it is read again.
    #[arg(long, env = "MERCHANT_CACHE_SECS", default_value_t = 60)]
    pub merchant_cache_secs: u64,
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 16 * 1024)]
    pub max_body_bytes: usize,
    /// Header bytes per request; more (or over 100 fields) is 431 `headers_too_large`.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 16 * 1024,
        value_parser = clap::value_parser!(u64).range(1024..=128 * 1024))]
    pub max_header_bytes: u64,
    /// Seconds a client has to send a request's head, from its connection (or the first byte
    /// of a later request); a slower client is disconnected.
    #[arg(long, env = "HTTP_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// Seconds a keep-alive connection may stay idle between requests. Keep it above a load
    /// balancer's own idle timeout (60 s on an ALB), so the balancer closes first.
    #[arg(long, env = "HTTP_IDLE_TIMEOUT_SECS", default_value_t = 65,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Open connections per listener; past it new ones wait in the kernel's backlog.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// The operators' listener (`GET /metrics`, `GET /status`), never the public port.
    #[arg(long, env = "ADMIN_HOST", default_value = "127.0.0.1")]
    pub admin_host: std::net::IpAddr,
    #[arg(long, env = "ADMIN_PORT", default_value_t = 4448)]
    pub admin_port: u16,
}

impl ApiConfig {
    /// Whether `GET /token` is served: as `TOKEN_ISSUANCE` says, else only on the emulator; never
    /// with an identity provider (its tokens are not ours to issue).
    pub fn token_issuance_on(&self) -> bool {
        self.jwt_jwks_url.is_none() && self.token_issuance.unwrap_or_else(|| self.aws.is_development())
    }

    /// Whether the OpenAPI document and its UI are served.
    pub fn api_docs_on(&self) -> bool {
        self.api_docs.unwrap_or_else(|| self.aws.is_development())
    }

    /// What outside development mode refuses to start with, beyond the secrets themselves.
    pub fn check_production(&self) -> Result<(), SettingError> {
        if !self.aws.is_development() && self.token_issuance_on() && !self.token_issuance_acknowledged {
            return Err(SettingError::TokenIssuanceNotAcknowledged);
        }
        Ok(())
    }

    pub fn conn_limits(&self) -> crate::http::server::ConnLimits {
        use std::time::Duration;
        crate::http::server::ConnLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }

    /// One line with every setting, secrets masked.
    pub fn log_effective(&self) {
        tracing::info!(
            region = %self.aws.region,
            endpoint = self.aws.endpoint_url.as_deref().unwrap_or("(real AWS)"),
            table = %self.aws.table,
            payments_queue = %self.aws.payments_queue,
            refunds_queue = %self.aws.refunds_queue,
            setup = self.aws.setup,
            http = %format!("{}:{}", self.http_host, self.http_port),
            base_url = %self.base_url,
            jwt_secret_key = mask(&self.jwt_secret_key),
            jwt_old_secret_keys = self.jwt_old_secret_keys.len(),
            jwt_issuer = %self.jwt_issuer,
            jwt_audience = %self.jwt_audience,
            token_ttl_secs = self.token_ttl_secs,
            merchant_id = %self.merchant_id,
            token_issuance = self.token_issuance_on(),
            jwt_jwks_url = self.jwt_jwks_url.as_deref().unwrap_or("(unset: HS256)"),
            jwt_merchant_claim = %self.jwt_merchant_claim,
            rate_limit_reads_per_sec = self.rate_limit_reads_per_sec,
            rate_limit_writes_per_sec = self.rate_limit_writes_per_sec,
            merchant_cache_secs = self.merchant_cache_secs,
            card_encryption_key = mask(&self.vault.card_encryption_key),
            card_encryption_old_keys = self.vault.card_encryption_old_keys.len(),
            webhook_secret_key = mask(&self.vault.webhook_secret_key),
            webhook_secret_old_keys = self.vault.webhook_secret_old_keys.len(),
            idempotency_fingerprint_key = mask(&self.fingerprints.idempotency_fingerprint_key),
            idempotency_fingerprint_old_keys = self.fingerprints.idempotency_fingerprint_old_keys.len(),
            development_mode = self.aws.is_development(),
            api_docs = self.api_docs_on(),
            request_timeout_ms = self.request_timeout_ms,
            max_body_bytes = self.max_body_bytes,
            max_header_bytes = self.max_header_bytes,
            header_read_timeout_secs = self.header_read_timeout_secs,
            idle_timeout_secs = self.idle_timeout_secs,
            max_connections = self.max_connections,
            admin = %format!("{}:{}", self.admin_host, self.admin_port),
            "effective configuration"
        );
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::ApiConfig;

    #[test]
    fn token_issuance_is_on_by_default_only_on_the_emulator_and_never_beside_an_identity_provider() {
        // Set field by field, so the environment of whoever runs the tests cannot change them.
        let with = |endpoint: Option<&str>, issuance: Option<bool>, jwks: Option<&str>| {
            let mut c = ApiConfig::try_parse_from(["api"]).unwrap();
            c.aws.endpoint_url = endpoint.map(str::to_owned);
            c.token_issuance = issuance;
            c.jwt_jwks_url = jwks.map(str::to_owned);
            c.token_issuance_on()
        };
        let emulator = Some("http://127.0.0.1:4566");
        assert!(!with(None, None, None), "real AWS, nothing said: off");
        assert!(with(None, Some(true), None), "real AWS, asked for explicitly: on (with a warning)");
        assert!(with(emulator, None, None), "the emulator: on");
        assert!(!with(emulator, Some(false), None));
        assert!(!with(emulator, Some(true), Some("https://idp/jwks.json")), "never beside an identity provider");
        let vpc = Some("https://vpce-1.dynamodb.us-east-1.vpce.amazonaws.com");
        assert!(!with(vpc, None, None), "an endpoint elsewhere is not development mode");
    }

    #[test]
    fn development_mode_is_an_emulator_on_this_machine_only() {
        let mut c = ApiConfig::try_parse_from(["api"]).unwrap();
        c.aws.endpoint_url = Some("http://127.0.0.1:4566".into());
        assert!(c.aws.is_development() && c.api_docs_on());
        c.aws.dynamodb_endpoint_url = Some("https://dynamodb-fips.us-east-1.amazonaws.com".into());
        assert!(!c.aws.is_development(), "DynamoDB elsewhere");
        c.aws.dynamodb_endpoint_url = None;
        c.aws.endpoint_url = Some("https://sqs-fips.us-east-1.amazonaws.com".into());
        assert!(!c.aws.is_development() && !c.api_docs_on());
        c.aws.endpoint_url = None;
        assert!(!c.aws.is_development());
    }

    #[test]
    fn token_issuance_outside_development_mode_needs_its_acknowledgement() {
        let mut c = ApiConfig::try_parse_from(["api"]).unwrap();
        c.aws.endpoint_url = Some("https://vpce-1.sqs.us-east-1.vpce.amazonaws.com".into());
        assert!(c.check_production().is_ok(), "off by default");
        c.token_issuance = Some(true);
        assert_eq!(c.check_production(), Err(super::SettingError::TokenIssuanceNotAcknowledged));
        assert!(c.check_production().unwrap_err().to_string().contains("TOKEN_ISSUANCE_ACKNOWLEDGED"));
        c.token_issuance_acknowledged = true;
        assert!(c.check_production().is_ok());
        c.token_issuance_acknowledged = false;
        c.aws.endpoint_url = Some("http://127.0.0.1:4566".into());
        assert!(c.check_production().is_ok(), "development mode");
    }
}
