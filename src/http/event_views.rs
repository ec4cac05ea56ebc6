//! What clients see of the event log: each event with the payment as that change left it.
use serde::Serialize;
use utoipa::ToSchema;

use super::views::{PaymentBody, view};
use crate::domain::events::Event;

/// One change of a payment or of one of its refunds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = Event)]
pub struct EventBody {
    #[serde(rename = "EventID")]
    #[schema(example = "evt_0b6f8c1e2b7d4c1e9a550d2f3b4c5d6e_3")]
    event_id: String,
    /// `payment.created`, `payment.processing`, `payment.succeeded`, `payment.declined`,
    /// `payment.failed`, `refund.created`, `refund.processing`, `refund.succeeded`, `refund.failed`.
    #[schema(example = "payment.succeeded")]
    r#type: &'static str,
    /// When the change was made, ms since the epoch.
    timestamp: u64,
    /// The payment's `Version` after this change: consecutive for one payment.
    version: u64,
    /// Who made the change: `merchant:<id>` (an API request), `payment-worker`, `refund-worker`
    /// or `repair`.
    #[schema(example = "payment-worker")]
    actor: String,
    /// The W3C trace id of the request or job that made the change.
    #[serde(rename = "TraceID")]
    #[schema(required = true, example = "4bf92f3577b34da6a3ce929d0e0e4736")]
    trace_id: Option<String>,
    /// Whether the API request that made the change carried an `Idempotency-Key` (false for the
    /// workers' changes).
    idempotency_key: bool,
    #[serde(rename = "PaymentID")]
    #[schema(format = "uuid")]
    payment_id: String,
    /// The refund that changed, for `refund.*` events.
    #[serde(rename = "RefundID", skip_serializing_if = "Option::is_none")]
    #[schema(format = "uuid", nullable = false)]
    refund_id: Option<String>,
    /// The payment, with its refunds, right after the change.
    data: PaymentBody,
}

/// One page of events: a payment's oldest first, the merchant's newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct EventPage {
    events: Vec<EventBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

pub fn event(e: &Event) -> EventBody {
    EventBody {
        event_id: e.id().to_string(),
        r#type: e.kind.as_str(),
        timestamp: e.at_ms,
        version: e.version,
        actor: e.cause.actor.to_string(),
        trace_id: e.cause.trace_id.clone(),
        idempotency_key: e.cause.idempotency_key,
        payment_id: e.data.payment.id.to_string(),
        refund_id: e.refund_id.map(|r| r.to_string()),
        data: view(&e.data),
    }
}

pub fn page(events: &[Event], next_cursor: Option<String>) -> EventPage {
    EventPage { events: events.iter().map(event).collect(), next_cursor }
}
