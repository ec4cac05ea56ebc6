//! Bearer tokens already verified, remembered for a short while.
//!
//! A client sends the same token with every request until it expires, and checking its
//! signature again each time is most of what authentication costs: parsing and an HMAC for the
//! development HS256 tokens, an RS256 or ES256 verification for a provider's (`super::jwks`).
//! A token that verified is remembered, by its SHA-256 (the token itself is not kept), for at
//! most [`REMEMBER_SECS`] and never past its own `exp`. Only tokens that verified are remembered,
//! and only once their merchant was found active, so a forged token, or a valid one of an
//! unknown merchant, costs a full check every time and cannot displace anything.
//!
//! What remembering gives up: a key withdrawn from the provider's JWKS, or a previous secret
//! dropped from `JWT_OLD_SECRET_KEYS`, stops its tokens within [`REMEMBER_SECS`] instead of at
//! once; the merchant check that follows (`KnownMerchants`) is not skipped.
use sha2::{Digest, Sha256};

use super::scopes::Scopes;
use crate::domain::ids::MerchantId;
use crate::util::cache::ExpiringCache;

/// The longest a verified token is trusted without checking its signature again.
pub const REMEMBER_SECS: u64 = 60;

/// Tokens remembered at most; past it, expired ones are dropped, and if none had expired the
/// new token is simply not remembered (verified again next time).
const CAP: usize = 10_000;

/// What a token proved: its merchant, what it may do, and until when (`exp`, seconds since
/// the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub merchant: MerchantId,
    pub scopes: Scopes,
    pub expires_at_secs: u64,
}

type Digested = [u8; 32];

/// Token digest -> merchant and scopes, until the token stops being trusted (`util::cache`).
pub struct VerifiedTokens {
    tokens: ExpiringCache<Digested, (MerchantId, Scopes)>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self { tokens: ExpiringCache::new(CAP) }
    }
}

impl VerifiedTokens {
    /// The merchant and scopes of `token` if it verified before and is still trusted at `now_ms`.
    pub fn get(&self, token: &str, now_ms: u64) -> Option<(MerchantId, Scopes)> {
        self.tokens.get(&digest(token), now_ms)
    }

    /// Remembers a token that verified and names an active merchant.
    pub fn remember(&self, token: &str, verified: &Verified, now_ms: u64) {
        let until = verified.expires_at_secs.saturating_mul(1000).min(now_ms + REMEMBER_SECS * 1000);
        self.tokens.insert(digest(token), (verified.merchant.clone(), verified.scopes), now_ms, until);
    }
}

fn digest(token: &str) -> Digested {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(exp_secs: u64) -> Verified {
        Verified {
            merchant: MerchantId::parse("test@merchant").unwrap(),
            scopes: Scopes::ALL,
            expires_at_secs: exp_secs,
        }
    }

    #[test]
    fn a_verified_token_is_trusted_until_the_earlier_of_its_exp_and_the_minute() {
        let tokens = VerifiedTokens::default();
        let now = 1_000_000_000;
        tokens.remember("a", &verified(now / 1000 + 3600), now);
        assert_eq!(tokens.get("a", now + 59_999), Some((verified(0).merchant, Scopes::ALL)));
        assert_eq!(tokens.get("a", now + 60_000), None, "re-checked after REMEMBER_SECS");
        tokens.remember("b", &verified(now / 1000 + 10), now);
        assert!(tokens.get("b", now + 9_999).is_some());
        assert_eq!(tokens.get("b", now + 10_000), None, "never trusted past its exp");
        assert_eq!(tokens.get("c", now), None, "a token never verified is not known");
    }

    #[test]
    fn an_expired_token_is_not_remembered_and_a_full_cache_drops_expired_ones_first() {
        let tokens = VerifiedTokens::default();
        let now = 1_000_000_000;
        tokens.remember("old", &verified(now / 1000 - 1), now);
        assert_eq!(tokens.get("old", now), None);
        for i in 0..CAP {
            tokens.remember(&format!("t{i}"), &verified(now / 1000 + 1), now);
        }
        tokens.remember("late", &verified(now / 1000 + 3600), now);
        assert_eq!(tokens.get("late", now), None, "full of live tokens: not remembered, checked each time");
        let later = now + 2_000;
        tokens.remember("late", &verified(now / 1000 + 3600), later);
        assert!(tokens.get("late", later).is_some(), "the expired ones made room");
        assert!(tokens.tokens.len() <= CAP);
    }
}
