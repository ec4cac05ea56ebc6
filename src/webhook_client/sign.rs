//! Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")),
//! where the secret is the base64 after `whsec_`. Several signatures, space-separated, while a
//! rotated-out secret still signs; receivers accept a message if any of them verifies.
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

pub use crate::domain::webhooks::secret_bytes;

/// One `v1,` signature of a message.
pub fn sign(key: &[u8], msg_id: &str, timestamp: u64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(msg_id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("v1,{}", B64.encode(ctx.sign().as_ref()))
}

/// The `webhook-signature` header: one signature per key, in the order given.
pub fn signature_header<K: AsRef<[u8]>>(keys: &[K], msg_id: &str, timestamp: u64, body: &str) -> String {
    keys.iter().map(|k| sign(k.as_ref(), msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// Whether any `v1` signature of `header` is `key`'s over the message (compared in constant
/// time). For receivers written in Rust, such as `make dev`'s inbox.
pub fn verify(key: &[u8], msg_id: &str, timestamp: u64, body: &str, header: &str) -> bool {
    let expected = sign(key, msg_id, timestamp, body);
    header.split(' ').any(|sig| {
        sig.starts_with("v1,")
            && aws_lc_rs::constant_time::verify_slices_are_equal(sig.as_bytes(), expected.as_bytes()).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhooks::new_secret;

    #[test]
    fn the_specifications_test_vector_signs_as_published() {
        let key = secret_bytes("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = r#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            sign(&key, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_553, body),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn every_signing_key_gives_one_signature() {
        let (a, b) = (secret_bytes(&new_secret()).unwrap(), secret_bytes(&new_secret()).unwrap());
        let header = signature_header(&[&a, &b], "evt_1", 7, "{}");
        let parts: Vec<_> = header.split(' ').collect();
        assert_eq!(parts, [sign(&a, "evt_1", 7, "{}"), sign(&b, "evt_1", 7, "{}")]);
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn verification_accepts_any_of_the_signatures_and_nothing_else() {
        let (a, b) = (secret_bytes(&new_secret()).unwrap(), secret_bytes(&new_secret()).unwrap());
        let header = signature_header(&[&a, &b], "evt_1", 7, "{}");
        assert!(verify(&a, "evt_1", 7, "{}", &header) && verify(&b, "evt_1", 7, "{}", &header));
        assert!(!verify(&a, "evt_1", 8, "{}", &header), "another timestamp");
        assert!(!verify(&a, "evt_1", 7, "{ }", &header), "another body");
        assert!(!verify(&a, "evt_2", 7, "{}", &header), "another id");
        let c = secret_bytes(&new_secret()).unwrap();
        assert!(!verify(&c, "evt_1", 7, "{}", &header), "another secret");
        assert!(!verify(&a, "evt_1", 7, "{}", &header.replace("v1,", "v2,")), "another version");
    }
}
