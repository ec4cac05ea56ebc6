//! Bearer tokens: HS256 JWTs naming the merchant in `sub`. Verification pins the algorithm
//! (so `alg: none` or RS/HS confusion is refused) and requires exp, nbf, iss, aud and sub.
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::domain::ids::MerchantId;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: u64,
    nbf: u64,
    exp: u64,
}

pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
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
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
        }
    }

    pub fn issue(&self, merchant: &MerchantId, now_ms: u64) -> Issued {
        let now = now_ms / 1000;
        let claims = Claims {
            sub: merchant.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.ttl_secs,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing cannot fail");
        Issued { token, expires_at_ms: (now + self.ttl_secs) * 1000 }
    }

    pub fn verify(&self, token: &str) -> Result<MerchantId, ApiError> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| ApiError::Unauthorized)?;
        MerchantId::parse(&data.claims.sub).map_err(|_| ApiError::Unauthorized)
    }
}

/// The authenticated merchant of a request.
pub struct Merchant(pub MerchantId);

impl FromRequestParts<AppState> for Merchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(ApiError::Unauthorized)?;
        let (scheme, token) = header.split_once(' ').ok_or(ApiError::Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::Unauthorized);
        }
        state.tokens.verify(token.trim()).map(Merchant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new("secret", "payment-platform", "payment-platform-api", 3600)
    }

    fn now_ms() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
    }

    #[test]
    fn issued_tokens_verify_to_their_merchant() {
        let m = MerchantId::parse("test@merchant").unwrap();
        let t = issuer().issue(&m, now_ms());
        assert_eq!(issuer().verify(&t.token).unwrap(), m);
    }

    #[test]
    fn other_secrets_audiences_and_expired_tokens_are_refused() {
        let m = MerchantId::parse("test@merchant").unwrap();
        let t = issuer().issue(&m, now_ms());
        assert!(TokenIssuer::new("other", "payment-platform", "payment-platform-api", 60).verify(&t.token).is_err());
        assert!(TokenIssuer::new("secret", "payment-platform", "elsewhere", 60).verify(&t.token).is_err());
        let old = issuer().issue(&m, now_ms() - 2 * 3600 * 1000);
        assert!(issuer().verify(&old.token).is_err());
    }
}
