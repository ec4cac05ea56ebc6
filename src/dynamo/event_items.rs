//! Event items. Each sits in its payment's item collection (`EVENT#<version>`, before the
//! payment's own items, so reading a payment skips them) and in two indexes of its merchant's
//! feed: every event (GSI1, beside the merchant's payments under another partition key) and
//! one type (GSI3). DynamoDB's TTL removes it `EVENT_RETENTION_DAYS` after it happened.
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;
#[cfg(test)]
use serde::Serialize;

use super::attrs::{Item, ItemBuilder};
use super::item_writer::{payment_attributes, refund_attributes};
use super::items::{PaymentItem, RefundItem, from_item};
use super::keys::*;
use crate::domain::events::{Actor, Cause, Event, EventType};
use crate::domain::ids::{CaptureId, MerchantId, PaymentId, RefundId};
use crate::domain::payment::PaymentView;
use crate::domain::ports::StoreError;

/// How long an event is kept at least: DynamoDB deletes expired items some time after expiry.
pub const EVENT_RETENTION_DAYS: u64 = 30;

/// An event item's attributes: what is read, and (for the tests' serde form) the ids that
/// reading takes from elsewhere.
#[derive(Deserialize)]
#[cfg_attr(not(test), expect(dead_code, reason = "the ids are written by `event_item`, read from the payment"))]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "PascalCase")]
struct EventItem {
    #[serde(rename = "EventID")]
    event_id: String,
    r#type: String,
    timestamp: u64,
    version: u64,
    actor: String,
    #[serde(rename = "TraceID", default, skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    idempotency_key: bool,
    #[serde(rename = "PaymentID")]
    payment_id: PaymentId,
    #[serde(rename = "MerchantID")]
    merchant_id: MerchantId,
    #[serde(rename = "RefundID", default, skip_serializing_if = "Option::is_none")]
    refund_id: Option<RefundId>,
    #[serde(rename = "CaptureID", default, skip_serializing_if = "Option::is_none")]
    capture_id: Option<CaptureId>,
    data: DataItem,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "PascalCase")]
struct DataItem {
    payment: PaymentItem,
    #[serde(default)]
    refunds: Vec<RefundItem>,
}

/// The event's item; with `notify`, also in the webhooks' due-time index, due at once. Written
/// by hand like a payment's (`item_writer`); the tests hold it to `EventItem`'s serde form.
pub fn event_item(e: &Event, notify: bool) -> Item {
    let p = &e.data.payment;
    let id = e.id().to_string();
    let feed = super::keys::feed_sort_key(e);
    // `payment_attributes` never writes the sealed card, so an event's data never holds it,
    // whatever built the event.
    let data = Item::from([
        ("Payment".to_owned(), AttributeValue::M(payment_attributes(p))),
        (
            "Refunds".to_owned(),
            AttributeValue::L(e.data.refunds.iter().map(|r| AttributeValue::M(refund_attributes(r))).collect()),
        ),
    ]);
    let mut a = ItemBuilder::with_capacity(24);
    a.s("Type", e.kind.as_str())
        .n("Timestamp", e.at_ms)
        .n("Version", e.version)
        .s("Actor", e.cause.actor.to_string())
        .maybe_s("TraceID", e.cause.trace_id.as_deref())
        .put("IdempotencyKey", AttributeValue::Bool(e.cause.idempotency_key))
        .s("PaymentID", p.id.to_string())
        .s("MerchantID", p.merchant_id.as_str())
        .maybe_s("RefundID", e.refund_id.map(|r| r.to_string()).as_deref())
        .maybe_s("CaptureID", e.capture_id.map(|c| c.to_string()).as_deref())
        .put("Data", AttributeValue::M(data))
        .s(PK, payment_pk(p.id))
        .s(SK, event_sk(e.version))
        .s(GSI1PK, merchant_events_pk(&p.merchant_id))
        .s(GSI1SK, feed.as_str())
        .s(GSI3PK, merchant_events_of_type_pk(&p.merchant_id, e.kind))
        .s(GSI3SK, feed)
        .n(TTL_ATTRIBUTE, e.at_ms / 1000 + EVENT_RETENTION_DAYS * 86_400);
    if notify {
        // The webhook worker takes it out of the index once nothing is left to deliver.
        a.s(GSI2PK, webhook_due_pk(&id)).s(GSI2SK, webhook_due_sk(e.at_ms, e.at_ms, &id));
    }
    a.s("EventID", id);
    a.build()
}

pub fn event_from_item(item: &Item) -> Result<Event, StoreError> {
    let e: EventItem = from_item(item, "event")?;
    let unreadable = || StoreError::Permanent("stored event item is not readable".into());
    Ok(Event {
        kind: e.r#type.parse::<EventType>().map_err(|_| unreadable())?,
        version: e.version,
        at_ms: e.timestamp,
        cause: Cause {
            actor: e.actor.parse::<Actor>().map_err(|_| unreadable())?,
            trace_id: e.trace_id,
            idempotency_key: e.idempotency_key,
        },
        refund_id: e.refund_id,
        capture_id: e.capture_id,
        data: PaymentView {
            payment: e.data.payment.into(),
            refunds: e.data.refunds.into_iter().map(Into::into).collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card::SealedCard;
    use crate::domain::change::Change;
    use crate::testing::store_suite::new_payment;

    #[test]
    fn an_event_item_reads_back_as_the_same_event_without_card_data_and_with_its_keys() {
        let m = MerchantId::parse("test@merchant").unwrap();
        let new = new_payment(&m, 500, 1_700_000_000_123);
        let mut cause = Cause::new(Actor::Merchant(m.clone()), Some("0af7651916cd43dd8448eb211c80319c".into()));
        cause.idempotency_key = true;
        let mut event = Change::payment_created(&new, cause).event;
        event.data.payment.sealed_card = Some(SealedCard("v1.secret".into()));
        assert!(!event_item(&event, false).contains_key(GSI2PK), "not in the due-time index unless notified");
        let item = event_item(&event, true);
        assert!(item[GSI2PK].as_s().unwrap().starts_with("WEBHOOKS#"));
        assert!(!format!("{item:?}").contains("v1.secret"), "no sealed card in an event item");
        assert_eq!(item[SK].as_s().unwrap(), "EVENT#0000000001");
        assert_eq!(item[GSI3PK].as_s().unwrap(), "EVENTS#test@merchant#payment.created");
        assert_eq!(item[GSI1SK].as_s().unwrap(), &format!("1700000000123#{}", event.id()));
        assert_eq!(item[TTL_ATTRIBUTE].as_n().unwrap(), &(1_700_000_000 + 30 * 86_400).to_string());
        event.data.payment.sealed_card = None;
        assert_eq!(event_from_item(&item).unwrap(), event);
    }

    /// What serde writes for `EventItem`: the attributes `event_item` must write, beside its keys.
    fn serde_form(e: &Event) -> Item {
        let p = &e.data.payment;
        super::super::items::to_item(&EventItem {
            event_id: e.id().to_string(),
            r#type: e.kind.as_str().to_owned(),
            timestamp: e.at_ms,
            version: e.version,
            actor: e.cause.actor.to_string(),
            trace_id: e.cause.trace_id.clone(),
            idempotency_key: e.cause.idempotency_key,
            payment_id: p.id,
            merchant_id: p.merchant_id.clone(),
            refund_id: e.refund_id,
            capture_id: e.capture_id,
            data: DataItem {
                payment: PaymentItem::from(p),
                refunds: e.data.refunds.iter().map(RefundItem::from).collect(),
            },
        })
    }

    /// An event whose data has every option (an authorization with captures, metadata, a
    /// reference) and refunds with and without theirs (`item_writer`'s records), and a new payment's.
    #[test]
    fn an_event_item_holds_what_serde_writes_and_its_keys_only() {
        use super::super::item_writer::tests::{payment, refund};
        let m = MerchantId::parse("test@merchant").unwrap();
        let bare =
            Change::payment_created(&new_payment(&m, 500, 1_700_000_000_123), Cause::new(Actor::PaymentWorker, None))
                .event;
        let mut rich = Change::payment_created(
            &new_payment(&m, 500, 1_700_000_000_123),
            Cause::new(Actor::Merchant(m.clone()), Some("0af7651916cd43dd8448eb211c80319c".into())),
        )
        .event;
        rich.data = PaymentView { payment: payment(true), refunds: vec![refund(true), refund(false)] };
        rich.refund_id = Some(RefundId::new());
        rich.capture_id = Some(CaptureId::new());
        for (e, notify) in [(&bare, false), (&rich, true)] {
            let mut item = event_item(e, notify);
            let keys = [PK, SK, GSI1PK, GSI1SK, GSI3PK, GSI3SK, TTL_ATTRIBUTE, GSI2PK, GSI2SK];
            item.retain(|name, _| !keys.contains(&name.as_str()));
            assert_eq!(item, serde_form(e));
        }
    }
}
