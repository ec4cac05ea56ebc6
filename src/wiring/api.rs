//! The API: its token verifier, its state, its settings from `ApiConfig`.
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::{StartError, Vaults, keyed, services};
use crate::config::keys::MIN_JWT_SECRET_BYTES;
use crate::config::{ApiConfig, DEV_JWT_SECRET, SecretSetting};
use crate::domain::ids::MerchantId;
use crate::http::auth::jwks::{JwksSettings, JwksVerifier};
use crate::http::auth::rate::RateLimits;
use crate::http::auth::{Auth, KnownMerchants, TokenIssuer, Verifier};
use crate::http::server::ConnLimits;
use crate::http::{AppState, Settings, Shared};
use crate::vault::HmacFingerprints;

/// The listeners' bounds on connections (both the public and the admin listener).
pub fn conn_limits(config: &ApiConfig) -> ConnLimits {
    ConnLimits {
        header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
        max_connections: usize::try_from(config.max_connections).unwrap_or(usize::MAX),
        // Twice the API's own header limit: a head up to that size gets the error envelope.
        read_buffer_bytes: usize::try_from(config.max_header_bytes.saturating_mul(2)).unwrap_or(usize::MAX),
    }
}

/// How the API verifies tokens: an identity provider's JWKS when `JWT_JWKS_URL` is set, else
/// HS256 with `JWT_SECRET_KEY` (required then, but on the emulator).
async fn verifier(config: &ApiConfig) -> Result<Verifier, StartError> {
    if let Some(url) = &config.jwt_jwks_url {
        if !jwks_url_is_safe(url) {
            return Err(StartError::JwksUrl(url.clone()));
        }
        let jwks = JwksVerifier::new(JwksSettings {
            url: url.clone(),
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            merchant_claim: config.jwt_merchant_claim.clone(),
        });
        jwks.prefetch().await;
        return Ok(Verifier::Jwks(jwks));
    }
    let setting = SecretSetting {
        name: "JWT_SECRET_KEY",
        old_name: "JWT_OLD_SECRET_KEYS",
        current: &config.jwt_secret_key,
        previous: &config.jwt_old_secret_keys,
        dev_default: DEV_JWT_SECRET,
    };
    let secret = setting.resolve_at_least(config.aws.is_development(), MIN_JWT_SECRET_BYTES)?;
    let issuer =
        TokenIssuer::new(secret.expose_secret(), &config.jwt_issuer, &config.jwt_audience, config.token_ttl_secs);
    Ok(Verifier::Hs256(issuer.also_accepting(&config.jwt_old_secret_keys)))
}

/// Keys that decide who may pay are fetched over TLS; plain http only from this machine (tests,
/// a local identity provider).
fn jwks_url_is_safe(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else { return false };
    match parsed.scheme() {
        "https" => true,
        "http" => matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        _ => false,
    }
}

/// The API's state, ready to serve. Every setting is checked before anything is reached.
pub async fn api(config: &ApiConfig) -> Result<AppState, StartError> {
    let development = config.aws.is_development();
    config.check_production()?;
    let vaults = Vaults::of(&config.vault, &config.aws, true, true)?;
    let fingerprints = keyed(&config.fingerprints.setting(), development, HmacFingerprints::new)?;
    let verifier = verifier(config).await?;
    let (services, _) = services(&config.aws, vaults).await?;
    let token_issuance = config.token_issuance_on();
    if token_issuance && !development {
        tracing::warn!(
            "TOKEN_ISSUANCE=true outside development mode: GET /token hands out tokens for any registered merchant"
        );
    }
    Ok(AppState::new(Shared {
        services,
        writes: tokio_util::task::TaskTracker::new(),
        auth: Arc::new(Auth {
            verifier,
            verified: Default::default(),
            merchants: KnownMerchants::new(Duration::from_secs(config.merchant_cache_secs)),
            limits: RateLimits::new(config.rate_limit_reads_per_sec, config.rate_limit_writes_per_sec),
        }),
        settings: Arc::new(Settings {
            default_merchant: MerchantId::parse(&config.merchant_id).map_err(|_| StartError::Merchant)?,
            token_issuance,
            request_timeout: Duration::from_millis(config.request_timeout_ms),
            max_body_bytes: config.max_body_bytes,
            max_header_bytes: usize::try_from(config.max_header_bytes).unwrap_or(usize::MAX),
            conn: conn_limits(config),
            base_url: config.base_url.clone(),
            webhook_allow_private: config.webhook_urls.allow_private(&config.aws),
            api_docs: config.api_docs_on(),
            development,
        }),
        fingerprints: Arc::new(fingerprints),
    }))
}

#[cfg(test)]
mod tests {
    use super::jwks_url_is_safe;

    #[test]
    fn the_jwks_is_fetched_over_tls_but_from_this_machine() {
        assert!(jwks_url_is_safe("https://cognito-idp.eu-west-1.amazonaws.com/pool/.well-known/jwks.json"));
        assert!(jwks_url_is_safe("http://127.0.0.1:4000/.well-known/jwks.json"));
        assert!(!jwks_url_is_safe("http://idp.example.com/.well-known/jwks.json"));
        assert!(!jwks_url_is_safe("file:///etc/jwks.json"));
        assert!(!jwks_url_is_safe("not a url"));
    }
}
