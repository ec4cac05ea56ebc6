//! An endpoint's signing secret, as the Standard Webhooks specification shapes it: `whsec_` and
//! the base64 of random bytes. Made when an endpoint is created or rotated, shown to the merchant
//! once, then only ever stored sealed.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::TryRngCore;

pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// A new secret: `whsec_` + base64 of 32 bytes from the operating system's random source.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    // The system's random source failing is unrecoverable for a process that handles money.
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the system random number generator failed");
    format!("{SECRET_PREFIX}{}", B64.encode(bytes))
}

/// The key bytes of a `whsec_` secret; `None` if it is not one.
pub fn secret_bytes(secret: &str) -> Option<Vec<u8>> {
    B64.decode(secret.strip_prefix(SECRET_PREFIX)?).ok().filter(|b| !b.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_secrets_are_random_and_well_formed() {
        let (s1, s2) = (new_secret(), new_secret());
        assert_ne!(s1, s2);
        assert!(s1.starts_with(SECRET_PREFIX));
        assert_eq!(secret_bytes(&s1).unwrap().len(), SECRET_BYTES);
        assert_eq!(secret_bytes("not a secret"), None);
        assert_eq!(secret_bytes("whsec_"), None, "no key bytes");
    }
}
