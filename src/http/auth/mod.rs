//! Bearer tokens, then who may use them.
//!
//! Verification is one of two: with `JWT_JWKS_URL`, tokens of an identity provider checked
//! against its keys (`jwks`); otherwise, for local development, HS256 JWTs naming the
//! merchant in `sub`, signed with `JWT_SECRET_KEY` (the algorithm pinned, so `alg: none` or RS/HS
//! confusion is refused; exp, nbf, iss, aud and sub required; during a rotation tokens of a
//! previous secret, `JWT_OLD_SECRET_KEYS`, are still accepted).
//!
//! A valid token must then name a registered, enabled merchant (a cached lookup, see
//! `KnownMerchants`), and the merchant must be within its rate limit (`rate`).
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub mod jwks;
pub mod rate;
pub mod scopes;
pub mod verified;

use jwks::JwksVerifier;
use rate::RateLimits;
use scopes::{Scope, Scopes};
use verified::{Verified, VerifiedTokens};

use crate::app::Services;
use crate::domain::ids::MerchantId;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::util::cache::ExpiringCache;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    /// Space-separated scopes; absent: every scope (`super::scopes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

pub struct TokenIssuer {
    encoding: EncodingKey,
    /// The current secret first, then the previous ones still accepted.
    decoding: Vec<DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: u64,
}

/// A freshly issued token.
pub struct Issued {
    pub token: String,
    pub expires_at_ms: u64,
}

impl TokenIssuer {
    pub fn new(secret: &str, issuer: &str, audience: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: vec![DecodingKey::from_secret(secret.as_bytes())],
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
        }
    }

    /// Also accepts tokens signed with any of `previous` (never signs with them). Empty entries
    /// (`JWT_OLD_SECRET_KEYS=` set but blank) are skipped: an empty HMAC key would accept tokens
    /// anyone can sign.
    pub fn also_accepting(mut self, previous: &[SecretString]) -> Self {
        self.decoding.extend(crate::util::present_secrets(previous).map(|s| DecodingKey::from_secret(s.as_bytes())));
        self
    }

    /// A token for `merchant` granting `scopes`.
    pub fn issue(&self, merchant: &MerchantId, scopes: Scopes, now_ms: u64) -> Issued {
        let now = now_ms / 1000;
        let claims = Claims {
            sub: merchant.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.ttl_secs,
            scope: Some(scopes.claim()),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing cannot fail");
        Issued { token, expires_at_ms: (now + self.ttl_secs) * 1000 }
    }

    pub fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        let data = self
            .decoding
            .iter()
            .find_map(|key| decode::<Claims>(token, key, &self.validation).ok())
            .ok_or(ApiError::Unauthorized)?;
        let merchant = MerchantId::parse(&data.claims.sub).map_err(|_| ApiError::Unauthorized)?;
        let scopes = data.claims.scope.as_deref().map_or(Scopes::ALL, Scopes::parse);
        Ok(Verified { merchant, scopes, expires_at_secs: data.claims.exp })
    }
}

/// How tokens are verified: one way per deployment, never both.
pub enum Verifier {
    /// Local development: HS256 with a shared secret; `GET /token` can issue them.
    Hs256(TokenIssuer),
    /// Production: an identity provider's RS256/ES256 tokens (`JWT_JWKS_URL`).
    Jwks(JwksVerifier),
}

impl Verifier {
    pub async fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        match self {
            Self::Hs256(issuer) => issuer.verify(token),
            Self::Jwks(jwks) => jwks.verify(token).await,
        }
    }
}

/// Whether a merchant is registered and enabled, remembered for `ttl` (both answers), so a
/// token costs no database read per request; a merchant disabled in the table is refused
/// within `ttl` on every replica. When a busy merchant's answer expires, one of its requests
/// reads it; the others wait (`util::cache`).
pub struct KnownMerchants {
    ttl_ms: u64,
    seen: ExpiringCache<MerchantId, bool>,
}

/// Merchants remembered at most.
const KNOWN_MERCHANTS_CAP: usize = 10_000;

impl KnownMerchants {
    pub fn new(ttl: Duration) -> Self {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Self { ttl_ms, seen: ExpiringCache::new(KNOWN_MERCHANTS_CAP) }
    }

    pub async fn is_active(&self, services: &Services, merchant: &MerchantId) -> Result<bool, ApiError> {
        let ttl = self.ttl_ms;
        let read = |now: u64| async move {
            Ok::<_, ApiError>((services.is_merchant(merchant).await?, now.saturating_add(ttl)))
        };
        self.seen.get_or_load(merchant, crate::util::now_ms, read).await
    }
}

/// Everything a request's identity goes through.
pub struct Auth {
    pub verifier: Verifier,
    /// Tokens that verified in the last minute, so a client's every request is not a new
    /// signature check (`super::verified`).
    pub verified: VerifiedTokens,
    pub merchants: KnownMerchants,
    pub limits: RateLimits,
}

impl Auth {
    /// The active merchant a valid token names, and what the token may do. A token that
    /// verified lately is not verified again; the merchant is checked every time
    /// (`KnownMerchants` caches that on its own).
    async fn merchant_of(&self, services: &Services, token: &str) -> Result<(MerchantId, Scopes), ApiError> {
        let now = crate::util::now_ms();
        let (merchant, scopes, fresh) = match self.verified.get(token, now) {
            Some((merchant, scopes)) => (merchant, scopes, None),
            None => {
                let verified = self.verifier.verify(token).await?;
                (verified.merchant.clone(), verified.scopes, Some(verified))
            }
        };
        if !self.merchants.is_active(services, &merchant).await? {
            return Err(ApiError::Unauthorized);
        }
        if let Some(verified) = fresh {
            self.verified.remember(token, &verified, now);
        }
        Ok((merchant, scopes))
    }
}

/// The authenticated merchant of a request: a valid token, a registered merchant, the scope the
/// route needs (`super::scopes`), within its rate limit (reads for GET and HEAD, writes otherwise).
pub struct Merchant(pub MerchantId);

impl FromRequestParts<AppState> for Merchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(ApiError::Unauthorized)?;
        let (scheme, token) = header.split_once(' ').ok_or(ApiError::Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::Unauthorized);
        }
        let auth = &state.auth;
        let (merchant, scopes) = auth.merchant_of(&state.services, token.trim()).await?;
        let needed = Scope::required(&parts.method, parts.uri.path());
        if !scopes.allows(needed) {
            return Err(ApiError::InsufficientScope(needed));
        }
        let write = !matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
        auth.limits.check(&merchant, write)?;
        Ok(Merchant(merchant))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::util::now_ms;

    /// Every merchant registered; counts the reads.
    #[derive(Default)]
    struct CountedMerchants(AtomicUsize);

    #[async_trait::async_trait]
    impl crate::domain::ports::Merchants for CountedMerchants {
        async fn merchant_exists(&self, _: &MerchantId) -> Result<bool, crate::domain::ports::StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Ok(true)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_of_a_merchant_not_yet_known_share_one_read() {
        let reads = Arc::new(CountedMerchants::default());
        let mut services = crate::testing::World::new().services;
        services.store.merchants = reads.clone();
        let (services, known) = (Arc::new(services), Arc::new(KnownMerchants::new(Duration::from_secs(60))));
        let m = MerchantId::parse("test@merchant").unwrap();
        let checks: Vec<_> = (0..50)
            .map(|_| {
                let (services, known, m) = (Arc::clone(&services), Arc::clone(&known), m.clone());
                tokio::spawn(async move { known.is_active(&services, &m).await.unwrap() })
            })
            .collect();
        for c in checks {
            assert!(c.await.unwrap());
        }
        assert_eq!(reads.0.load(Ordering::SeqCst), 1);
    }

    fn issuer() -> TokenIssuer {
        TokenIssuer::new("secret", "payment-platform", "payment-platform-api", 3600)
    }

    #[test]
    fn issued_tokens_verify_to_their_merchant() {
        let m = MerchantId::parse("test@merchant").unwrap();
        let t = issuer().issue(&m, Scopes::ALL, now_ms());
        assert_eq!(issuer().verify(&t.token).unwrap().merchant, m);
    }

    #[test]
    fn other_secrets_audiences_and_expired_tokens_are_refused() {
        let m = MerchantId::parse("test@merchant").unwrap();
        let t = issuer().issue(&m, Scopes::ALL, now_ms());
        assert!(TokenIssuer::new("other", "payment-platform", "payment-platform-api", 60).verify(&t.token).is_err());
        assert!(TokenIssuer::new("secret", "payment-platform", "elsewhere", 60).verify(&t.token).is_err());
        let old = issuer().issue(&m, Scopes::ALL, now_ms() - 2 * 3600 * 1000);
        assert!(issuer().verify(&old.token).is_err());
    }

    #[test]
    fn during_a_rotation_tokens_of_the_previous_secret_still_verify() {
        let m = MerchantId::parse("test@merchant").unwrap();
        let before = issuer().issue(&m, Scopes::ALL, now_ms());
        let rotated = TokenIssuer::new("new-secret", "payment-platform", "payment-platform-api", 3600)
            .also_accepting(&["secret".into()]);
        assert_eq!(rotated.verify(&before.token).unwrap().merchant, m, "a token of the previous secret");
        let after = rotated.issue(&m, Scopes::ALL, now_ms());
        assert_eq!(rotated.verify(&after.token).unwrap().merchant, m);
        assert!(issuer().verify(&after.token).is_err(), "new tokens are signed with the new secret");
        let expired = issuer().issue(&m, Scopes::ALL, now_ms() - 2 * 3600 * 1000);
        assert!(rotated.verify(&expired.token).is_err(), "a previous secret does not lift the other checks");
        let stranger =
            TokenIssuer::new("other", "payment-platform", "payment-platform-api", 60).issue(&m, Scopes::ALL, now_ms());
        assert!(rotated.verify(&stranger.token).is_err());
        let blank = issuer().also_accepting(&["".into(), " ".into()]);
        let unsigned =
            TokenIssuer::new("", "payment-platform", "payment-platform-api", 60).issue(&m, Scopes::ALL, now_ms());
        assert!(blank.verify(&unsigned.token).is_err(), "a blank previous secret accepts nothing");
    }
}
