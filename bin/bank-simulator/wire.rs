//! Request bodies as the bank receives them, checked, and their fingerprints.
//!
//! A fingerprint is a salted SHA-256 of the parsed request in a fixed field order, so the same
//! request compares equal however its JSON was spaced or ordered, and the card number and CVV
//! are never kept in clear. `ChargeBody`'s `Debug` shows only the card's last four digits.
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::SimError;
use payment_platform::domain::card::{CardDetails, Expiry};
use payment_platform::domain::money::{Amount, Currency};

pub type Fingerprint = [u8; 32];

/// `POST /charges`, and `POST /authorizations` (the same body: the card is checked and the
/// amount held instead of taken).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChargeBody {
    pub reference: String,
    pub amount: u64,
    pub currency: Currency,
    pub card_number: String,
    #[serde(rename = "CardCVV")]
    pub card_cvv: String,
    pub card_expiry_date: String,
}

impl std::fmt::Debug for ChargeBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChargeBody")
            .field("reference", &self.reference)
            .field("amount", &self.amount)
            .field("currency", &self.currency)
            .field("card_last4", &self.card_last4())
            .finish_non_exhaustive()
    }
}

/// `POST /captures`: some or all of what is left of an authorization (`Final`: nothing more
/// will be captured; the rest is released).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CaptureBody {
    pub reference: String,
    #[serde(rename = "AuthorizationID")]
    pub authorization_id: String,
    pub amount: u64,
    pub currency: Currency,
    #[serde(default)]
    pub r#final: bool,
}

/// `POST /voids`: releases what is left of an authorization.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VoidBody {
    pub reference: String,
    #[serde(rename = "AuthorizationID")]
    pub authorization_id: String,
}

/// `POST /refunds`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RefundBody {
    pub reference: String,
    #[serde(rename = "ChargeID")]
    pub charge_id: String,
    pub amount: u64,
    pub currency: Currency,
}

impl ChargeBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, SimError> {
        let body: Self = parse_json(bytes, CHARGE_SHAPE)?;
        check_reference(&body.reference)?;
        check_amount(body.amount)?;
        CardDetails::parse_number(&body.card_number).map_err(|e| invalid("CardNumber", e))?;
        CardDetails::parse_cvv(&body.card_cvv).map_err(|e| invalid("CardCVV", e))?;
        // Only the format is checked here: an expired card is the bank's decline, not a bad request.
        Expiry::parse(&body.card_expiry_date, (2000, 1)).map_err(|e| invalid("CardExpiryDate", e))?;
        Ok(body)
    }

    /// The fingerprint of this body sent as `kind` (`charge` or `authorization`): the same key
    /// never serves both.
    pub fn fingerprint(&self, kind: &str, salt: &[u8]) -> Fingerprint {
        let amount = self.amount.to_string();
        fingerprint(
            salt,
            &[
                kind,
                &self.reference,
                &amount,
                self.currency.as_str(),
                &self.card_number,
                &self.card_cvv,
                &self.card_expiry_date,
            ],
        )
    }

    /// The only part of the card the ledger keeps.
    pub fn card_last4(&self) -> &str {
        &self.card_number[self.card_number.len() - 4..]
    }
}

impl CaptureBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, SimError> {
        let body: Self = parse_json(bytes, CAPTURE_SHAPE)?;
        check_reference(&body.reference)?;
        check_amount(body.amount)?;
        check_id("AuthorizationID", &body.authorization_id)?;
        Ok(body)
    }

    pub fn fingerprint(&self, salt: &[u8]) -> Fingerprint {
        let amount = self.amount.to_string();
        let last = if self.r#final { "final" } else { "partial" };
        fingerprint(salt, &["capture", &self.reference, &self.authorization_id, &amount, self.currency.as_str(), last])
    }
}

impl VoidBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, SimError> {
        let body: Self = parse_json(bytes, VOID_SHAPE)?;
        check_reference(&body.reference)?;
        check_id("AuthorizationID", &body.authorization_id)?;
        Ok(body)
    }

    pub fn fingerprint(&self, salt: &[u8]) -> Fingerprint {
        fingerprint(salt, &["void", &self.reference, &self.authorization_id])
    }
}

impl RefundBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, SimError> {
        let body: Self = parse_json(bytes, REFUND_SHAPE)?;
        check_reference(&body.reference)?;
        check_amount(body.amount)?;
        check_id("ChargeID", &body.charge_id)?;
        Ok(body)
    }

    pub fn fingerprint(&self, salt: &[u8]) -> Fingerprint {
        let amount = self.amount.to_string();
        fingerprint(salt, &["refund", &self.reference, &self.charge_id, &amount, self.currency.as_str()])
    }
}

const CHARGE_SHAPE: &str = "the body must be a JSON object with Reference, Amount, Currency, \
                            CardNumber, CardCVV and CardExpiryDate";
const CAPTURE_SHAPE: &str =
    "the body must be a JSON object with Reference, AuthorizationID, Amount, Currency and optionally Final";
const VOID_SHAPE: &str = "the body must be a JSON object with Reference and AuthorizationID";
const REFUND_SHAPE: &str = "the body must be a JSON object with Reference, ChargeID, Amount and Currency";

/// Parses without ever repeating the parser's message, which may quote a field's value.
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], shape: &str) -> Result<T, SimError> {
    serde_json::from_slice(bytes).map_err(|_| SimError::InvalidRequest(shape.to_owned()))
}

fn check_reference(reference: &str) -> Result<(), SimError> {
    let ok = !reference.is_empty() && reference.len() <= 128 && reference.bytes().all(|b| b.is_ascii_graphic());
    if ok { Ok(()) } else { Err(invalid("Reference", "must be 1-128 visible ASCII characters")) }
}

fn check_id(field: &str, id: &str) -> Result<(), SimError> {
    if id.is_empty() || id.len() > 128 { Err(invalid(field, "must be 1-128 characters")) } else { Ok(()) }
}

fn check_amount(amount: u64) -> Result<(), SimError> {
    Amount::parse(i128::from(amount)).map(|_| ()).map_err(|e| invalid("Amount", e))
}

fn invalid(field: &str, why: impl std::fmt::Display) -> SimError {
    SimError::InvalidRequest(format!("{field} {why}"))
}

fn fingerprint(salt: &[u8], parts: &[&str]) -> Fingerprint {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    for part in parts {
        // Length-prefixed, so no two different field lists hash the same bytes.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = r#"{"Reference":"p1","Amount":1234,"Currency":"EUR",
        "CardNumber":"4000000000000002","CardCVV":"123","CardExpiryDate":"12/30"}"#;

    #[test]
    fn the_same_request_in_another_field_order_has_the_same_fingerprint() {
        let reordered = r#"{"CardCVV":"123","CardExpiryDate":"12/30","Amount":1234,
            "Currency":"EUR","CardNumber":"4000000000000002","Reference":"p1"}"#;
        let a = ChargeBody::parse(CARD.as_bytes()).unwrap().fingerprint("charge", b"s");
        let b = ChargeBody::parse(reordered.as_bytes()).unwrap().fingerprint("charge", b"s");
        assert_eq!(a, b);
        let other = CARD.replace("1234,", "1235,");
        assert_ne!(a, ChargeBody::parse(other.as_bytes()).unwrap().fingerprint("charge", b"s"));
    }

    #[test]
    fn errors_name_the_field_and_never_echo_card_data() {
        let bad_cvv = CARD.replace(r#""123""#, r#""12x""#);
        let err = ChargeBody::parse(bad_cvv.as_bytes()).unwrap_err().to_string();
        assert!(err.starts_with("CardCVV") && !err.contains("12x"), "{err}");
        let numeric_card = CARD.replace(r#""4000000000000002""#, "4000000000000002");
        let err = ChargeBody::parse(numeric_card.as_bytes()).unwrap_err().to_string();
        assert!(!err.contains("4000000000000002"), "{err}");
        let zero = CARD.replace("1234,", "0,");
        assert!(ChargeBody::parse(zero.as_bytes()).is_err());
        let lower = CARD.replace("EUR", "eur");
        assert!(ChargeBody::parse(lower.as_bytes()).is_err());
    }
}
