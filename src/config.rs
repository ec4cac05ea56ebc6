//! Configuration, from flags or the environment (README, "Configuration"). Every binary prints its
//! effective configuration at start, secrets masked, and `--help` lists every variable.
use clap::Args;
use secrecy::{ExposeSecret, SecretString};

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
    /// The webhook-worker's queue: every change of a payment is announced on it.
    #[arg(long, env = "WEBHOOKS_QUEUE", default_value = "payment-platform-webhooks")]
    pub webhooks_queue: String,
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
    #[arg(long, env = "CARD_ENCRYPTION_KEY", hide_env_values = true, value_parser = secret)]
    pub card_encryption_key: Option<SecretString>,
    /// Comma-separated previous keys, still accepted for opening during a rotation.
    #[arg(long, env = "CARD_ENCRYPTION_OLD_KEYS", hide_env_values = true, value_delimiter = ',', value_parser = secret)]
    pub card_encryption_old_keys: Vec<SecretString>,
}

/// Whether webhook endpoints may be plain http or private addresses (API and webhook worker).
#[derive(Args, Debug, Clone)]
pub struct WebhookUrlArgs {
    /// Accept and deliver to http URLs and loopback or private addresses. Default: true on the
    /// emulator (`make dev`), false against real AWS, where only https to public addresses goes.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_URLS", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub webhook_allow_private_urls: Option<bool>,
}

impl WebhookUrlArgs {
    pub fn allow_private(&self, aws: &AwsArgs) -> bool {
        self.webhook_allow_private_urls.unwrap_or_else(|| aws.is_emulator())
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
        }
    }
}

/// A fixed key for the local emulator only, so `make dev` needs no set-up.
pub const DEV_CARD_KEY: &str = "ZGV2LW9ubHktY2FyZC1rZXktbm90LWZvci1wcm9kISE=";
pub const DEV_JWT_SECRET: &str = "dev-only-jwt-secret-not-for-production";

#[derive(Debug, thiserror::Error)]
#[error("{0} must be set when running against real AWS (AWS_ENDPOINT_URL unset)")]
pub struct MissingSecret(pub &'static str);

/// The secret if given; a development default only on the emulator; an error otherwise.
pub fn secret_or_dev(
    value: &Option<SecretString>,
    name: &'static str,
    dev: &str,
    aws: &AwsArgs,
) -> Result<SecretString, MissingSecret> {
    match value {
        Some(v) if !v.expose_secret().is_empty() => Ok(v.clone()),
        _ if aws.is_emulator() => {
            tracing::warn!("{name} not set: using the development default (emulator only)");
            Ok(SecretString::from(dev))
        }
        _ => Err(MissingSecret(name)),
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
    pub webhook_urls: WebhookUrlArgs,
    #[arg(long, env = "HTTP_HOST", default_value = "127.0.0.1")]
    pub http_host: std::net::IpAddr,
    #[arg(long, env = "HTTP_PORT", default_value_t = 4444)]
    pub http_port: u16,
    /// The public URL of the API, as clients reach it (for logs and docs).
    #[arg(long, env = "BASE_URL", default_value = "http://localhost:4444")]
    pub base_url: String,
    /// HS256 secret for bearer tokens. Required against real AWS.
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
    /// Serve `GET /token` (development token issuance). Unset: only on the emulator
    /// (`AWS_ENDPOINT_URL` set) and only for HS256 tokens (no `JWT_JWKS_URL`).
    #[arg(long, env = "TOKEN_ISSUANCE", action = clap::ArgAction::Set)]
    pub token_issuance: Option<bool>,
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
        self.jwt_jwks_url.is_none() && self.token_issuance.unwrap_or_else(|| self.aws.is_emulator())
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
    }
}
