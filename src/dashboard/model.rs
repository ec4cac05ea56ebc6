//! The API's resources as the dashboard reads them: only what the pages show. Fields the API
//! adds later are ignored, so an older dashboard keeps working beside a newer API.
use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Payment {
    #[serde(rename = "PaymentID")]
    pub id: String,
    #[serde(rename = "CustomerID")]
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub price: u64,
    pub currency: String,
    pub status: String,
    pub version: u64,
    pub reason: Option<String>,
    pub card_last4: String,
    pub timestamp: u64,
    pub refunded_amount: u64,
    pub refundable_amount: u64,
    pub merchant_reference: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    pub capture_method: String,
    pub authorized_amount: Option<u64>,
    pub captured_amount: Option<u64>,
    pub capturable_amount: Option<u64>,
    pub authorization_expires_at: Option<u64>,
    pub cancel_requested_at: Option<u64>,
    #[serde(default)]
    pub captures: Vec<Capture>,
}

impl Payment {
    pub fn is_manual(&self) -> bool {
        self.capture_method == "manual"
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Refund {
    #[serde(rename = "RefundID")]
    pub id: String,
    pub amount: u64,
    pub status: String,
    pub reason: Option<String>,
    pub timestamp: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Capture {
    #[serde(rename = "CaptureID")]
    pub id: String,
    pub amount: u64,
    pub status: String,
    pub final_capture: bool,
    pub reason: Option<String>,
    pub timestamp: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentPage {
    pub payments: Vec<Payment>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    #[serde(rename = "EventID")]
    pub id: String,
    pub r#type: String,
    pub timestamp: u64,
    pub version: u64,
    pub actor: String,
    #[serde(rename = "TraceID")]
    pub trace_id: Option<String>,
    #[serde(rename = "PaymentID")]
    pub payment_id: String,
    #[serde(rename = "RefundID")]
    pub refund_id: Option<String>,
    #[serde(rename = "CaptureID")]
    pub capture_id: Option<String>,
    pub data: Payment,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attempt {
    #[serde(rename = "WebhookEndpointID")]
    pub endpoint_id: String,
    pub attempt: u32,
    pub timestamp: u64,
    pub latency_ms: u64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttemptList {
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Redelivery {
    pub endpoints: usize,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    #[serde(rename = "WebhookEndpointID")]
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub created_at: u64,
    /// Only in the answers of create and rotate-secret.
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointList {
    pub webhook_endpoints: Vec<Endpoint>,
}

/// `GET /token` (development mode only).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Token {
    pub authentication_token: String,
    pub authentication_token_expiry: u64,
    #[serde(rename = "MerchantID")]
    pub merchant_id: String,
}

/// The body of every error answer: `{"Error": {"Code", "Message", "Fields"?}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorEnvelope {
    #[serde(rename = "Error")]
    pub error: ErrorBody,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub fields: Vec<FieldProblem>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}
