//! The payments resource's own bodies beside the payment itself (`wire::payment`): a page of
//! payments and the 202s. Every body the API sends is a type of `http` or `wire` (or
//! `error::ErrorEnvelope`), so the OpenAPI schemas are derived from what serde emits; the 202s
//! are rendered from what was accepted (`domain::idempotency::Accepted`, kept for replays).
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::idempotency::Accepted;
use crate::domain::ids::PaymentId;
use crate::domain::payment::Payment;
use crate::wire::payment::{PaymentBody, payment};

/// One page of the merchant's payments, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentPage {
    payments: Vec<PaymentBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

// The 202 bodies. Their fields are declared in the order of their JSON names, the order earlier
// releases wrote them in, so a replay of a key answered by one of those is the same bytes.

/// `POST /payments` accepted it (or an idempotent replay returns the first answer).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentAccepted {
    /// Always `PENDING` here: poll `GET /payments/{id}` for the outcome.
    #[schema(value_type = crate::wire::payment::PaymentStatusDoc, example = "PENDING")]
    status: &'static str,
    #[serde(rename = "paymentID")]
    #[schema(format = "uuid")]
    payment_id: String,
}

/// `PATCH /payments/{id}/refund` accepted it (or an idempotent replay returns the first answer).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RefundAccepted {
    /// Minor units.
    amount: u64,
    #[schema(example = "EUR")]
    currency: &'static str,
    #[serde(rename = "PaymentID")]
    #[schema(format = "uuid")]
    payment_id: String,
    #[serde(rename = "RefundID")]
    #[schema(format = "uuid")]
    refund_id: String,
    /// Always `PENDING` here: its progress shows in the payment's `Refunds`.
    #[schema(value_type = crate::wire::payment::RefundStatusDoc, example = "PENDING")]
    status: &'static str,
}

/// `POST /payments/{id}/capture` accepted it (or an idempotent replay returns the first answer).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CaptureAccepted {
    #[serde(rename = "CaptureID")]
    #[schema(format = "uuid")]
    capture_id: String,
    #[serde(rename = "PaymentID")]
    #[schema(format = "uuid")]
    payment_id: String,
    /// Minor units.
    amount: u64,
    #[schema(example = "EUR")]
    currency: &'static str,
    /// Nothing more will be captured after it; the bank releases the rest.
    final_capture: bool,
    /// Always `PENDING` here: its progress shows in the payment's `Captures`.
    #[schema(value_type = crate::wire::payment::RefundStatusDoc, example = "PENDING")]
    status: &'static str,
}

/// `POST /payments/{id}/cancel` accepted it: the payment-worker releases what is not captured,
/// and the payment ends `CANCELED` (or `SUCCEEDED` for what was captured).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CancelAccepted {
    #[serde(rename = "PaymentID")]
    #[schema(format = "uuid")]
    payment_id: String,
    #[schema(example = true)]
    cancel_requested: bool,
}

/// The 202's body for what was accepted, and the payment it is about (its `Location`).
pub fn accepted(answer: &Accepted) -> (PaymentId, String) {
    let (payment, body) = match answer {
        Accepted::Payment { payment_id } => (
            *payment_id,
            serde_json::to_string(&PaymentAccepted { status: "PENDING", payment_id: payment_id.to_string() }),
        ),
        Accepted::Refund { refund_id, payment_id, amount, currency } => (
            *payment_id,
            serde_json::to_string(&RefundAccepted {
                amount: amount.get(),
                currency: currency.as_str(),
                payment_id: payment_id.to_string(),
                refund_id: refund_id.to_string(),
                status: "PENDING",
            }),
        ),
        Accepted::Capture { capture_id, payment_id, amount, currency, final_capture } => (
            *payment_id,
            serde_json::to_string(&CaptureAccepted {
                capture_id: capture_id.to_string(),
                payment_id: payment_id.to_string(),
                amount: amount.get(),
                currency: currency.as_str(),
                final_capture: *final_capture,
                status: "PENDING",
            }),
        ),
        Accepted::Cancel { payment_id } => (
            *payment_id,
            serde_json::to_string(&CancelAccepted { payment_id: payment_id.to_string(), cancel_requested: true }),
        ),
    };
    (payment, body.expect("a 202 body serialises"))
}

pub fn page(payments: &[Payment], next_cursor: Option<String>, now_ms: u64) -> PaymentPage {
    PaymentPage { payments: payments.iter().map(|p| payment(p, None, now_ms)).collect(), next_cursor }
}
