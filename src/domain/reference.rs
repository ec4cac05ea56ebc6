//! What the merchant attaches to its payments and refunds to find them again: its own reference
//! (an order id, not unique) and metadata (a few short key-value pairs). Both are shown on the
//! resource, in its events and webhooks; neither may hold card data (the API cannot tell, the
//! README asks merchants not to).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The merchant's own reference for a payment: 1 to 128 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MerchantReference(String);

pub const MAX_REFERENCE_CHARS: usize = 128;
pub const MAX_METADATA_KEYS: usize = 20;
pub const MAX_METADATA_KEY_CHARS: usize = 40;
pub const MAX_METADATA_VALUE_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("must be 1 to 128 printable characters")]
    Reference,
    #[error("may have at most 20 keys")]
    TooManyKeys,
    #[error("keys must be 1 to 40 printable characters")]
    Key,
    #[error("values must be at most 500 printable characters")]
    Value,
    #[error("a refund's metadata may hold at most 1024 bytes, keys and values together")]
    TooLarge,
}

/// No control characters, and none of the invisible ones that make text read other than it is
/// (zero-width, bidirectional overrides, line and paragraph separators, the byte-order mark).
fn printable(s: &str) -> bool {
    !s.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
    })
}

/// A refund's metadata, keys and values together, in UTF-8 bytes at most: every event of a
/// payment carries the payment with all its refunds (up to 100), and a DynamoDB item holds
/// 400 KB, so a refund's share must stay small for the change that settles it to be written.
pub const MAX_REFUND_METADATA_BYTES: usize = 1024;

impl MerchantReference {
    pub fn parse(raw: &str) -> Result<Self, ReferenceError> {
        let n = raw.chars().count();
        if n == 0 || n > MAX_REFERENCE_CHARS || !printable(raw) || raw.trim().is_empty() {
            return Err(ReferenceError::Reference);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most 20 keys of 1 to 40 printable characters, each with a string of at most 500.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    pub fn parse(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ReferenceError> {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            let key_len = k.chars().count();
            if k.trim().is_empty() || key_len > MAX_METADATA_KEY_CHARS || !printable(&k) {
                return Err(ReferenceError::Key);
            }
            if v.chars().count() > MAX_METADATA_VALUE_CHARS || !printable(&v) {
                return Err(ReferenceError::Value);
            }
            map.insert(k, v);
            if map.len() > MAX_METADATA_KEYS {
                return Err(ReferenceError::TooManyKeys);
            }
        }
        Ok(Self(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As `parse`, for a refund: also at most `MAX_REFUND_METADATA_BYTES` in all.
    pub fn parse_for_refund(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ReferenceError> {
        let m = Self::parse(pairs)?;
        let bytes: usize = m.0.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > MAX_REFUND_METADATA_BYTES {
            return Err(ReferenceError::TooLarge);
        }
        Ok(m)
    }

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// A payment's reference and metadata, as the merchant gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    pub merchant_reference: Option<MerchantReference>,
    pub metadata: Metadata,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_one_to_128_printable_characters() {
        assert!(MerchantReference::parse("order-1").is_ok());
        assert!(MerchantReference::parse(&"é".repeat(128)).is_ok());
        for bad in ["", "   ", "a\nb", &"x".repeat(129)] {
            assert_eq!(MerchantReference::parse(bad), Err(ReferenceError::Reference), "{bad:?}");
        }
    }

    #[test]
    fn metadata_is_bounded_in_keys_and_lengths() {
        let pairs = |n: usize| (0..n).map(|i| (format!("k{i}"), "v".to_owned())).collect::<Vec<_>>();
        assert_eq!(Metadata::parse(pairs(20)).unwrap().pairs().len(), 20);
        assert_eq!(Metadata::parse(pairs(21)), Err(ReferenceError::TooManyKeys));
        assert_eq!(Metadata::parse([("".into(), "v".into())]), Err(ReferenceError::Key));
        assert_eq!(Metadata::parse([("k".repeat(41), "v".into())]), Err(ReferenceError::Key));
        assert_eq!(Metadata::parse([("k".into(), "v".repeat(501))]), Err(ReferenceError::Value));
        assert!(Metadata::parse([("k".into(), String::new())]).is_ok(), "an empty value is a value");
        assert_eq!(Metadata::parse([("  ".into(), "v".into())]), Err(ReferenceError::Key));
        assert_eq!(Metadata::parse([("k".into(), "a\u{202E}b".into())]), Err(ReferenceError::Value));
        assert_eq!(MerchantReference::parse("order\u{200B}1"), Err(ReferenceError::Reference));
        let big = (0..3).map(|i| (format!("k{i}"), "v".repeat(400))).collect::<Vec<_>>();
        assert!(Metadata::parse(big.clone()).is_ok());
        assert_eq!(Metadata::parse_for_refund(big), Err(ReferenceError::TooLarge));
        assert!(Metadata::parse([]).unwrap().is_empty());
    }
}
