//! Keyed fingerprints of idempotent requests (`IDEMPOTENCY_FINGERPRINT_KEY`): HMAC-SHA256, so a
//! stored fingerprint of a request that carried a card number cannot be brute-forced back to it
//! (an unkeyed hash of a 16-digit number with its last four and BIN known is a few minutes of
//! guessing). Form: `hmac-sha256.<key id>.<hex>`; the key id lets fingerprints stored under a
//! previous key still match during a rotation.
use aws_lc_rs::hmac;
use secrecy::SecretString;

use super::{KeyError, key_bytes};
use crate::domain::idempotency::Fingerprints;

struct Key {
    id: String,
    hmac: hmac::Key,
}

impl Key {
    fn from_base64(b64: &str) -> Result<Self, KeyError> {
        let bytes = key_bytes(b64)?;
        let id = crate::util::sha256_hex(&[b"fingerprint-key-id", &bytes])[..8].to_owned();
        Ok(Self { id, hmac: hmac::Key::new(hmac::HMAC_SHA256, &bytes) })
    }

    fn fingerprint(&self, canonical: &[u8]) -> String {
        format!("hmac-sha256.{}.{}", self.id, crate::util::hex(hmac::sign(&self.hmac, canonical).as_ref()))
    }
}

/// The current key fingerprints; previous keys only match what they fingerprinted.
pub struct HmacFingerprints {
    current: Key,
    previous: Vec<Key>,
}

impl HmacFingerprints {
    /// `current` and each of `previous` are base64 of 32 random bytes.
    pub fn new(current: &str, previous: &[SecretString]) -> Result<Self, KeyError> {
        let previous = crate::util::present_secrets(previous).map(Key::from_base64).collect::<Result<_, _>>()?;
        Ok(Self { current: Key::from_base64(current)?, previous })
    }
}

impl Fingerprints for HmacFingerprints {
    fn fingerprints(&self, canonical: &[u8]) -> (String, Vec<String>) {
        (self.current.fingerprint(canonical), self.previous.iter().map(|k| k.fingerprint(canonical)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const K2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

    #[test]
    fn a_fingerprint_is_keyed_and_names_its_key() {
        let (a, _) = HmacFingerprints::new(K1, &[]).unwrap().fingerprints(b"POST /payments\n{}");
        let (b, _) = HmacFingerprints::new(K2, &[]).unwrap().fingerprints(b"POST /payments\n{}");
        assert_ne!(a, b, "another key, another fingerprint");
        assert!(a.starts_with("hmac-sha256.") && a.len() == "hmac-sha256.".len() + 8 + 1 + 64, "{a}");
        assert_ne!(a.rsplit('.').next().unwrap(), crate::util::sha256_hex(&[b"POST /payments\n{}"]));
    }

    #[test]
    fn during_a_rotation_the_previous_key_still_matches() {
        let (old, _) = HmacFingerprints::new(K1, &[]).unwrap().fingerprints(b"x");
        let (new, also) = HmacFingerprints::new(K2, &[K1.into()]).unwrap().fingerprints(b"x");
        assert_ne!(new, old);
        assert_eq!(also, vec![old]);
        assert!(HmacFingerprints::new("c2hvcnQ=", &[]).is_err());
    }
}
