//! Card data. Its `Debug` never prints the number or the CVV, so a stray `{:?}` in a log is safe.
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("must be 12 to 19 digits")]
    Number,
    #[error("must be 3 or 4 digits")]
    Cvv,
    #[error("must be MM/YY")]
    ExpiryFormat,
    #[error("the card has expired")]
    Expired,
}

/// A month of a year, as printed on a card (`MM/YY`, valid through the month's last day).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Expiry {
    pub year: u16,
    pub month: u8,
}

impl Expiry {
    /// Parses `MM/YY` and refuses a month that is over by `today` (year, month).
    pub fn parse(s: &str, today: (u16, u8)) -> Result<Self, CardError> {
        let b = s.as_bytes();
        let two = |x: &[u8]| -> Option<u8> {
            (x.len() == 2 && x.iter().all(u8::is_ascii_digit)).then(|| (x[0] - b'0') * 10 + x[1] - b'0')
        };
        if b.len() != 5 || b[2] != b'/' {
            return Err(CardError::ExpiryFormat);
        }
        let month = two(&b[..2]).ok_or(CardError::ExpiryFormat)?;
        let yy = two(&b[3..]).ok_or(CardError::ExpiryFormat)?;
        if !(1..=12).contains(&month) {
            return Err(CardError::ExpiryFormat);
        }
        let expiry = Self { year: 2000 + u16::from(yy), month };
        if expiry < (Self { year: today.0, month: today.1 }) {
            return Err(CardError::Expired);
        }
        Ok(expiry)
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}", self.month, self.year % 100)
    }
}

impl fmt::Debug for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expiry({self})")
    }
}

/// What the bank needs to charge a card. Held only in memory or encrypted at rest.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardDetails {
    number: String,
    cvv: String,
    expiry: Expiry,
}

impl CardDetails {
    pub fn parse_number(s: &str) -> Result<String, CardError> {
        let ok = (12..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if ok { Ok(s.to_owned()) } else { Err(CardError::Number) }
    }

    pub fn parse_cvv(s: &str) -> Result<String, CardError> {
        let ok = (3..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if ok { Ok(s.to_owned()) } else { Err(CardError::Cvv) }
    }

    /// Builds from parts that each went through their `parse_*`.
    pub fn new(number: String, cvv: String, expiry: Expiry) -> Self {
        Self { number, cvv, expiry }
    }

    pub fn number(&self) -> &str {
        &self.number
    }

    pub fn cvv(&self) -> &str {
        &self.cvv
    }

    pub fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// The only part of the card that is ever shown or stored in clear.
    pub fn last4(&self) -> String {
        self.number[self.number.len() - 4..].to_owned()
    }
}

impl fmt::Debug for CardDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardDetails(****{}, exp {})", self.last4(), self.expiry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_valid_through_its_month() {
        assert!(Expiry::parse("11/26", (2026, 11)).is_ok());
        assert_eq!(Expiry::parse("10/26", (2026, 11)), Err(CardError::Expired));
        assert_eq!(Expiry::parse("13/30", (2026, 11)), Err(CardError::ExpiryFormat));
        assert_eq!(Expiry::parse("1/30", (2026, 11)), Err(CardError::ExpiryFormat));
        assert_eq!(Expiry::parse("01-30", (2026, 11)), Err(CardError::ExpiryFormat));
    }

    #[test]
    fn card_fields_are_digits_of_the_right_length() {
        assert!(CardDetails::parse_number("1234123412341234").is_ok());
        assert!(CardDetails::parse_number("12341234123").is_err());
        assert!(CardDetails::parse_number("1234 1234 1234 1234").is_err());
        assert!(CardDetails::parse_cvv("123").is_ok());
        assert!(CardDetails::parse_cvv("12a").is_err());
        assert!(CardDetails::parse_cvv("12345").is_err());
    }

    #[test]
    fn debug_never_shows_number_or_cvv() {
        let exp = Expiry::parse("12/30", (2026, 1)).unwrap();
        let card = CardDetails::new("4000000000000002".into(), "987".into(), exp);
        let shown = format!("{card:?}");
        assert!(!shown.contains("4000000000000002") && !shown.contains("987"));
        assert!(shown.contains("0002"));
    }
}

/// A card sealed with authenticated encryption: opaque outside the vault that made it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCard(pub String);

impl fmt::Debug for SealedCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedCard(..)")
    }
}
