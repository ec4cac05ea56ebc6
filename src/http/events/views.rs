//! The event log's pages, and an event's delivery attempts (the event itself is `wire::event`).
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::events::Event;
use crate::domain::webhooks::AttemptRecord;
use crate::wire::event::{EventBody, event};

/// One page of events: a payment's oldest first, the merchant's newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct EventPage {
    events: Vec<EventBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

pub fn page(events: &[Event], next_cursor: Option<String>) -> EventPage {
    EventPage { events: events.iter().map(event).collect(), next_cursor }
}

/// One attempt at delivering an event to an endpoint.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = DeliveryAttempt)]
pub struct AttemptBody {
    #[serde(rename = "WebhookEndpointID")]
    webhook_endpoint_id: String,
    /// 1 for the first attempt to this endpoint.
    attempt: u32,
    /// When it was made, ms since the epoch.
    timestamp: u64,
    latency_ms: u64,
    /// The endpoint's answer, if it answered.
    #[schema(required = true)]
    status_code: Option<u16>,
    /// Why it was not answered: `timeout`, `unreachable`, `blocked` (the URL led to an address
    /// deliveries may not reach) or `unsignable` (no secret of the endpoint could be opened with
    /// this worker's `WEBHOOK_SECRET_KEY` or `WEBHOOK_SECRET_OLD_KEYS`; nothing was sent).
    #[schema(required = true)]
    error: Option<String>,
}

/// Every attempt at delivering an event, oldest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct AttemptList {
    attempts: Vec<AttemptBody>,
}

pub fn attempts(all: &[AttemptRecord]) -> AttemptList {
    AttemptList {
        attempts: all
            .iter()
            .map(|a| AttemptBody {
                webhook_endpoint_id: a.endpoint.to_string(),
                attempt: a.number,
                timestamp: a.at_ms,
                latency_ms: a.latency_ms,
                status_code: a.status_code,
                error: a.error.clone(),
            })
            .collect(),
    }
}

/// A redelivery under way.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Redelivery {
    #[serde(rename = "EventID")]
    pub event_id: String,
    /// The endpoints it is being sent to (those enabled and subscribed to its type).
    pub endpoints: usize,
}
