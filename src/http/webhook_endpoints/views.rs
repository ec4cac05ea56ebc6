//! What clients see of webhook endpoints. A secret appears only in the
//! answer that created it (create, rotate-secret).
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::webhooks::Endpoint;

/// A webhook endpoint.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = WebhookEndpoint)]
pub struct EndpointBody {
    #[serde(rename = "WebhookEndpointID")]
    #[schema(example = "we_4f1d2c3b4a5968778695a4b3c2d1e0f9")]
    webhook_endpoint_id: String,
    #[schema(example = "https://shop.example.com/webhooks/payments")]
    url: String,
    /// The event types delivered; empty: every type.
    #[schema(example = json!(["payment.succeeded", "refund.succeeded"]))]
    event_types: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    description: Option<String>,
    /// `enabled` or `disabled`.
    #[schema(example = "enabled")]
    status: &'static str,
    /// Why it was disabled: `gone` (it answered 410) or `failing` (no success for 5 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    disabled_reason: Option<String>,
    /// When it was created, ms since the epoch.
    created_at: u64,
    /// The signing secret: only in the answers of `POST /webhook-endpoints` and
    /// `POST /webhook-endpoints/{id}/rotate-secret`. Store it: it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    secret: Option<String>,
}

pub fn endpoint(e: &Endpoint, secret: Option<String>) -> EndpointBody {
    EndpointBody {
        webhook_endpoint_id: e.id.to_string(),
        url: e.url.to_string(),
        event_types: e.event_types.iter().map(|t| t.as_str()).collect(),
        description: e.description.clone(),
        status: e.status.as_str(),
        disabled_reason: e.disabled_reason.clone(),
        created_at: e.created_ms,
        secret,
    }
}

/// The merchant's endpoints, oldest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointList {
    webhook_endpoints: Vec<EndpointBody>,
}

pub fn endpoints(all: &[Endpoint]) -> EndpointList {
    EndpointList { webhook_endpoints: all.iter().map(|e| endpoint(e, None)).collect() }
}
