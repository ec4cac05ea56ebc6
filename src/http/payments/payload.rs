//! Request bodies to domain types. Bodies are read as JSON values first, so a wrong type is a
//! 422 naming the field (not a generic deserialisation error), and every bad field is reported.
use crate::domain::reference::{MerchantReference, Metadata, ReferenceError, Tags};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};

use crate::domain::capture::CaptureMethod;
use crate::domain::card::{CardDetails, Expiry};
use crate::domain::money::{Amount, Currency};
use crate::domain::payment::PaymentRequest;
use crate::http::error::{ApiError, FieldError};
use crate::http::request::unknown_fields;

// The `POST /payments` body as the OpenAPI document shows it. `payment_request` reads the same
// names field by field (so that every bad field is named); the tests below keep the two in step.
/// A card payment. Every bad field is reported at once (422 `validation_failed`).
#[derive(ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = PaymentRequest, example = json!({
    "CustomerID": "c1", "CustomerName": "Ann", "CardNumber": "1234123412341234", "CardCVV": 123,
    "CardExpiryDate": "12/30", "Price": 1000, "Currency": "EUR",
    "MerchantReference": "order-10023", "Metadata": {"channel": "web"}
}))]
#[allow(dead_code)] // documentation only
pub struct PaymentRequestDoc {
    /// The merchant's own customer reference.
    #[serde(rename = "CustomerID")]
    #[schema(min_length = 1, max_length = 64)]
    customer_id: String,
    #[schema(min_length = 1, max_length = 256, nullable = false)]
    customer_name: Option<String>,
    /// 12 to 19 digits, as a string. Never stored or logged in plain text.
    #[schema(pattern = "^[0-9]{12,19}$", example = "1234123412341234")]
    card_number: String,
    #[serde(rename = "CardCVV")]
    #[schema(schema_with = cvv_schema)]
    card_cvv: String,
    /// `MM/YY`, valid through the end of that month.
    #[schema(pattern = "^(0[1-9]|1[0-2])/[0-9]{2}$", example = "12/30")]
    card_expiry_date: String,
    /// A positive integer in minor units (1000 = 10.00 EUR), at most 2^53-1.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    price: u64,
    /// An active ISO 4217 code.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: String,
    /// The merchant's own reference (its order id), shown on the payment, its events and
    /// webhooks; not unique. Never put card data in it.
    #[schema(min_length = 1, max_length = 128, nullable = false, example = "order-10023")]
    merchant_reference: Option<String>,
    /// At most 20 keys of 1 to 40 characters, each with a string of at most 500; shown on the
    /// payment, its events and webhooks. Never put card data in it.
    #[schema(nullable = false, example = json!({"channel": "web"}))]
    metadata: Option<std::collections::HashMap<String, String>>,
    /// `automatic` (default): charged at once. `manual`: authorized at once, then captured with
    /// `POST /payments/{id}/capture` (in parts, until a final one) or canceled with
    /// `POST /payments/{id}/cancel`.
    #[schema(nullable = false, pattern = "^(automatic|manual)$", example = "manual")]
    capture_method: Option<String>,
}

/// `CardCVV`: the seed's client sends a number, others a string (needed for a leading zero).
fn cvv_schema() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(100)).maximum(Some(9999)))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]{3,4}$")))
        .description(Some("3 or 4 digits, as a JSON number (`123`) or a string (`\"0123\"`)."))
        .into()
}

/// A refund; the body is optional.
#[derive(ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = RefundRequest, example = json!({"Amount": 300, "Metadata": {"reason": "damaged"}}))]
#[allow(dead_code)] // documentation only, read by `refund_request`
pub struct RefundRequestDoc {
    /// Minor units; default: all that is left to refund.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64, nullable = false)]
    amount: Option<u64>,
    /// As a payment's (at most 20 keys of 1 to 40 characters, string values of at most 500),
    /// and at most 1024 bytes in all: every event of the payment carries all its refunds.
    #[schema(nullable = false)]
    metadata: Option<std::collections::HashMap<String, String>>,
}

/// The request as the idempotency check sees it: method, path and canonical body (serde_json's
/// map is ordered, so key order and whitespace do not matter), without the CVV, which nothing
/// derived from may rest anywhere. Only a keyed fingerprint of this is stored.
pub fn canonical_request(method: &str, path: &str, body: &Map<String, Value>) -> Vec<u8> {
    /// The map as JSON without its `CardCVV` entry, written as it is read: every payment has
    /// one, and a copy of the whole body only to drop it cost more than the serialising.
    struct WithoutCvv<'a>(&'a Map<String, Value>);
    impl serde::Serialize for WithoutCvv<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().filter(|(k, _)| k.as_str() != "CardCVV"))
        }
    }
    let mut out = format!("{method} {path}\n").into_bytes();
    serde_json::to_writer(&mut out, &WithoutCvv(body)).expect("a JSON map serialises");
    out
}

/// The plain SHA-256 that keys claimed before fingerprints were keyed still hold (CVV and all):
/// computed only to recognise a replay of such a key, never stored. A claim is read until
/// DynamoDB's TTL deletes it, which can be days after its `ExpiresAt` (`get_idempotency` does
/// not look at it), so 48 hours (`app::idempotency::KEEP_SECS`) after the release that keyed
/// them (c10e00b, 2026-12-03) is not enough: remove it once a scan of the table finds no claim
/// whose `RequestHash` lacks the `hmac-sha256.` prefix, or from 2026-12-12 on.
pub fn legacy_request_hash(method: &str, path: &str, body: &Map<String, Value>) -> String {
    let body = serde_json::to_vec(body).expect("a JSON map serialises");
    crate::util::sha256_hex(&[method.as_bytes(), b" ", path.as_bytes(), b"\n", &body])
}

/// `Metadata::parse` or `Metadata::parse_for_refund`.
type MetadataParser = fn(Vec<(String, String)>) -> Result<Metadata, ReferenceError>;

struct Fields<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<FieldError>,
    /// The names this request takes (each one read at least once).
    known: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>) -> Self {
        Self { map, errors: Vec::new(), known: Vec::new() }
    }

    fn get(&mut self, name: &'static str, required: bool) -> Option<&'a Value> {
        if !self.known.contains(&name) {
            self.known.push(name);
        }
        match self.map.get(name) {
            None | Some(Value::Null) if required => {
                self.errors.push(FieldError::new(name, "required", "is required"));
                None
            }
            None | Some(Value::Null) => None,
            v => v,
        }
    }

    fn type_error(&mut self, name: &'static str, expected: &str) {
        self.errors.push(FieldError::new(name, "invalid_type", format!("must be {expected}")));
    }

    fn string(&mut self, name: &'static str, required: bool) -> Option<&'a str> {
        match self.get(name, required)? {
            Value::String(s) => Some(s),
            _ => {
                self.type_error(name, "a string");
                None
            }
        }
    }

    /// Runs a domain parser on a string field, recording its error under the field's name.
    fn check<T, E: std::fmt::Display>(&mut self, name: &'static str, code: &'static str, r: Result<T, E>) -> Option<T> {
        r.map_err(|e| self.errors.push(FieldError::new(name, code, e.to_string()))).ok()
    }

    fn text(&mut self, name: &'static str, required: bool, max: usize) -> Option<String> {
        let s = self.string(name, required)?;
        let ok = !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control);
        self.check(
            name,
            "invalid_format",
            if ok { Ok(s.to_owned()) } else { Err(format!("must be 1 to {max} printable characters")) },
        )
    }

    /// An integer amount; a float, a string or a number out of range is refused.
    pub fn amount(&mut self, name: &'static str, required: bool) -> Option<Amount> {
        let v = self.get(name, required)?;
        let n = v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from));
        match (v, n) {
            (Value::Number(_), Some(n)) => self.check(name, "out_of_range", Amount::parse(n)),
            (Value::Number(_), None) => {
                self.check(name, "out_of_range", Err("must be a positive integer (minor units)"))
            }
            _ => {
                self.type_error(name, "an integer (minor units)");
                None
            }
        }
    }

    /// `Metadata`: an object of string values (at most 20 keys of 1 to 40 characters, values of
    /// at most 500); absent or null is none. `parse` is `Metadata::parse` or, for a refund,
    /// `Metadata::parse_for_refund`.
    fn metadata(&mut self, parse: MetadataParser) -> Metadata {
        let pairs = match self.get("Metadata", false) {
            None => return Metadata::default(),
            Some(Value::Object(m)) if m.values().all(Value::is_string) => {
                m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect::<Vec<_>>()
            }
            Some(_) => {
                self.type_error("Metadata", "an object of string values");
                return Metadata::default();
            }
        };
        self.check("Metadata", "invalid_format", parse(pairs)).unwrap_or_default()
    }

    /// The request, or every error found, a field it does not take among them (`unknown_fields`).
    fn finish<T>(mut self, value: Option<T>) -> Result<T, ApiError> {
        self.errors.extend(unknown_fields(self.map, &self.known));
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(ApiError::Validation(self.errors)),
        }
    }
}

/// `POST /payments`. `today` is (year, month) for the expiry check.
pub fn payment_request(map: &Map<String, Value>, today: (u16, u8)) -> Result<PaymentRequest, ApiError> {
    let mut f = Fields::new(map);
    let customer_id = f.text("CustomerID", true, 64);
    let customer_name = f.text("CustomerName", false, 256);
    let number = f
        .string("CardNumber", true)
        .and_then(|s| f.check("CardNumber", "invalid_format", CardDetails::parse_number(s)));
    let cvv = match f.get("CardCVV", true) {
        Some(Value::String(s)) => f.check("CardCVV", "invalid_format", CardDetails::parse_cvv(s)),
        Some(Value::Number(n)) if n.is_u64() => {
            f.check("CardCVV", "invalid_format", CardDetails::parse_cvv(&n.to_string()))
        }
        Some(_) => {
            f.type_error("CardCVV", "3 or 4 digits, as a number or a string");
            None
        }
        None => None,
    };
    let expiry = f.string("CardExpiryDate", true).and_then(|s| {
        let r = Expiry::parse(s, today);
        let code = if r == Err(crate::domain::card::CardError::Expired) { "expired" } else { "invalid_format" };
        f.check("CardExpiryDate", code, r)
    });
    let amount = f.amount("Price", true);
    let currency = f.string("Currency", true).and_then(|s| f.check("Currency", "unknown_currency", Currency::parse(s)));
    let merchant_reference = f
        .string("MerchantReference", false)
        .and_then(|s| f.check("MerchantReference", "invalid_format", MerchantReference::parse(s)));
    let tags = Tags { merchant_reference, metadata: f.metadata(Metadata::parse) };
    let capture_method = f
        .string("CaptureMethod", false)
        .and_then(|s| {
            f.check(
                "CaptureMethod",
                "invalid_value",
                s.parse::<CaptureMethod>().map_err(|()| "must be automatic or manual"),
            )
        })
        .unwrap_or_default();
    let value = (|| {
        Some(PaymentRequest {
            customer_id: customer_id?,
            customer_name,
            amount: amount?,
            currency: currency?,
            card: CardDetails::new(number?, cvv?, expiry?),
            tags,
            capture_method,
        })
    })();
    f.finish(value)
}

/// `PATCH /payments/{id}/refund`: an optional `Amount` and `Metadata`.
pub fn refund_request(map: &Map<String, Value>) -> Result<(Option<Amount>, Metadata), ApiError> {
    let mut f = Fields::new(map);
    let amount = f.amount("Amount", false);
    let metadata = f.metadata(Metadata::parse_for_refund);
    f.finish(Some((amount, metadata)))
}

/// `POST /payments/{id}/capture`: an optional `Amount` (default: all that is capturable),
/// `FinalCapture` (default true) and `Metadata`.
pub fn capture_request(map: &Map<String, Value>) -> Result<((Option<Amount>, bool), Metadata), ApiError> {
    let mut f = Fields::new(map);
    let amount = f.amount("Amount", false);
    let last = match f.get("FinalCapture", false) {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            f.type_error("FinalCapture", "a boolean");
            true
        }
    };
    let metadata = f.metadata(Metadata::parse_for_refund);
    f.finish(Some(((amount, last), metadata)))
}

/// The capture body as the OpenAPI document shows it (`capture_request` reads it).
#[derive(ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = CaptureRequest, example = json!({"Amount": 600, "FinalCapture": false, "Metadata": {"shipment": "1 of 2"}}))]
#[allow(dead_code)] // documentation only
pub struct CaptureRequestDoc {
    /// Minor units; at most `CapturableAmount`. Default: all of it.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64, nullable = false)]
    amount: Option<u64>,
    /// Nothing more will be captured after this one (default true); the rest is released.
    #[schema(nullable = false)]
    final_capture: Option<bool>,
    /// As a refund's (at most 1024 bytes in all).
    #[schema(nullable = false)]
    metadata: Option<std::collections::HashMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use serde_json::json;

    use crate::http::request::object;

    fn parse(v: Value) -> Result<PaymentRequest, ApiError> {
        payment_request(v.as_object().unwrap(), (2026, 11))
    }

    fn good() -> Value {
        json!({"CustomerID":"c1","CustomerName":"Ann","CardNumber":"1234123412341234","CardCVV":123,
               "CardExpiryDate":"12/30","Price":1000,"Currency":"EUR"})
    }

    fn fields(r: Result<PaymentRequest, ApiError>) -> Vec<(&'static str, &'static str)> {
        match r {
            // Leaked: a test's few names, so the expectations can be plain string literals.
            Err(ApiError::Validation(f)) => {
                f.into_iter().map(|e| (&*Box::leak(e.field.into_boxed_str()), e.code)).collect()
            }
            other => panic!("expected a validation error, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn the_seed_request_parses_with_a_numeric_or_string_cvv() {
        assert!(parse(good()).is_ok());
        let mut v = good();
        v["CardCVV"] = json!("0123");
        assert_eq!(parse(v).unwrap().card.cvv(), "0123");
    }

    #[test]
    fn every_bad_field_is_named() {
        let v = json!({"CustomerID":5,"CardNumber":"12ab","CardCVV":true,"CardExpiryDate":"01/20",
                       "Price":1.5,"Currency":"XYZ"});
        assert_eq!(
            fields(parse(v)),
            vec![
                ("CustomerID", "invalid_type"),
                ("CardNumber", "invalid_format"),
                ("CardCVV", "invalid_type"),
                ("CardExpiryDate", "expired"),
                ("Price", "out_of_range"),
                ("Currency", "unknown_currency")
            ]
        );
    }

    #[test]
    fn a_field_the_request_does_not_take_is_named_never_dropped() {
        let mut v = good();
        v["MerchantRef"] = json!("order-1");
        v["Amount"] = json!(5);
        let mut named = fields(parse(v));
        named.sort();
        assert_eq!(named, vec![("Amount", "unknown_field"), ("MerchantRef", "unknown_field")]);
        let refund = refund_request(json!({"Amount": 100, "Reason": "x"}).as_object().unwrap());
        assert!(matches!(refund, Err(ApiError::Validation(f)) if f.len() == 1 && f[0].field == "Reason"));
        let mut long = good();
        long["x".repeat(500)] = json!(1);
        assert_eq!(fields(parse(long))[0].0.len(), 64, "a name is cut, never echoed whole");
    }

    #[test]
    fn the_merchant_reference_and_metadata_are_taken_and_checked() {
        let mut v = good();
        v["MerchantReference"] = json!("order-10023");
        v["Metadata"] = json!({"channel": "web", "cart": "c-9"});
        let req = parse(v).unwrap();
        assert_eq!(req.tags.merchant_reference.unwrap().as_str(), "order-10023");
        assert_eq!(req.tags.metadata.pairs().len(), 2);
        let mut bad = good();
        bad["MerchantReference"] = json!("");
        bad["Metadata"] = json!({"n": 1});
        assert_eq!(fields(parse(bad)), vec![("MerchantReference", "invalid_format"), ("Metadata", "invalid_type")]);
        let mut many = good();
        many["Metadata"] = Value::Object((0..21).map(|i| (format!("k{i}"), json!("v"))).collect());
        assert_eq!(fields(parse(many)), vec![("Metadata", "invalid_format")]);
    }

    #[test]
    fn missing_fields_are_required_and_amounts_must_be_positive() {
        assert_eq!(fields(parse(json!({"Price": 0}))).len(), 6);
        let mut v = good();
        v["Price"] = json!("100");
        assert_eq!(fields(parse(v)), vec![("Price", "invalid_type")]);
    }

    /// The documented schema's property names and required set, from the derived `ToSchema`.
    fn documented<T: utoipa::PartialSchema>() -> (Vec<String>, Vec<String>) {
        let v = serde_json::to_value(T::schema()).unwrap();
        let props = v["properties"].as_object().unwrap().keys().cloned().collect();
        let required =
            v["required"].as_array().map_or(vec![], |r| r.iter().map(|s| s.as_str().unwrap().to_owned()).collect());
        (props, required)
    }

    #[test]
    fn the_documented_request_schema_is_what_the_parser_reads() {
        let (props, mut required) = documented::<PaymentRequestDoc>();
        let mut missing: Vec<_> = fields(parse(json!({}))).into_iter().map(|(f, _)| f.to_owned()).collect();
        missing.sort();
        required.sort();
        assert_eq!(required, missing, "required fields");
        for p in &props {
            let mut v = good();
            v[p.as_str()] = json!([]);
            let errors = fields(parse(v));
            assert!(errors.len() == 1 && errors[0] == (p.as_str(), "invalid_type"), "{p} is read: {errors:?}");
        }
        let example = serde_json::to_value(<PaymentRequestDoc as utoipa::PartialSchema>::schema()).unwrap();
        let example = example["example"].clone();
        assert!(parse(example).is_ok(), "the documented example is accepted");
        let (props, required) = documented::<RefundRequestDoc>();
        assert_eq!((props, required), (vec!["Amount".to_owned(), "Metadata".to_owned()], vec![]));
        let refund = |v: Value| refund_request(v.as_object().unwrap());
        assert!(matches!(refund(json!({"Amount": []})), Err(ApiError::Validation(f)) if f[0].field == "Amount"));
    }

    #[test]
    fn the_canonical_request_ignores_key_order_and_whitespace_and_leaves_the_cvv_out() {
        let a = object(&Bytes::from(r#"{"a":1,"b":2}"#), false).unwrap();
        let b = object(&Bytes::from(r#"{ "b":2, "a":1 }"#), false).unwrap();
        assert_eq!(canonical_request("POST", "/p", &a), canonical_request("POST", "/p", &b));
        assert_ne!(canonical_request("POST", "/p", &a), canonical_request("POST", "/q", &a));
        let with_cvv = object(&Bytes::from(r#"{"a":1,"b":2,"CardCVV":"987"}"#), false).unwrap();
        assert_eq!(canonical_request("POST", "/p", &with_cvv), canonical_request("POST", "/p", &a));
        assert_eq!(
            canonical_request("POST", "/p", &a),
            br#"POST /p
{"a":1,"b":2}"#
        );
        assert_ne!(legacy_request_hash("POST", "/p", &with_cvv), legacy_request_hash("POST", "/p", &a));
    }
}
