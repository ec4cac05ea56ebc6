//! Webhook deliveries, on the event item: a lease (`WebhookLease`) so one worker at a time
//! attempts an event's deliveries, their state (`WebhookDeliveries`), and the event's place in
//! the due-time index (GSI2 under `WEBHOOKS#<shard>`). Attempts are items of their own.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, ReturnValue, TransactWriteItem, Update};

use super::DynamoStore;
use super::attrs::{Item, n, s};
use super::error::classify;
use super::event_items::event_from_item;
use super::keys::*;
use super::webhook_items::*;
use crate::domain::events::{Event, EventId};
use crate::domain::ids::MerchantId;
use crate::domain::ports::{ConflictKind, Deliveries, DeliveryClaim, DueEvent, PlannedEvent, PlannedPage, StoreError};
use crate::domain::search::EventFilter;
use crate::domain::webhooks::{AttemptRecord, Delivery, next_due};

/// Attempts `attempts` reads at most: 16 endpoints, each with its schedule and a few redeliveries.
pub const MAX_ATTEMPTS_LISTED: usize = 1_000;

/// The attributes of an event item that `planned_from_item` reads, and the keys that resume a
/// page after it (`Type` is a reserved word: `#type`).
const PLANNED_PROJECTION: (&str, &[(&str, &str)]) =
    ("PK, SK, GSI1PK, GSI1SK, GSI3PK, GSI3SK, #type, WebhookDeliveries", &[("#type", "Type")]);

fn planned_from_item(item: &Item) -> Result<PlannedEvent, StoreError> {
    let bad = || StoreError::Permanent("unreadable event item".into());
    let feed = item.get(GSI1SK).and_then(|v| v.as_s().ok()).ok_or_else(bad)?;
    let (at_ms, id) = parse_time_sort_key(feed, EventId::parse).ok_or_else(bad)?;
    let kind = item.get("Type").and_then(|v| v.as_s().ok()).and_then(|t| t.parse().ok()).ok_or_else(bad)?;
    Ok(PlannedEvent { id, kind, at_ms, deliveries: deliveries_from_item(item)? })
}

fn event_key(event: EventId) -> [(String, aws_sdk_dynamodb::types::AttributeValue); 2] {
    [(PK.to_owned(), s(payment_pk(event.payment_id))), (SK.to_owned(), s(event_sk(event.version)))]
}

#[async_trait]
impl Deliveries for DynamoStore {
    async fn claim_delivery(
        &self,
        event: EventId,
        now_ms: u64,
        lease_ms: u64,
        reopen: bool,
    ) -> Result<DeliveryClaim, StoreError> {
        let id = event.to_string();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(event_key(event).into()))
            .expression_attribute_values(":lease", n(lease_ms))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew);
        update = if reopen {
            update
                .update_expression(format!("SET {LEASE} = :lease, GSI2PK = :p, GSI2SK = :due"))
                .condition_expression(format!(
                    "attribute_exists(PK) AND (attribute_not_exists({LEASE}) OR {LEASE} < :now)"
                ))
                .expression_attribute_values(":p", s(webhook_due_pk(&id)))
                // Its own time is not known here; the due time stands in until the round saves.
                .expression_attribute_values(":due", s(webhook_due_sk(now_ms, now_ms, &id)))
        } else {
            update.update_expression(format!("SET {LEASE} = :lease")).condition_expression(format!(
                "attribute_exists(GSI2PK) AND (attribute_not_exists({LEASE}) OR {LEASE} < :now)"
            ))
        };
        match update.send().await.map_err(classify) {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                Ok(DeliveryClaim::Claimed {
                    event: Box::new(event_from_item(&item)?),
                    deliveries: deliveries_from_item(&item)?,
                    lease_ms,
                })
            }
            Err(StoreError::Conflict(_)) => {
                let out = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(event_key(event).into()))
                    .projection_expression(format!("PK, GSI2PK, {LEASE}"))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(match out.item {
                    Some(item) if item.contains_key(GSI2PK) || reopen => DeliveryClaim::Busy,
                    _ => DeliveryClaim::Settled,
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn save_delivery(
        &self,
        event: &Event,
        lease_ms: u64,
        deliveries: &[Delivery],
        attempts: &[AttemptRecord],
    ) -> Result<(), StoreError> {
        let (at_ms, event) = (event.at_ms, event.id());
        let id = event.to_string();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(event_key(event).into()))
            .condition_expression(format!("{LEASE} = :lease"))
            .expression_attribute_values(":lease", n(lease_ms))
            .expression_attribute_values(":d", deliveries_value(deliveries));
        update = match next_due(deliveries) {
            Some(due) => update
                .update_expression(format!("SET {DELIVERIES} = :d, GSI2PK = :p, GSI2SK = :due REMOVE {LEASE}"))
                .expression_attribute_values(":p", s(webhook_due_pk(&id)))
                .expression_attribute_values(":due", s(webhook_due_sk(due, at_ms, &id))),
            None => update.update_expression(format!("SET {DELIVERIES} = :d REMOVE {LEASE}, GSI2PK, GSI2SK")),
        };
        let update = update.build().map_err(|_| StoreError::Permanent("bad update".into()))?;
        if attempts.is_empty() {
            // Nothing else to write (no endpoint wanted it, or none was due): one plain update,
            // at half a transaction's write cost.
            return self.update_alone(update).await;
        }
        let mut actions = vec![TransactWriteItem::builder().update(update).build()];
        for a in attempts {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(attempt_item(event, a)))
                .build()
                .map_err(|_| StoreError::Permanent("bad put".into()))?;
            actions.push(TransactWriteItem::builder().put(put).build());
        }
        // The lease is the only condition: a failed one means another worker took over.
        self.transact(actions, &[ConflictKind::Changed]).await.map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(ConflictKind::Changed),
            other => other,
        })
    }

    async fn attempts(&self, event: EventId) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        while found.len() < MAX_ATTEMPTS_LISTED {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :a)")
                .expression_attribute_values(":pk", s(payment_pk(event.payment_id)))
                .expression_attribute_values(":a", s(attempts_prefix(event.version)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .limit(i32::try_from(MAX_ATTEMPTS_LISTED - found.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(classify)?;
            for item in out.items() {
                found.push(attempt_from_item(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        found.sort_by_key(|a| (a.at_ms, a.number));
        Ok(found)
    }

    /// The merchant's feed (GSI1, or GSI3 by type) projects every attribute of the event item, its
    /// deliveries too; only those `PlannedEvent` needs are read.
    async fn planned_events(
        &self,
        merchant: &MerchantId,
        kind: Option<crate::domain::events::EventType>,
        (from_ms, until_ms): (u64, u64),
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PlannedPage, StoreError> {
        let range = EventFilter { kind, created_gte: Some(from_ms), created_lt: Some(until_ms), payment: None };
        let projection = Some(PLANNED_PROJECTION);
        let (items, next_cursor) =
            self.feed_page(merchant, &range, limit, super::events::before(cursor)?, projection).await?;
        let events = items.iter().map(planned_from_item).collect::<Result<_, StoreError>>()?;
        Ok(PlannedPage { events, next_cursor })
    }

    async fn outstanding(&self, limit: u32) -> Result<Vec<DueEvent>, StoreError> {
        let items = self.gsi2_shards((0..WEBHOOK_SHARDS).map(webhook_due_shard_pk), None, limit).await?;
        let mut found: Vec<DueEvent> =
            items.iter().filter_map(|item| parse_due(item.get(GSI2SK).and_then(|v| v.as_s().ok())?)).collect();
        found.sort_by_key(|d| d.due_ms);
        Ok(found)
    }

    async fn claim_due(&self, due: DueEvent, older_than_ms: u64, again_ms: u64) -> Result<bool, StoreError> {
        let (event, at_ms) = (due.event, due.at_ms);
        let id = event.to_string();
        let key = (payment_pk(event.payment_id), event_sk(event.version));
        self.claim_in_gsi2(key, older_than_ms, webhook_due_sk(again_ms, at_ms, &id)).await
    }
}

impl DynamoStore {
    /// Runs a transaction's `Update` on its own; a failed condition is `Conflict(Changed)`.
    async fn update_alone(&self, u: Update) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(u.table_name)
            .set_key(Some(u.key))
            .update_expression(u.update_expression)
            .set_condition_expression(u.condition_expression)
            .set_expression_attribute_names(u.expression_attribute_names)
            .set_expression_attribute_values(u.expression_attribute_values)
            .send()
            .await;
        match res.map_err(classify) {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(ConflictKind::Changed)),
            Err(e) => Err(e),
        }
    }
}

/// `<due>#<event ms>#<event id>`, as `keys::webhook_due_sk` writes it.
fn parse_due(sk: &str) -> Option<DueEvent> {
    let mut parts = sk.splitn(3, '#');
    let due_ms = parts.next()?.parse().ok()?;
    let at_ms = parts.next()?.parse().ok()?;
    let event = EventId::parse(parts.next()?)?;
    Some(DueEvent { event, due_ms, at_ms })
}
