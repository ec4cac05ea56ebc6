//! The API's configuration (`api --help`).
use secrecy::SecretString;

use super::{AwsArgs, FingerprintArgs, SettingError, VaultArgs, WebhookUrlArgs, mask, secret};

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
    /// The claim naming the merchant (`client_id` for Cognito's client-credentials tokens), or
    /// several, comma-separated, of which the first the token carries counts
    /// (`merchant_id,client_id`: staff signed in to the dashboard, and machines).
    #[arg(long, env = "JWT_MERCHANT_CLAIM", default_value = "sub")]
    pub jwt_merchant_claim: String,
    /// Reads (GET and HEAD) per second per merchant and API replica, burst of one second's worth; 0 = no limit.
    #[arg(long, env = "RATE_LIMIT_READS_PER_SEC", default_value_t = 300)]
    pub rate_limit_reads_per_sec: u32,
    /// Writes (every other method) per second per merchant and API replica, burst of one second's worth; 0 = no limit.
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
            runtime_worker_threads = super::runtime_worker_threads(),
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
