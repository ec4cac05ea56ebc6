//! Idempotency keys (README, "Idempotency-Key"): a replay returns the first answer, the same key with
//! another body is refused, the same key while the first request is in flight is a conflict.
use serde::{Deserialize, Serialize};

use super::ids::{CaptureId, MerchantId, PaymentId, RefundId};
use super::money::{Amount, Currency};

/// A client's `Idempotency-Key`, scoped to its merchant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub merchant_id: MerchantId,
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 255 printable ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    pub fn parse(merchant_id: MerchantId, key: &str) -> Result<Self, InvalidIdempotencyKey> {
        let ok = !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic());
        if ok { Ok(Self { merchant_id, key: key.to_owned() }) } else { Err(InvalidIdempotencyKey) }
    }
}

/// What a write was answered, kept for replays. It says what was accepted, not how: the HTTP
/// layer renders it, the same bytes every time, so a replay gets the first answer byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Kind")]
pub enum Accepted {
    /// A payment, stored PENDING.
    Payment {
        #[serde(rename = "PaymentID")]
        payment_id: PaymentId,
    },
    /// A refund of `amount`, stored PENDING.
    Refund {
        #[serde(rename = "RefundID")]
        refund_id: RefundId,
        #[serde(rename = "PaymentID")]
        payment_id: PaymentId,
        #[serde(rename = "Amount")]
        amount: Amount,
        #[serde(rename = "Currency")]
        currency: Currency,
    },
    /// A capture of `amount` of a manual-capture payment, stored PENDING.
    Capture {
        #[serde(rename = "CaptureID")]
        capture_id: CaptureId,
        #[serde(rename = "PaymentID")]
        payment_id: PaymentId,
        #[serde(rename = "Amount")]
        amount: Amount,
        #[serde(rename = "Currency")]
        currency: Currency,
        #[serde(rename = "FinalCapture")]
        final_capture: bool,
    },
    /// A cancel of a manual-capture payment, to be carried out by the payment-worker.
    Cancel {
        #[serde(rename = "PaymentID")]
        payment_id: PaymentId,
    },
}

impl Accepted {
    /// The payment the answer is about (the refunded, captured or canceled one).
    pub fn payment_id(&self) -> PaymentId {
        match self {
            Self::Payment { payment_id }
            | Self::Refund { payment_id, .. }
            | Self::Capture { payment_id, .. }
            | Self::Cancel { payment_id } => *payment_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyState {
    /// The first request holds the key until `locked_until_ms`; after that a replay may take over.
    InProgress {
        locked_until_ms: u64,
    },
    Done(Accepted),
}

/// Keyed fingerprints of a request as the idempotency check compares them: never a plain
/// hash, as a request may carry a card (`vault::HmacFingerprints`).
pub trait Fingerprints: Send + Sync {
    /// The fingerprint of `canonical` under the current key, then under each previous key.
    fn fingerprints(&self, canonical: &[u8]) -> (String, Vec<String>);
}

/// What the store keeps for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Keyed fingerprint of the request (method, path, canonical body without the CVV), to spot
    /// a key used for another request. Records written before fingerprints were keyed hold a
    /// plain SHA-256 instead, until they expire (`app::KeyedRequest::also_matches`).
    pub request_hash: String,
    /// The id of what the first request created (a payment or a refund).
    pub resource_id: String,
    pub state: IdempotencyState,
}

/// A new claim on a key, written in the same transaction as the record it creates.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    pub key: IdempotencyKey,
    pub request_hash: String,
    pub resource_id: String,
    pub locked_until_ms: u64,
    pub expires_at_secs: u64,
    /// The answer, when it is known before the write (it is for every request we have): the
    /// claim is then written done, and no second write is needed to complete it.
    pub response: Option<Accepted>,
}
