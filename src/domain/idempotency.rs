//! Idempotency keys (README, "Idempotency-Key"): a replay returns the first answer, the same key with
//! another body is refused, the same key while the first request is in flight is a conflict.
use super::ids::MerchantId;

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

/// The answer kept for replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyState {
    /// The first request holds the key until `locked_until_ms`; after that a replay may take over.
    InProgress {
        locked_until_ms: u64,
    },
    Done(StoredResponse),
}

/// What the store keeps for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Hash of the request (method, path, canonical body), to spot a key used for another request.
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
    pub response: Option<StoredResponse>,
}
