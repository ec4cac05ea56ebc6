//! Configuration, from flags or the environment (CONTRACT section 2). Every binary prints its
//! effective configuration at start, secrets masked, and `--help` lists every variable.
use clap::Args;

/// The settings every component that touches AWS shares.
#[derive(Args, Debug, Clone)]
pub struct AwsArgs {
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Set for a local emulator (e.g. http://127.0.0.1:4566); unset means real AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    #[arg(long, env = "DYNAMODB_TABLE", default_value = "payment-platform-table")]
    pub table: String,
    #[arg(long, env = "PAYMENTS_QUEUE", default_value = "payment-platform-payments")]
    pub payments_queue: String,
    #[arg(long, env = "REFUNDS_QUEUE", default_value = "payment-platform-refunds")]
    pub refunds_queue: String,
    /// Create the table and queues if missing and seed test merchants; never deletes anything.
    #[arg(long, env = "SETUP", default_value_t = false)]
    pub setup: bool,
}

impl AwsArgs {
    pub fn is_emulator(&self) -> bool {
        self.endpoint_url.is_some()
    }
}

/// The card-encryption keys, shared by the API (seals) and the workers (open).
#[derive(Args, Debug, Clone)]
pub struct VaultArgs {
    /// Base64 of 32 random bytes (`openssl rand -base64 32`). Required against real AWS.
    #[arg(long, env = "CARD_ENCRYPTION_KEY", hide_env_values = true)]
    pub card_encryption_key: Option<String>,
    /// Comma-separated previous keys, still accepted for opening during a rotation.
    #[arg(long, env = "CARD_ENCRYPTION_OLD_KEYS", hide_env_values = true, value_delimiter = ',')]
    pub card_encryption_old_keys: Vec<String>,
}

/// A fixed key for the local emulator only, so `make dev` needs no set-up.
pub const DEV_CARD_KEY: &str = "ZGV2LW9ubHktY2FyZC1rZXktbm90LWZvci1wcm9kISE=";
pub const DEV_JWT_SECRET: &str = "dev-only-jwt-secret-not-for-production";

#[derive(Debug, thiserror::Error)]
#[error("{0} must be set when running against real AWS (AWS_ENDPOINT_URL unset)")]
pub struct MissingSecret(pub &'static str);

/// The secret if given; a development default only on the emulator; an error otherwise.
pub fn secret_or_dev(value: &Option<String>, name: &'static str, dev: &str, aws: &AwsArgs) -> Result<String, MissingSecret> {
    match value {
        Some(v) if !v.is_empty() => Ok(v.clone()),
        _ if aws.is_emulator() => {
            tracing::warn!("{name} not set: using the development default (emulator only)");
            Ok(dev.to_owned())
        }
        _ => Err(MissingSecret(name)),
    }
}

pub fn mask(secret: &Option<String>) -> &'static str {
    if secret.as_deref().is_some_and(|s| !s.is_empty()) { "***" } else { "(unset)" }
}
