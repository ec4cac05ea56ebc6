//! Writing records' attributes straight into DynamoDB's item type. Items are read by serde
//! (`items::from_item`), but written here by hand: `serde_dynamo` builds a map of its own,
//! hashing every attribute once there and again when it converts to the SDK's, and a new
//! payment writes its attributes twice (the payment item and its event's `Data`), on every
//! request of the API. The serde structs (`items::PaymentItem`, ...) stay the one statement of
//! the attribute names and shapes: the tests below hold every writer here to what serde would
//! write for the same record, so the two cannot drift apart.
use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{Item, ItemBuilder};
use crate::domain::capture::{Authorization, Capture};
use crate::domain::payment::{Payment, Refund};
use crate::domain::reference::Metadata;

/// Left out when empty, as serde leaves it out (`skip_serializing_if = "Metadata::is_empty"`).
fn metadata(a: &mut ItemBuilder, m: &Metadata) {
    if !m.is_empty() {
        let map = m.pairs().iter().map(|(k, v)| (k.clone(), AttributeValue::S(v.clone()))).collect();
        a.put("Metadata", AttributeValue::M(map));
    }
}

/// A payment's own attributes (`items::PaymentItem`), without keys and never its sealed card:
/// a new payment's item, what a change sets on an existing one, an event's `Data`.
pub(super) fn payment_attributes(p: &Payment) -> Item {
    let mut a = ItemBuilder::with_capacity(40);
    a.s("PaymentID", p.id.to_string())
        .s("MerchantID", p.merchant_id.as_str())
        .s("CustomerID", p.customer_id.as_str())
        .maybe_s("CustomerName", p.customer_name.as_deref())
        .n("Price", p.amount.get())
        .s("Currency", p.currency.as_str())
        .s("Status", p.status.as_str())
        .maybe_s("Reason", p.reason.as_deref())
        .s("CardLast4", p.card_last4.as_str())
        .maybe_s("BankChargeID", p.bank_charge_id.as_deref())
        .n("CreatedAt", p.created_at_ms)
        .n("UpdatedAt", p.updated_at_ms)
        .n("RefundedAmount", p.refunded_amount)
        .n("RefundableLeft", p.refundable_left)
        .maybe_n("RefundTimestamp", p.refund_timestamp_ms)
        .n("Version", p.version)
        .maybe_n("BankFirstAttempt", p.bank_attempts.map(|t| t.first_ms))
        .maybe_n("BankLastAttempt", p.bank_attempts.map(|t| t.last_ms))
        .maybe_s("MerchantReference", p.tags.merchant_reference.as_ref().map(|r| r.as_str()));
    metadata(&mut a, &p.tags.metadata);
    if let Some(auth) = &p.authorization {
        a.put("Authorization", AttributeValue::M(authorization(auth)));
    }
    a.build()
}

/// A refund's own attributes (`items::RefundItem`), without keys.
pub(super) fn refund_attributes(r: &Refund) -> Item {
    let mut a = ItemBuilder::with_capacity(20);
    a.s("RefundID", r.id.to_string())
        .s("PaymentID", r.payment_id.to_string())
        .s("MerchantID", r.merchant_id.as_str())
        .n("Amount", r.amount.get())
        .s("Currency", r.currency.as_str())
        .s("Status", r.status.as_str())
        .maybe_s("Reason", r.reason.as_deref())
        .maybe_s("BankRefundID", r.bank_refund_id.as_deref())
        .n("CreatedAt", r.created_at_ms)
        .n("UpdatedAt", r.updated_at_ms)
        .maybe_n("BankFirstAttempt", r.bank_attempts.map(|t| t.first_ms))
        .maybe_n("BankLastAttempt", r.bank_attempts.map(|t| t.last_ms));
    metadata(&mut a, &r.metadata);
    a.build()
}

/// A manual-capture payment's `Authorization` map (`capture_items::AuthorizationItem`).
fn authorization(auth: &Authorization) -> Item {
    let mut a = ItemBuilder::with_capacity(8);
    a.maybe_s("BankAuthorizationID", auth.bank_authorization_id.as_deref())
        .n("AuthorizedAmount", auth.authorized_amount)
        .maybe_n("ExpiresAt", auth.expires_at_ms)
        .n("CapturedAmount", auth.captured_amount)
        .n("CapturableLeft", auth.capturable_left)
        .maybe_n("CancelRequestedAt", auth.cancel_requested_at_ms)
        .put("Captures", AttributeValue::L(auth.captures.iter().map(|c| AttributeValue::M(capture(c))).collect()));
    a.build()
}

fn capture(c: &Capture) -> Item {
    let mut a = ItemBuilder::with_capacity(12);
    a.s("CaptureID", c.id.to_string())
        .n("Amount", c.amount.get())
        .s("Status", c.status.as_str())
        .put("FinalCapture", AttributeValue::Bool(c.final_capture))
        .maybe_s("Reason", c.reason.as_deref())
        .maybe_s("BankCaptureID", c.bank_capture_id.as_deref())
        .n("CreatedAt", c.created_at_ms)
        .n("UpdatedAt", c.updated_at_ms)
        .maybe_n("SentAt", c.sent_at_ms);
    metadata(&mut a, &c.metadata);
    a.build()
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::capture_items::AuthorizationItem;
    use super::super::items::{PaymentItem, RefundItem, to_item};
    use super::*;
    use crate::domain::card::SealedCard;
    use crate::domain::ids::{CaptureId, MerchantId, PaymentId, RefundId};
    use crate::domain::inquiry::Attempts;
    use crate::domain::money::{Amount, Currency};
    use crate::domain::reference::{MerchantReference, Tags};
    use crate::domain::status::{CaptureStatus, PaymentStatus, RefundStatus};

    fn metadata() -> Metadata {
        Metadata::parse([("order".to_owned(), "10023".to_owned()), ("a \"quoted\" key".to_owned(), "é".to_owned())])
            .unwrap()
    }

    fn capture(n: u64, full: bool) -> Capture {
        Capture {
            id: CaptureId::new(),
            amount: Amount::parse(100 + i128::from(n)).unwrap(),
            status: if full { CaptureStatus::Failed } else { CaptureStatus::Pending },
            final_capture: full,
            reason: full.then(|| "bank said no".to_owned()),
            bank_capture_id: full.then(|| "cap_1".to_owned()),
            created_at_ms: 1_700_000_000_000 + n,
            updated_at_ms: 1_700_000_000_500 + n,
            sent_at_ms: full.then_some(1_700_000_000_100),
            metadata: if full { metadata() } else { Metadata::default() },
        }
    }

    /// Every optional attribute set (`full`), or none of them (also the event items' tests').
    pub(in crate::dynamo) fn payment(full: bool) -> Payment {
        Payment {
            id: PaymentId::new(),
            merchant_id: MerchantId::parse("shop@merchant").unwrap(),
            customer_id: "cust-1".into(),
            customer_name: full.then(|| "Ann \"Nan\" Lee".to_owned()),
            amount: Amount::parse(1999).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            status: if full { PaymentStatus::Declined } else { PaymentStatus::Pending },
            reason: full.then(|| "insufficient_funds".to_owned()),
            card_last4: "4242".into(),
            // Never written by `payment_attributes`: its item is `CARD_SK`.
            sealed_card: Some(SealedCard("v1.secret".into())),
            bank_charge_id: full.then(|| "ch_1".to_owned()),
            created_at_ms: 1_700_000_000_123,
            updated_at_ms: 1_700_000_000_456,
            refunded_amount: if full { 500 } else { 0 },
            refundable_left: 1499,
            refund_timestamp_ms: full.then_some(1_700_000_001_000),
            version: 3,
            bank_attempts: full.then_some(Attempts { first_ms: 1_700_000_000_200, last_ms: 1_700_000_000_300 }),
            tags: Tags {
                merchant_reference: full.then(|| MerchantReference::parse("order-10023").unwrap()),
                metadata: if full { metadata() } else { Metadata::default() },
            },
            authorization: full.then(|| Authorization {
                bank_authorization_id: Some("auth_1".into()),
                authorized_amount: 1999,
                expires_at_ms: Some(1_700_600_000_000),
                captured_amount: 100,
                capturable_left: 1899,
                cancel_requested_at_ms: Some(1_700_000_002_000),
                captures: vec![capture(0, true), capture(1, false)],
            }),
        }
    }

    pub(in crate::dynamo) fn refund(full: bool) -> Refund {
        Refund {
            id: RefundId::new(),
            payment_id: PaymentId::new(),
            merchant_id: MerchantId::parse("shop@merchant").unwrap(),
            amount: Amount::parse(500).unwrap(),
            currency: Currency::parse("JPY").unwrap(),
            status: if full { RefundStatus::Failed } else { RefundStatus::Pending },
            reason: full.then(|| "card closed".to_owned()),
            bank_refund_id: full.then(|| "re_1".to_owned()),
            created_at_ms: 1_700_000_000_000,
            updated_at_ms: 1_700_000_000_001,
            bank_attempts: full.then_some(Attempts { first_ms: 5, last_ms: 6 }),
            metadata: if full { metadata() } else { Metadata::default() },
        }
    }

    #[test]
    fn a_payment_is_written_as_serde_writes_its_item() {
        for full in [true, false] {
            let p = payment(full);
            assert_eq!(payment_attributes(&p), to_item(&PaymentItem::from(&p)), "full: {full}");
        }
    }

    #[test]
    fn an_authorization_with_captures_is_written_as_serde_writes_it() {
        let p = payment(true);
        let auth = p.authorization.as_ref().unwrap();
        assert_eq!(authorization(auth), to_item(&AuthorizationItem::from(auth)));
        let empty = Authorization {
            captures: vec![],
            bank_authorization_id: None,
            expires_at_ms: None,
            cancel_requested_at_ms: None,
            ..auth.clone()
        };
        assert_eq!(authorization(&empty), to_item(&AuthorizationItem::from(&empty)));
    }

    #[test]
    fn a_refund_is_written_as_serde_writes_its_item() {
        for full in [true, false] {
            let r = refund(full);
            assert_eq!(refund_attributes(&r), to_item(&RefundItem::from(&r)), "full: {full}");
        }
    }

    #[test]
    fn what_is_written_reads_back_as_the_same_record() {
        for full in [true, false] {
            let p = payment(full);
            let read: PaymentItem = super::super::items::from_item(&payment_attributes(&p), "payment").unwrap();
            let back: Payment = read.into();
            assert_eq!(back, Payment { sealed_card: None, ..p }, "full: {full}");
        }
    }
}
