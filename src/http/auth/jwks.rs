//! Tokens from an identity provider (Cognito, Auth0, Keycloak...): RS256 or ES256 JWTs checked
//! against the provider's JWKS by `kid`.
//!
//! - The key set is cached. A token naming a `kid` the cache lacks triggers one refresh, at most
//!   once a minute (so a flood of forged `kid`s cannot hammer the provider), and so does a cache
//!   older than ten minutes (so a withdrawn key stops being trusted); a failed refresh, or one
//!   that brings no usable key, keeps the cached keys, so a provider outage fails no request
//!   whose key is known.
//! - The algorithm comes from the key, never from the token: an RSA key verifies RS256 only, a
//!   P-256 key ES256 only. A token whose header says otherwise (`none`, HS256 signed with the
//!   public key as its secret, ...) is refused before any signature check.
//! - `iss` and `exp` are required, `aud` too when `JWT_AUDIENCE` is set, `nbf` is checked when
//!   present; the merchant is the claim `JWT_MERCHANT_CLAIM` names.
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::scopes::Scopes;
use super::verified::Verified;
use crate::domain::ids::MerchantId;
use crate::http::error::ApiError;

/// The shortest time between two fetches of the key set.
pub const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// Past this age the key set is fetched again on the next token, so a key the provider
/// withdrew (a compromise) stops being trusted within minutes, without a restart.
pub const MAX_AGE: Duration = Duration::from_secs(600);

pub struct JwksSettings {
    pub url: String,
    pub issuer: String,
    /// Empty: `aud` is not checked (Cognito's access tokens carry none; see docs/OPERATIONS.md).
    pub audience: String,
    pub merchant_claim: String,
}

/// The keys last fetched, by `kid`, and when.
#[derive(Default)]
struct Cached {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    fetched_at: Option<Instant>,
}

pub struct JwksVerifier {
    settings: JwksSettings,
    http: reqwest::Client,
    cache: RwLock<Cached>,
    /// When the last refresh for an unknown `kid` was attempted; held while fetching, so
    /// refreshes never overlap.
    last_fetch: Mutex<Option<Instant>>,
}

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the JWKS could not be fetched: {0}")]
    Fetch(String),
    #[error("the JWKS is not a valid key set")]
    Invalid,
}

impl JwksVerifier {
    pub fn new(settings: JwksSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a plain HTTP client builds");
        Self { settings, http, cache: RwLock::new(Cached::default()), last_fetch: Mutex::new(None) }
    }

    /// Fetches the key set now (at start: a failure is logged, and the first token retries).
    /// It does not count against the once-a-minute budget of refreshes for unknown `kid`s.
    pub async fn prefetch(&self) {
        if let Err(e) = self.fetch().await {
            tracing::warn!(error = %e, "JWKS not fetched at start; tokens will retry");
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        let header = decode_header(token).map_err(|_| ApiError::Unauthorized)?;
        let kid = header.kid.ok_or(ApiError::Unauthorized)?;
        if self.stale() {
            self.refresh_if_due().await;
        }
        let (key, alg) = match self.key(&kid) {
            Some(found) => found,
            None => {
                self.refresh_if_due().await;
                self.key(&kid).ok_or(ApiError::Unauthorized)?
            }
        };
        if header.alg != alg {
            return Err(ApiError::Unauthorized);
        }
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.settings.issuer]);
        let mut required = vec!["exp", "iss"];
        if self.settings.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&[&self.settings.audience]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        validation.validate_nbf = true;
        validation.leeway = 5;
        let data = decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(|_| ApiError::Unauthorized)?;
        // The first of the configured claims the token carries names the merchant (a staff user's
        // token carries `merchant_id`, a merchant's machine token only `client_id`); one present
        // but not a merchant id is refused, never passed over for the next.
        let claims = self.settings.merchant_claim.split(',').map(str::trim).filter(|c| !c.is_empty());
        let merchant = claims.into_iter().find_map(|c| data.claims.get(c)).and_then(|v| v.as_str());
        let merchant = merchant.and_then(|m| MerchantId::parse(m).ok()).ok_or(ApiError::Unauthorized)?;
        // Required above, and a number once it validated (jsonwebtoken takes a fractional one too).
        let exp = data.claims.get("exp").and_then(serde_json::Value::as_f64).ok_or(ApiError::Unauthorized)?;
        // `as` saturates: a negative or NaN exp could not have validated, and an enormous one is
        // capped by `verified::REMEMBER_SECS` anyway.
        let expires_at_secs = exp.floor() as u64;
        // A provider's token may do only what its `scope` claim grants (`super::scopes`).
        let scopes = data.claims.get("scope").and_then(|v| v.as_str()).map_or(Scopes::NONE, Scopes::parse);
        Ok(Verified { merchant, scopes, expires_at_secs })
    }

    fn stale(&self) -> bool {
        self.cached().fetched_at.is_some_and(|at| at.elapsed() > MAX_AGE)
    }

    fn key(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        self.cached().keys.get(kid).cloned()
    }

    fn cached(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn refresh_if_due(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < REFRESH_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(e) = self.fetch().await {
            tracing::warn!(error = %e, "JWKS refresh failed; keeping the cached keys");
        }
    }

    async fn fetch(&self) -> Result<(), JwksError> {
        let resp = self.http.get(&self.settings.url).send().await.map_err(|e| JwksError::Fetch(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(JwksError::Fetch(format!("status {}", resp.status().as_u16())));
        }
        let set: JwkSet = resp.json().await.map_err(|_| JwksError::Invalid)?;
        let keys = usable_keys(&set);
        if keys.is_empty() {
            // A provider always publishes its signing keys: an empty set is a fault, not a
            // revocation of every key, and is not taken.
            return Err(JwksError::Invalid);
        }
        tracing::info!(keys = keys.len(), "JWKS fetched");
        *self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Cached { keys, fetched_at: Some(Instant::now()) };
        Ok(())
    }
}

/// The keys of `set` this API verifies with, by `kid`: RSA (RS256) and P-256 (ES256). Keys
/// without a `kid`, of other types, for encryption, or whose declared `alg` disagrees are left out.
fn usable_keys(set: &JwkSet) -> HashMap<String, (DecodingKey, Algorithm)> {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                return None;
            }
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
                _ => return None,
            };
            let declared = jwk.common.key_algorithm.map(|a| format!("{a:?}"));
            if declared.is_some_and(|d| d != format!("{alg:?}")) {
                return None;
            }
            Some((kid, (DecodingKey::from_jwk(jwk).ok()?, alg)))
        })
        .collect()
}
