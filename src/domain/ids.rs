//! Identifiers. Payment and refund ids are UUIDs, checked before they reach a key expression.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("The id of a ", $what, ": a UUID, created by the API.")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// Accepts only a well-formed UUID, so nothing else ever reaches a key expression.
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                Uuid::parse_str(s).map(Self).map_err(|_| InvalidId)
            }

            /// The 32 hex digits without dashes.
            pub fn simple(&self) -> String {
                self.0.simple().to_string()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(PaymentId, "payment");
uuid_id!(RefundId, "refund");
uuid_id!(CaptureId, "capture");

/// A string that is not a UUID was given where an id was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id (expected a UUID)")]
pub struct InvalidId;

/// A merchant's id, e.g. `test@merchant`: printable ASCII without spaces or `#`, 1-128 long.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MerchantId(String);

impl MerchantId {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let ok = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_id_accepts_only_uuids() {
        let id = PaymentId::new();
        assert_eq!(PaymentId::parse(&id.to_string()), Ok(id));
        assert_eq!(PaymentId::parse("PAY#x"), Err(InvalidId));
        assert_eq!(PaymentId::parse(""), Err(InvalidId));
    }

    #[test]
    fn merchant_id_rejects_key_separators_and_spaces() {
        assert!(MerchantId::parse("test@merchant").is_ok());
        assert!(MerchantId::parse("a#b").is_err());
        assert!(MerchantId::parse("a b").is_err());
        assert!(MerchantId::parse("").is_err());
    }
}
