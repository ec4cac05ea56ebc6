//! Money: a positive amount in minor units and an ISO 4217 currency.
use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest amount accepted: 2^53 - 1, the largest integer every JSON client reads exactly.
pub const MAX_AMOUNT: u64 = 9_007_199_254_740_991;

/// A positive amount of money in minor units (cents for EUR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amount(u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be a positive integer")]
    NotPositive,
    #[error("must be at most {MAX_AMOUNT}")]
    TooLarge,
}

impl Amount {
    pub fn parse(value: i128) -> Result<Self, AmountError> {
        if value <= 0 {
            Err(AmountError::NotPositive)
        } else if value > i128::from(MAX_AMOUNT) {
            Err(AmountError::TooLarge)
        } else {
            Ok(Self(value as u64))
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Active ISO 4217 currency codes (funds and precious metals left out).
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD",
    "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
    "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD",
    "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB",
    "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL",
    "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// Currencies with no minor unit (ISO 4217 exponent 0) and with three digits of it.
const NO_MINOR_UNIT: &[&str] =
    &["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"];
const THREE_DIGITS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// How many digits of an amount in `currency` (ISO 4217) are its minor unit: 2 for EUR (cents),
/// 0 for JPY, 3 for KWD. An amount in minor units is `amount / 10^digits` in major units.
pub fn minor_unit_digits(currency: &str) -> u32 {
    if NO_MINOR_UNIT.contains(&currency) {
        0
    } else if THREE_DIGITS.contains(&currency) {
        3
    } else {
        2
    }
}

/// An ISO 4217 currency code, upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency(&'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be an ISO 4217 currency code such as EUR")]
pub struct CurrencyError;

impl Currency {
    pub fn parse(s: &str) -> Result<Self, CurrencyError> {
        match ISO_4217.binary_search(&s) {
            Ok(i) => Ok(Self(ISO_4217[i])),
            Err(_) => Err(CurrencyError),
        }
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_list_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn currencies_are_checked_against_iso_4217() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("ABC").is_err());
        assert!(Currency::parse("EURO").is_err());
    }

    #[test]
    fn amounts_are_positive_and_bounded() {
        assert_eq!(Amount::parse(1).unwrap().get(), 1);
        assert_eq!(Amount::parse(0), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse(-5), Err(AmountError::NotPositive));
        assert!(Amount::parse(i128::from(MAX_AMOUNT)).is_ok());
        assert_eq!(Amount::parse(i128::from(MAX_AMOUNT) + 1), Err(AmountError::TooLarge));
    }
}
