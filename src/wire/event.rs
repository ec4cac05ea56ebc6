//! An event as clients see it: in the API's event log (`EventBody`) and as a webhook's body
//! (`webhook_body`), each with the payment as that change left it.
use serde::Serialize;
use utoipa::ToSchema;

use super::payment::{PaymentBody, view};
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
    /// `payment.failed`, `refund.created`, `refund.processing`, `refund.succeeded`, `refund.failed`;
    /// with manual capture also `payment.authorized`, `payment.cancel_requested`,
    /// `payment.canceled`, `capture.created`, `capture.processing`, `capture.succeeded`,
    /// `capture.failed`.
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
    /// The capture that changed, for `capture.*` events.
    #[serde(rename = "CaptureID", skip_serializing_if = "Option::is_none")]
    #[schema(format = "uuid", nullable = false)]
    capture_id: Option<String>,
    /// The payment, with its refunds, right after the change.
    data: PaymentBody,
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
        capture_id: e.capture_id.map(|c| c.to_string()),
        data: view(&e.data, e.at_ms),
    }
}

/// The body, as the Standard Webhooks specification shapes it.
#[derive(Serialize)]
struct Body {
    r#type: &'static str,
    timestamp: String,
    /// The refund an event about one refund is about, beside the payment in `data` (as the
    /// event resource names it).
    #[serde(rename = "RefundID", skip_serializing_if = "Option::is_none")]
    refund_id: Option<String>,
    /// Likewise the capture of a `capture.*` event.
    #[serde(rename = "CaptureID", skip_serializing_if = "Option::is_none")]
    capture_id: Option<String>,
    data: PaymentBody,
}

/// The bytes of a delivery's body for `event`: the same on every attempt.
pub fn webhook_body(event: &Event) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(event.at_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let timestamp = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let body = Body {
        r#type: event.kind.as_str(),
        timestamp,
        refund_id: event.refund_id.map(|r| r.to_string()),
        capture_id: event.capture_id.map(|c| c.to_string()),
        data: view(&event.data, event.at_ms),
    };
    serde_json::to_string(&body).expect("a webhook body serialises")
}
