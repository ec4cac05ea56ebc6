//! Webhook items: endpoints and their count (in their merchant's collection), the deliveries of an event (an
//! attribute of the event item) and delivery attempts (in the payment's collection, kept as long
//! as events are).
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::attrs::{Item, n, s};
use super::event_items::EVENT_RETENTION_DAYS;
use super::items::{from_item, to_item};
use super::keys::*;
use crate::domain::events::{EventId, EventType};
use crate::domain::ids::MerchantId;
use crate::domain::ports::StoreError;
use crate::domain::webhooks::*;

/// The sort key of a merchant's endpoint count, an item beside its endpoints (outside the
/// `WEBHOOK#` prefix, so a read of the endpoints skips it): `Endpoints` (how many there are)
/// and `Revision` (counts the item's writes).
pub const ENDPOINT_COUNT_SK: &str = "WEBHOOK_COUNT";
pub const ENDPOINT_COUNT: &str = "Endpoints";
pub const ENDPOINT_COUNT_REVISION: &str = "Revision";

/// The event item's attribute with its deliveries.
pub const DELIVERIES: &str = "WebhookDeliveries";
/// The event item's attribute with the lease on its deliveries (ms).
pub const LEASE: &str = "WebhookLease";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointItem {
    #[serde(rename = "WebhookEndpointID")]
    id: String,
    #[serde(rename = "MerchantID")]
    merchant_id: String,
    url: String,
    #[serde(default)]
    event_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<String>,
    secrets: Vec<SecretItem>,
    created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failing_since: Option<u64>,
    revision: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecretItem {
    sealed: String,
    created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

fn unreadable(what: &str) -> StoreError {
    StoreError::Permanent(format!("stored {what} item is not readable"))
}

pub fn endpoint_item(e: &Endpoint) -> Item {
    let mut item = to_item(&EndpointItem {
        id: e.id.to_string(),
        merchant_id: e.merchant_id.to_string(),
        url: e.url.to_string(),
        event_types: e.event_types.iter().map(|t| t.as_str().to_owned()).collect(),
        description: e.description.clone(),
        status: e.status.as_str().to_owned(),
        disabled_reason: e.disabled_reason.clone(),
        secrets: e
            .secrets
            .iter()
            .map(|s| SecretItem { sealed: s.sealed.clone(), created_at: s.created_ms, expires_at: s.expires_ms })
            .collect(),
        created_at: e.created_ms,
        failing_since: e.failing_since_ms,
        revision: e.revision,
    });
    item.extend([(PK.to_owned(), s(merchant_pk(&e.merchant_id))), (SK.to_owned(), s(endpoint_sk(e.id)))]);
    item
}

pub fn endpoint_from_item(item: &Item) -> Result<Endpoint, StoreError> {
    let e: EndpointItem = from_item(item, "webhook endpoint")?;
    let bad = || unreadable("webhook endpoint");
    Ok(Endpoint {
        id: EndpointId::parse(&e.id).ok_or_else(bad)?,
        merchant_id: MerchantId::parse(&e.merchant_id).map_err(|_| bad())?,
        url: WebhookUrl::stored(e.url),
        event_types: e
            .event_types
            .iter()
            .map(|t| t.parse::<EventType>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?,
        description: e.description,
        status: EndpointStatus::parse(&e.status).ok_or_else(bad)?,
        disabled_reason: e.disabled_reason,
        secrets: e
            .secrets
            .into_iter()
            .map(|s| SecretEntry { sealed: s.sealed, created_ms: s.created_at, expires_ms: s.expires_at })
            .collect(),
        created_ms: e.created_at,
        failing_since_ms: e.failing_since,
        revision: e.revision,
    })
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeliveryItem {
    #[serde(rename = "WebhookEndpointID")]
    endpoint: String,
    state: String,
    attempts: u32,
    tries: u32,
    due: u64,
}

pub fn deliveries_value(deliveries: &[Delivery]) -> AttributeValue {
    let items: Vec<DeliveryItem> = deliveries
        .iter()
        .map(|d| DeliveryItem {
            endpoint: d.endpoint.to_string(),
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            tries: d.tries,
            due: d.due_ms,
        })
        .collect();
    serde_dynamo::to_attribute_value(items).expect("deliveries serialise")
}

/// The deliveries on an event item; `None` before they were planned.
pub fn deliveries_from_item(item: &Item) -> Result<Option<Vec<Delivery>>, StoreError> {
    let Some(value) = item.get(DELIVERIES) else { return Ok(None) };
    let bad = || unreadable("webhook delivery");
    let items: Vec<DeliveryItem> = serde_dynamo::from_attribute_value(value.clone()).map_err(|_| bad())?;
    items
        .into_iter()
        .map(|d| {
            Ok(Delivery {
                endpoint: EndpointId::parse(&d.endpoint).ok_or_else(bad)?,
                state: DeliveryState::parse(&d.state).ok_or_else(bad)?,
                attempts: d.attempts,
                tries: d.tries,
                due_ms: d.due,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttemptItem {
    #[serde(rename = "WebhookEndpointID")]
    endpoint: String,
    number: u32,
    timestamp: u64,
    latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn attempt_item(event: EventId, a: &AttemptRecord) -> Item {
    let mut item = to_item(&AttemptItem {
        endpoint: a.endpoint.to_string(),
        number: a.number,
        timestamp: a.at_ms,
        latency_ms: a.latency_ms,
        status_code: a.status_code,
        error: a.error.clone(),
    });
    item.extend([
        (PK.to_owned(), s(payment_pk(event.payment_id))),
        (SK.to_owned(), s(attempt_sk(event.version, a.endpoint, a.number))),
        (TTL_ATTRIBUTE.to_owned(), n(a.at_ms / 1000 + EVENT_RETENTION_DAYS * 86_400)),
    ]);
    item
}

pub fn attempt_from_item(item: &Item) -> Result<AttemptRecord, StoreError> {
    let a: AttemptItem = from_item(item, "delivery attempt")?;
    Ok(AttemptRecord {
        endpoint: EndpointId::parse(&a.endpoint).ok_or_else(|| unreadable("delivery attempt"))?,
        number: a.number,
        at_ms: a.timestamp,
        latency_ms: a.latency_ms,
        status_code: a.status_code,
        error: a.error,
    })
}
