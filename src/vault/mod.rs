//! Card data and webhook signing secrets at rest: AES-256-GCM (aws-lc-rs), each under a key of
//! its own (`CARD_ENCRYPTION_KEY`, `WEBHOOK_SECRET_KEY`), bound to the payment or endpoint id as
//! associated data so a sealed card copied onto another payment does not open. Sealed form: `v1.<key id>.<base64>`,
//! where the key id (first 8 hex digits of the key's SHA-256) lets old keys keep opening what
//! they sealed while a new key seals from now on (key rotation).
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::SecretString;

use crate::domain::card::{CardDetails, SealedCard};
use crate::domain::ids::PaymentId;
use crate::domain::ports::{CardVault, SecretVault, VaultError};

mod fingerprint;
pub use fingerprint::HmacFingerprints;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("an encryption key must be 32 bytes, base64-encoded")]
    Invalid,
}

/// What a process without a key gets: nothing seals or opens. The refund-worker holds no key,
/// the webhook-worker no card key, the payment-worker no webhook-secret key.
pub struct NoKey;

impl CardVault for NoKey {
    fn seal(&self, _: &CardDetails, _: PaymentId) -> Result<SealedCard, VaultError> {
        Err(VaultError)
    }

    fn open(&self, _: &SealedCard, _: PaymentId) -> Result<CardDetails, VaultError> {
        Err(VaultError)
    }
}

impl SecretVault for NoKey {
    fn seal_secret(&self, _: &str, _: &str) -> Result<String, VaultError> {
        Err(VaultError)
    }

    fn open_secret(&self, _: &str, _: &str) -> Result<String, VaultError> {
        Err(VaultError)
    }
}

struct Key {
    id: String,
    aead: LessSafeKey,
}

/// The 32 bytes of a key given as base64 (both the vaults' and the fingerprints').
fn key_bytes(b64: &str) -> Result<Vec<u8>, KeyError> {
    let bytes = B64.decode(b64.trim()).map_err(|_| KeyError::Invalid)?;
    if bytes.len() != 32 {
        return Err(KeyError::Invalid);
    }
    Ok(bytes)
}

impl Key {
    fn from_base64(b64: &str) -> Result<Self, KeyError> {
        let bytes = key_bytes(b64)?;
        let id = crate::util::sha256_hex(&[&bytes])[..8].to_owned();
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KeyError::Invalid)?;
        Ok(Self { id, aead: LessSafeKey::new(unbound) })
    }
}

/// Seals with the current key; opens with the current or any previous key.
pub struct AeadVault {
    current: Key,
    previous: Vec<Key>,
    rng: SystemRandom,
}

impl AeadVault {
    /// `current` and each of `previous` are base64 of 32 random bytes.
    pub fn new(current: &str, previous: &[SecretString]) -> Result<Self, KeyError> {
        Ok(Self {
            current: Key::from_base64(current)?,
            previous: crate::util::present_secrets(previous).map(Key::from_base64).collect::<Result<_, _>>()?,
            rng: SystemRandom::new(),
        })
    }

    fn key(&self, id: &str) -> Option<&Key> {
        std::iter::once(&self.current).chain(&self.previous).find(|k| k.id == id)
    }
}

impl AeadVault {
    /// `v1.<key id>.<base64(nonce | ciphertext | tag)>` of `plain`, bound to `owner`.
    fn seal_bytes(&self, mut buf: Vec<u8>, owner: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        // The system RNG failing is unrecoverable for a process that handles money.
        self.rng.fill(&mut nonce).expect("system random number generator failed");
        self.current
            .aead
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(owner.as_bytes()), &mut buf)
            .expect("AES-GCM sealing of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!("v1.{}.{}", self.current.id, B64.encode(out))
    }

    /// What `seal_bytes` sealed for `owner`, with whichever key sealed it.
    fn open_bytes(&self, sealed: &str, owner: &str) -> Result<Vec<u8>, VaultError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(VaultError);
        };
        let key = self.key(id).ok_or(VaultError)?;
        let raw = B64.decode(body).map_err(|_| VaultError)?;
        if raw.len() < NONCE_LEN {
            return Err(VaultError);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError)?;
        let mut buf = ciphertext.to_vec();
        let plain = key.aead.open_in_place(nonce, Aad::from(owner.as_bytes()), &mut buf).map_err(|_| VaultError)?;
        Ok(plain.to_vec())
    }
}

impl CardVault for AeadVault {
    fn seal(&self, card: &CardDetails, payment: PaymentId) -> Result<SealedCard, VaultError> {
        let plain = serde_json::to_vec(card).map_err(|_| VaultError)?;
        Ok(SealedCard(self.seal_bytes(plain, &payment.to_string())))
    }

    fn open(&self, sealed: &SealedCard, payment: PaymentId) -> Result<CardDetails, VaultError> {
        let plain = self.open_bytes(&sealed.0, &payment.to_string())?;
        serde_json::from_slice(&plain).map_err(|_| VaultError)
    }
}

impl SecretVault for AeadVault {
    fn seal_secret(&self, secret: &str, owner: &str) -> Result<String, VaultError> {
        // A different associated data space from card data: a sealed secret never opens as a
        // card, even under a key that was given to both by mistake.
        Ok(self.seal_bytes(secret.as_bytes().to_vec(), &format!("secret:{owner}")))
    }

    fn open_secret(&self, sealed: &str, owner: &str) -> Result<String, VaultError> {
        String::from_utf8(self.open_bytes(sealed, &format!("secret:{owner}"))?).map_err(|_| VaultError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card::Expiry;

    const K1: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const K2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

    fn card() -> CardDetails {
        CardDetails::new("4000000000009995".into(), "1234".into(), Expiry::parse("12/30", (2026, 1)).unwrap())
    }

    #[test]
    fn sealed_card_opens_only_for_its_payment_and_hides_the_number() {
        let vault = AeadVault::new(K1, &[]).unwrap();
        let id = PaymentId::new();
        let sealed = vault.seal(&card(), id).unwrap();
        assert!(!sealed.0.contains("4000000000009995") && !sealed.0.contains("1234"));
        assert_eq!(vault.open(&sealed, id), Ok(card()));
        assert_eq!(vault.open(&sealed, PaymentId::new()), Err(VaultError));
    }

    #[test]
    fn tampering_is_detected() {
        let vault = AeadVault::new(K1, &[]).unwrap();
        let id = PaymentId::new();
        let mut sealed = vault.seal(&card(), id).unwrap();
        let last = sealed.0.pop().unwrap();
        sealed.0.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(vault.open(&sealed, id), Err(VaultError));
    }

    #[test]
    fn rotated_keys_still_open_what_they_sealed() {
        let id = PaymentId::new();
        let old = AeadVault::new(K1, &[]).unwrap().seal(&card(), id).unwrap();
        let rotated = AeadVault::new(K2, &[K1.into()]).unwrap();
        assert_eq!(rotated.open(&old, id), Ok(card()));
        assert!(AeadVault::new(K2, &[]).unwrap().open(&old, id).is_err());
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_owner() {
        let vault = AeadVault::new(K1, &[]).unwrap();
        let sealed = vault.seal_secret("whsec_abc", "we_1").unwrap();
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(vault.open_secret(&sealed, "we_1").as_deref(), Ok("whsec_abc"));
        assert_eq!(vault.open_secret(&sealed, "we_2"), Err(VaultError));
    }

    #[test]
    fn a_process_without_a_key_opens_nothing() {
        let id = PaymentId::new();
        let sealed = AeadVault::new(K1, &[]).unwrap().seal(&card(), id).unwrap();
        assert_eq!(CardVault::open(&NoKey, &sealed, id), Err(VaultError));
        assert!(NoKey.seal(&card(), id).is_err());
        assert!(NoKey.open_secret("v1.x.y", "we_1").is_err());
    }

    #[test]
    fn keys_of_the_wrong_size_are_refused() {
        assert!(AeadVault::new("c2hvcnQ=", &[]).is_err());
        assert!(AeadVault::new("not base64!", &[]).is_err());
    }
}
