//! The single-table layout. Partition keys are per payment (high cardinality); a payment and
//! its refunds share one item collection so one consistent Query reads them together.
//!
//! | item        | PK                      | SK                 | GSI1 (merchant, newest first)     | GSI2 (sparse repair index)           |
//! |-------------|-------------------------|--------------------|-----------------------------------|--------------------------------------|
//! | payment     | `PAY#<payment id>`      | `PAYMENT`          | `MERCHANT#<m>` / `<created ms>#<id>` | `NONFINAL#PAYMENT#<shard>` / `<updated ms>#<id>` while not final |
//! |             | GSI4 `MERCHANT#<m>#STATUS#<status>`, GSI5 `MERCHANT#<m>#REF#<reference>`, GSI6 `MERCHANT#<m>#CUSTOMER#<customer>`, each / `<created ms>#<id>` | | | |
//! | its card    | `PAY#<payment id>`      | `PAYMENT#CARD`     | -                                 | - (in no index; deleted when final)  |
//! | refund      | `PAY#<payment id>`      | `REFUND#<refund id>` | -                               | `NONFINAL#REFUND#<shard>` / ... while not final |
//! | event       | `PAY#<payment id>`      | `EVENT#<version>`  | `EVENTS#<m>` / `<ms>#<event id>`  | -; GSI3: `EVENTS#<m>#<type>` / `<ms>#<event id>` |
//! | idempotency | `IDEM#<m>#<sha256(key)>`| `IDEM`             | -                                 | -                                    |
//! | merchant    | `MERCHANT#<m>`          | `PROFILE`          | -                                 | -                                    |
//! | endpoint    | `MERCHANT#<m>`          | `WEBHOOK#<endpoint id>` | -                            | -                                    |
//! | endpoint count | `MERCHANT#<m>`       | `WEBHOOK_COUNT`    | -                                 | -                                    |
//! | attempt     | `PAY#<payment id>`      | `DELIVERY#<version>#<endpoint id>#<n>` | -             | -                                    |
//!
//! An event also sits in GSI2 while a webhook delivery of it is outstanding (the due-time index):
//! `WEBHOOKS#<shard>` / `<due ms>#<event ms>#<event id>`, written with the event, moved by each
//! delivery round, removed when no delivery is left.
//!
//! A payment's events sort before its own items (`EVENT#` < `PAYMENT` < `REFUND#`), so a read of
//! the payment skips them and a read of its audit trail reads only them.
//! GSI2 holds only records that are not final, so the repair path reads a handful of items,
//! never the table. It is sharded so no single partition takes every write at high volume.

use crate::domain::events::EventType;
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::ids::{MerchantId, PaymentId, RefundId};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
/// The payments lists' filters, one index each, all sorted like GSI1 (`<created ms>#<id>`):
/// GSI4 by status (its key moves with every status change), GSI5 by the merchant's reference
/// (sparse: only payments that have one), GSI6 by customer.
pub const GSI4: &str = "GSI4";
pub const GSI4PK: &str = "GSI4PK";
pub const GSI4SK: &str = "GSI4SK";
pub const GSI5: &str = "GSI5";
pub const GSI5PK: &str = "GSI5PK";
pub const GSI5SK: &str = "GSI5SK";
pub const GSI6: &str = "GSI6";
pub const GSI6PK: &str = "GSI6PK";
pub const GSI6SK: &str = "GSI6SK";
/// Epoch seconds after which DynamoDB's TTL may delete the item (idempotency records, events).
pub const TTL_ATTRIBUTE: &str = "ExpiresAt";

pub const PAYMENT_SK: &str = "PAYMENT";
pub const REFUND_SK_PREFIX: &str = "REFUND#";
pub const EVENT_SK_PREFIX: &str = "EVENT#";
pub const ENDPOINT_SK_PREFIX: &str = "WEBHOOK#";
/// Before `PAYMENT`, so a read of the payment skips a payment's delivery attempts too.
pub const ATTEMPT_SK_PREFIX: &str = "DELIVERY#";
/// Shards of the repair index; the repair path queries each.
pub const REPAIR_SHARDS: u32 = 4;
/// Shards of the webhooks' due-time index: every event enters it, so it takes more writes than
/// the repair index and is spread wider; the sweep queries each.
pub const WEBHOOK_SHARDS: u32 = 16;

pub fn payment_pk(id: PaymentId) -> String {
    format!("PAY#{id}")
}

pub fn refund_sk(id: RefundId) -> String {
    format!("{REFUND_SK_PREFIX}{id}")
}

pub fn event_sk(version: u64) -> String {
    format!("{EVENT_SK_PREFIX}{version:010}")
}

pub fn endpoint_sk(id: crate::domain::webhooks::EndpointId) -> String {
    format!("{ENDPOINT_SK_PREFIX}{id}")
}

/// The prefix of every attempt at delivering the event that made version `version`.
pub fn attempts_prefix(version: u64) -> String {
    format!("{ATTEMPT_SK_PREFIX}{version:010}#")
}

pub fn attempt_sk(version: u64, endpoint: crate::domain::webhooks::EndpointId, number: u32) -> String {
    format!("{}{endpoint}#{number:03}", attempts_prefix(version))
}

pub fn webhook_due_pk(event: &str) -> String {
    webhook_due_shard_pk(hash(event) % WEBHOOK_SHARDS)
}

pub fn webhook_due_shard_pk(shard: u32) -> String {
    format!("WEBHOOKS#{shard}")
}

pub fn webhook_due_sk(due_ms: u64, event_ms: u64, event: &str) -> String {
    format!("{due_ms:013}#{event_ms:013}#{event}")
}

pub fn merchant_events_pk(m: &MerchantId) -> String {
    format!("EVENTS#{m}")
}

pub fn merchant_events_of_type_pk(m: &MerchantId, kind: EventType) -> String {
    format!("EVENTS#{m}#{kind}")
}

pub fn merchant_pk(m: &MerchantId) -> String {
    format!("MERCHANT#{m}")
}

pub const MERCHANT_SK: &str = "PROFILE";

pub fn idempotency_pk(key: &IdempotencyKey) -> String {
    format!("IDEM#{}#{}", key.merchant_id, crate::util::sha256_hex(&[key.key.as_bytes()]))
}

pub const IDEMPOTENCY_SK: &str = "IDEM";

/// A merchant's payments in one status (GSI4).
pub fn status_pk(m: &MerchantId, status: crate::domain::status::PaymentStatus) -> String {
    format!("MERCHANT#{m}#STATUS#{}", status.as_str())
}

/// A merchant's payments with one reference of its own (GSI5).
pub fn reference_pk(m: &MerchantId, reference: &crate::domain::reference::MerchantReference) -> String {
    format!("MERCHANT#{m}#REF#{}", reference.as_str())
}

/// A merchant's payments of one customer (GSI6).
pub fn customer_pk(m: &MerchantId, customer: &str) -> String {
    format!("MERCHANT#{m}#CUSTOMER#{customer}")
}

/// The sort key of every list sorted by time (a merchant's payments in GSI4-6 and in the
/// payments' list, its events in GSI1 and GSI3): `<ms, 13 digits>#<id>`, which sorts as
/// (time, id), and of which a page's cursor is made.
pub fn time_sort_key(ms: u64, id: impl std::fmt::Display) -> String {
    format!("{ms:013}#{id}")
}

/// The time and id a `time_sort_key` holds (`id` parses the id); `None` for anything
/// `time_sort_key` would not have written.
pub fn parse_time_sort_key<T>(key: &str, id: impl FnOnce(&str) -> Option<T>) -> Option<(u64, T)> {
    let (ms, rest) = key.split_once('#')?;
    if ms.len() != 13 || !ms.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((ms.parse().ok()?, id(rest)?))
}

/// A payment's place in its merchant's lists.
pub fn list_sort_key(created_ms: u64, id: PaymentId) -> String {
    time_sort_key(created_ms, id)
}

/// An event's place in its merchant's feed.
pub fn feed_sort_key(e: &crate::domain::events::Event) -> String {
    time_sort_key(e.at_ms, e.id())
}

fn shard(id: &str) -> u32 {
    hash(id) % REPAIR_SHARDS
}

fn hash(id: &str) -> u32 {
    id.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
}

pub fn repair_pk(kind: RepairKind, id: &str) -> String {
    repair_shard_pk(kind, shard(id))
}

pub fn repair_shard_pk(kind: RepairKind, shard: u32) -> String {
    format!("NONFINAL#{}#{shard}", kind.as_str())
}

pub fn repair_sk(updated_ms: u64, id: &str) -> String {
    format!("{updated_ms:013}#{id}")
}

#[derive(Clone, Copy, Debug)]
pub enum RepairKind {
    Payment,
    Refund,
}

impl RepairKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "PAYMENT",
            Self::Refund => "REFUND",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::EventId;

    #[test]
    fn time_sort_keys_sort_by_time_then_id_and_parse_back() {
        let p = PaymentId::new();
        let (a, b) = (EventId { payment_id: p, version: 2 }, EventId { payment_id: p, version: 3 });
        assert!(time_sort_key(9_000, a) < time_sort_key(10_000, b));
        assert!(time_sort_key(9_000, a) < time_sort_key(9_000, b));
        assert_eq!(parse_time_sort_key(&time_sort_key(10_000, b), EventId::parse), Some((10_000, b)));
        assert_eq!(parse_time_sort_key("1#evt_x", EventId::parse), None, "not 13 digits");
        let list = list_sort_key(5, p);
        assert_eq!(parse_time_sort_key(&list, |s| PaymentId::parse(s).ok()), Some((5, p)));
        assert_eq!(parse_time_sort_key(&list, EventId::parse), None, "another list's id");
    }
}
