//! Mapping between domain records and DynamoDB items. Each item is a struct here whose field
//! names are the attribute names, read by serde (`serde_dynamo`); records are written by hand
//! (`item_writer`), held to these structs' serde form by its tests. Keys and index attributes
//! are added on write and ignored on read.
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::attrs::{Item, s};
use super::capture_items::AuthorizationItem;
use super::item_writer::{payment_attributes, refund_attributes};
use super::keys::*;
use crate::domain::capture::Authorization;
use crate::domain::card::SealedCard;
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::inquiry::Attempts;
use crate::domain::money::{Amount, Currency};
use crate::domain::payment::{Payment, Refund};
use crate::domain::ports::StoreError;
use crate::domain::reference::{MerchantReference, Metadata, Tags};
use crate::domain::status::{PaymentStatus, RefundStatus};

pub const CARD: &str = "CardSealed";
/// The sealed card rests in an item of its own in the payment's collection, which carries no
/// index key: no index projects it (GSI1 and GSI3 project every attribute of what they hold).
/// It sorts right after the payment (`PAYMENT` < `PAYMENT#CARD` < `REFUND#`), so the payment's
/// one consistent read takes it too, and the change that makes the payment final deletes it.
pub const CARD_SK: &str = "PAYMENT#CARD";
pub const VERSION: &str = "Version";

/// A payment item's own attributes, as read. Written by `item_writer::payment_attributes`, which the tests
/// hold to what serde would write from this struct.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "PascalCase")]
pub(super) struct PaymentItem {
    #[serde(rename = "PaymentID")]
    payment_id: PaymentId,
    #[serde(rename = "MerchantID")]
    merchant_id: MerchantId,
    #[serde(rename = "CustomerID")]
    customer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_name: Option<String>,
    price: Amount,
    currency: Currency,
    status: PaymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    card_last4: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    card_sealed: Option<String>,
    #[serde(rename = "BankChargeID", default, skip_serializing_if = "Option::is_none")]
    bank_charge_id: Option<String>,
    created_at: u64,
    updated_at: u64,
    refunded_amount: u64,
    refundable_left: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund_timestamp: Option<u64>,
    /// Absent on payments written before the event log: version 0.
    #[serde(default)]
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bank_first_attempt: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bank_last_attempt: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merchant_reference: Option<MerchantReference>,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    metadata: Metadata,
    /// Manual capture only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization: Option<AuthorizationItem>,
}

/// Written by the first change that sets them and by `record_attempt` only: a change computed
/// from an older read must not move them back.
pub const ATTEMPTS: &[&str] = &[BANK_FIRST_ATTEMPT, BANK_LAST_ATTEMPT];
pub const BANK_FIRST_ATTEMPT: &str = "BankFirstAttempt";
pub const BANK_LAST_ATTEMPT: &str = "BankLastAttempt";

/// The attributes of `PaymentItem` that may be absent; a change that clears one removes it.
pub const PAYMENT_OPTIONAL: &[&str] =
    &["CustomerName", "Reason", "BankChargeID", "RefundTimestamp", "MerchantReference", "Metadata", "Authorization"];
/// The same for a change that makes the payment final: it also removes a card that a payment
/// written before `CARD_SK` existed still holds on its own item.
pub const PAYMENT_OPTIONAL_FINAL: &[&str] = &[
    "CustomerName",
    "Reason",
    CARD,
    "BankChargeID",
    "RefundTimestamp",
    "MerchantReference",
    "Metadata",
    "Authorization",
];
/// The same for `RefundItem`.
pub const REFUND_OPTIONAL: &[&str] = &["Reason", "BankRefundID", "Metadata"];

/// A refund item's own attributes, as read; written by `item_writer::refund_attributes`.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "PascalCase")]
pub(super) struct RefundItem {
    #[serde(rename = "RefundID")]
    refund_id: RefundId,
    #[serde(rename = "PaymentID")]
    payment_id: PaymentId,
    #[serde(rename = "MerchantID")]
    merchant_id: MerchantId,
    amount: Amount,
    currency: Currency,
    status: RefundStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(rename = "BankRefundID", default, skip_serializing_if = "Option::is_none")]
    bank_refund_id: Option<String>,
    created_at: u64,
    updated_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bank_first_attempt: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bank_last_attempt: Option<u64>,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    metadata: Metadata,
}

fn attempts(first: Option<u64>, last: Option<u64>) -> Option<Attempts> {
    first.map(|first_ms| Attempts { first_ms, last_ms: last.unwrap_or(first_ms) })
}

pub(super) fn to_item<T: Serialize>(record: &T) -> Item {
    serde_dynamo::to_item(record).expect("records serialise to items")
}

pub(super) fn from_item<'a, T: Deserialize<'a>>(item: &Item, what: &str) -> Result<T, StoreError> {
    serde_dynamo::from_item(item.clone())
        .map_err(|e| StoreError::Permanent(format!("stored {what} item is not readable: {e}")))
}

#[cfg(test)]
impl From<&Payment> for PaymentItem {
    fn from(p: &Payment) -> Self {
        Self {
            payment_id: p.id,
            merchant_id: p.merchant_id.clone(),
            customer_id: p.customer_id.clone(),
            customer_name: p.customer_name.clone(),
            price: p.amount,
            currency: p.currency,
            status: p.status,
            reason: p.reason.clone(),
            card_last4: p.card_last4.clone(),
            // Never on the payment item (`CARD_SK`); payments written before the card had an
            // item of its own still hold it here until their final change removes it.
            card_sealed: None,
            bank_charge_id: p.bank_charge_id.clone(),
            created_at: p.created_at_ms,
            updated_at: p.updated_at_ms,
            refunded_amount: p.refunded_amount,
            refundable_left: p.refundable_left,
            refund_timestamp: p.refund_timestamp_ms,
            version: p.version,
            bank_first_attempt: p.bank_attempts.map(|a| a.first_ms),
            bank_last_attempt: p.bank_attempts.map(|a| a.last_ms),
            merchant_reference: p.tags.merchant_reference.clone(),
            metadata: p.tags.metadata.clone(),
            authorization: p.authorization.as_ref().map(AuthorizationItem::from),
        }
    }
}

#[cfg(test)]
impl From<&Refund> for RefundItem {
    fn from(r: &Refund) -> Self {
        Self {
            refund_id: r.id,
            payment_id: r.payment_id,
            merchant_id: r.merchant_id.clone(),
            amount: r.amount,
            currency: r.currency,
            status: r.status,
            reason: r.reason.clone(),
            bank_refund_id: r.bank_refund_id.clone(),
            created_at: r.created_at_ms,
            updated_at: r.updated_at_ms,
            bank_first_attempt: r.bank_attempts.map(|a| a.first_ms),
            bank_last_attempt: r.bank_attempts.map(|a| a.last_ms),
            metadata: r.metadata.clone(),
        }
    }
}

/// What a new payment puts besides its claim and its event (`DynamoStore::commit`): its item and
/// its sealed card's.
pub fn new_payment_records(p: &Payment) -> Vec<Item> {
    let mut records = vec![new_payment_item(p)];
    records.extend(new_card_item(p));
    records
}

/// The item that holds a new payment's sealed card (`CARD_SK`), without index keys.
pub fn new_card_item(p: &Payment) -> Option<Item> {
    let sealed = p.sealed_card.as_ref()?;
    Some(Item::from([
        (PK.to_owned(), s(payment_pk(p.id))),
        (SK.to_owned(), s(CARD_SK)),
        (CARD.to_owned(), s(sealed.0.clone())),
    ]))
}

/// The filters' index keys of a payment (GSI4, GSI5, GSI6), all sorted like GSI1. GSI4's moves
/// with the status, so every change of the payment writes it again.
pub fn filter_keys(p: &Payment) -> Vec<(String, AttributeValue)> {
    let sort = list_sort_key(p.created_at_ms, p.id);
    let mut keys = vec![
        (GSI4PK.to_owned(), s(status_pk(&p.merchant_id, p.status))),
        (GSI4SK.to_owned(), s(&sort)),
        (GSI6PK.to_owned(), s(customer_pk(&p.merchant_id, &p.customer_id))),
        (GSI6SK.to_owned(), s(&sort)),
    ];
    if let Some(r) = &p.tags.merchant_reference {
        keys.extend([(GSI5PK.to_owned(), s(reference_pk(&p.merchant_id, r))), (GSI5SK.to_owned(), s(&sort))]);
    }
    keys
}

/// A new payment's item: its attributes, its keys, its place in its merchant's list, in the
/// filters' indexes and in the repair index.
pub fn new_payment_item(p: &Payment) -> Item {
    let id = p.id.to_string();
    let mut item = payment_attributes(p);
    item.extend(filter_keys(p));
    item.extend([
        (PK.to_owned(), s(payment_pk(p.id))),
        (SK.to_owned(), s(PAYMENT_SK)),
        (GSI1PK.to_owned(), s(merchant_pk(&p.merchant_id))),
        (GSI1SK.to_owned(), s(list_sort_key(p.created_at_ms, p.id))),
        (GSI2PK.to_owned(), s(repair_pk(RepairKind::Payment, &id))),
        (GSI2SK.to_owned(), s(repair_sk(p.created_at_ms, &id))),
    ]);
    item
}

pub fn new_refund_item(r: &Refund) -> Item {
    let id = r.id.to_string();
    let mut item = refund_attributes(r);
    item.extend([
        (PK.to_owned(), s(payment_pk(r.payment_id))),
        (SK.to_owned(), s(refund_sk(r.id))),
        (GSI2PK.to_owned(), s(repair_pk(RepairKind::Refund, &id))),
        (GSI2SK.to_owned(), s(repair_sk(r.created_at_ms, &id))),
    ]);
    item
}

/// An item of a payment's collection that is the payment, one of its refunds, or its card.
pub enum Record {
    Payment(Box<Payment>),
    Refund(Refund),
    Card(SealedCard),
}

/// The payment or refund `item` holds, by its sort key; `None` for any other item (an event).
pub fn record_from_item(item: &Item) -> Result<Option<Record>, StoreError> {
    match item.get(SK).and_then(|v| v.as_s().ok()).map(String::as_str) {
        Some(PAYMENT_SK) => payment_from_item(item).map(|p| Some(Record::Payment(Box::new(p)))),
        Some(sk) if sk.starts_with(REFUND_SK_PREFIX) => refund_from_item(item).map(|r| Some(Record::Refund(r))),
        Some(CARD_SK) => Ok(item.get(CARD).and_then(|v| v.as_s().ok()).map(|c| Record::Card(SealedCard(c.clone())))),
        _ => Ok(None),
    }
}

pub fn payment_from_item(item: &Item) -> Result<Payment, StoreError> {
    from_item::<PaymentItem>(item, "payment").map(Payment::from)
}

impl From<PaymentItem> for Payment {
    fn from(p: PaymentItem) -> Self {
        Payment {
            id: p.payment_id,
            merchant_id: p.merchant_id,
            customer_id: p.customer_id,
            customer_name: p.customer_name,
            amount: p.price,
            currency: p.currency,
            status: p.status,
            reason: p.reason,
            card_last4: p.card_last4,
            sealed_card: p.card_sealed.map(SealedCard),
            bank_charge_id: p.bank_charge_id,
            created_at_ms: p.created_at,
            updated_at_ms: p.updated_at,
            refunded_amount: p.refunded_amount,
            refundable_left: p.refundable_left,
            refund_timestamp_ms: p.refund_timestamp,
            version: p.version,
            bank_attempts: attempts(p.bank_first_attempt, p.bank_last_attempt),
            tags: Tags { merchant_reference: p.merchant_reference, metadata: p.metadata },
            authorization: p.authorization.map(Authorization::from),
        }
    }
}

pub fn refund_from_item(item: &Item) -> Result<Refund, StoreError> {
    from_item::<RefundItem>(item, "refund").map(Refund::from)
}

impl From<RefundItem> for Refund {
    fn from(r: RefundItem) -> Self {
        Refund {
            id: r.refund_id,
            payment_id: r.payment_id,
            merchant_id: r.merchant_id,
            amount: r.amount,
            currency: r.currency,
            status: r.status,
            reason: r.reason,
            bank_refund_id: r.bank_refund_id,
            created_at_ms: r.created_at,
            updated_at_ms: r.updated_at,
            bank_attempts: attempts(r.bank_first_attempt, r.bank_last_attempt),
            metadata: r.metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment::NewPayment;

    #[test]
    fn a_new_payment_item_reads_back_as_the_same_payment_with_its_keys_written() {
        let new = NewPayment {
            id: PaymentId::new(),
            merchant_id: MerchantId::parse("test@merchant").unwrap(),
            customer_id: "c".into(),
            customer_name: None,
            amount: Amount::parse(1999).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            card_last4: "4242".into(),
            sealed_card: SealedCard("v1.k.x".into()),
            created_at_ms: 1_700_000_000_000,
            tags: Default::default(),
            capture_method: Default::default(),
        };
        let item = new_payment_item(&new.pending());
        for (attr, want) in [("Status", "PENDING"), ("Currency", "EUR"), (SK, PAYMENT_SK)] {
            assert_eq!(item[attr].as_s().unwrap(), want, "{attr}");
        }
        assert!(!item.contains_key(CARD), "the card is not on the indexed payment item");
        let card = new_card_item(&new.pending()).unwrap();
        assert_eq!((card[SK].as_s().unwrap().as_str(), card[CARD].as_s().unwrap().as_str()), (CARD_SK, "v1.k.x"));
        assert!(card.keys().all(|k| !k.starts_with("GSI")), "the card item is in no index: {card:?}");
        assert!(matches!(record_from_item(&card), Ok(Some(Record::Card(c))) if c.0 == "v1.k.x"));
        assert_eq!(item["Price"].as_n().unwrap(), "1999");
        assert!(!item.contains_key("CustomerName") && !item.contains_key("Reason"), "absent, not null");
        let p = payment_from_item(&item).unwrap();
        assert_eq!((p.id, p.amount, p.refundable_left, p.status), (new.id, new.amount, 1999, PaymentStatus::Pending));
        assert_eq!(p.version, 1);
        assert_eq!(p.sealed_card, None, "read from its own item (`CARD_SK`)");
    }
}
