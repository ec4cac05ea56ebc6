//! A payment and its refunds as clients see them, in the API's answers and in webhook bodies
//! alike: the card only as its last four digits, never sealed data.
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::capture::Capture;
use crate::domain::payment::{Payment, PaymentView, Refund};

/// `PENDING -> PROCESSING -> SUCCEEDED | DECLINED | FAILED`; with manual capture
/// `PENDING -> PROCESSING -> AUTHORIZED | DECLINED | FAILED`, then `AUTHORIZED -> SUCCEEDED`
/// (something captured) `| CANCELED` (nothing captured). A final state never changes.
#[derive(ToSchema)]
#[schema(as = PaymentStatus)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)] // a schema for the `&'static str` the domain's `PaymentStatus::as_str` gives
pub enum PaymentStatusDoc {
    Pending,
    Processing,
    Authorized,
    Succeeded,
    Declined,
    Failed,
    Canceled,
}

/// One capture of a manual-capture payment.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = Capture)]
pub struct CaptureBody {
    #[serde(rename = "CaptureID")]
    #[schema(format = "uuid")]
    capture_id: String,
    /// Minor units.
    amount: u64,
    /// `PENDING -> PROCESSING -> SUCCEEDED | FAILED`.
    #[schema(value_type = RefundStatusDoc)]
    status: &'static str,
    /// Nothing more was to be captured after it.
    final_capture: bool,
    /// Why it failed (e.g. `authorization_expired`), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<String>,
    /// Creation time, ms since the epoch.
    timestamp: u64,
    /// Last change, ms since the epoch.
    updated_timestamp: u64,
    /// The merchant's metadata (`{}` when none).
    metadata: std::collections::BTreeMap<String, String>,
}

/// `PENDING -> PROCESSING -> SUCCEEDED | FAILED`; a final state never changes.
#[derive(ToSchema)]
#[schema(as = RefundStatus)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)] // as above, for `RefundStatus::as_str`
pub enum RefundStatusDoc {
    Pending,
    Processing,
    Succeeded,
    Failed,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = Refund)]
pub struct RefundBody {
    #[serde(rename = "RefundID")]
    #[schema(format = "uuid")]
    refund_id: String,
    /// Minor units.
    amount: u64,
    #[schema(example = "EUR")]
    currency: &'static str,
    #[schema(value_type = RefundStatusDoc)]
    status: &'static str,
    /// Why it failed (e.g. `payment_declined`), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<String>,
    /// Creation time, ms since the epoch.
    timestamp: u64,
    /// Last change, ms since the epoch.
    updated_timestamp: u64,
    /// The merchant's metadata, as given when it asked for the refund (`{}` when none).
    #[schema(example = json!({"reason": "damaged"}))]
    metadata: std::collections::BTreeMap<String, String>,
}

/// A payment. Its `Refunds` are listed by `GET /payments/{id}`, not in lists.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = Payment)]
pub struct PaymentBody {
    #[serde(rename = "PaymentID")]
    #[schema(format = "uuid")]
    payment_id: String,
    #[serde(rename = "MerchantID")]
    merchant_id: String,
    #[serde(rename = "CustomerID")]
    customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    customer_name: Option<String>,
    /// Minor units.
    price: u64,
    /// ISO 4217.
    #[schema(example = "EUR")]
    currency: &'static str,
    #[schema(value_type = PaymentStatusDoc)]
    status: &'static str,
    /// How many events the payment has had (its refunds' included): it rises by one with each
    /// change, so of two copies the one with the higher `Version` is the later.
    #[schema(example = 3)]
    version: u64,
    /// Why it was declined or failed (e.g. `card_declined`), when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<String>,
    #[schema(example = "1234")]
    card_last4: String,
    /// Creation time, ms since the epoch.
    timestamp: u64,
    /// Last change, ms since the epoch.
    updated_timestamp: u64,
    /// True once succeeded refunds add up to the price.
    refunded: bool,
    /// The sum of succeeded refunds, minor units.
    refunded_amount: u64,
    /// What a new refund may still take: price minus refunds that have not failed; 0 once the
    /// payment is DECLINED or FAILED.
    refundable_amount: u64,
    /// The latest succeeded refund, ms since the epoch; null before one.
    #[schema(required = true)]
    refund_timestamp: Option<u64>,
    /// The merchant's own reference (its order id), when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "order-10023")]
    merchant_reference: Option<String>,
    /// The merchant's metadata (`{}` when none).
    #[schema(example = json!({"channel": "web"}))]
    metadata: std::collections::BTreeMap<String, String>,
    /// Only in `GET /payments/{id}`: its refunds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    refunds: Option<Vec<RefundBody>>,
    /// `automatic` or `manual`.
    #[schema(example = "manual")]
    capture_method: &'static str,
    /// Manual capture only: what the bank holds (0 until `AUTHORIZED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    authorized_amount: Option<u64>,
    /// Manual capture only: the sum of succeeded captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    captured_amount: Option<u64>,
    /// Manual capture only: what a new capture may take now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    capturable_amount: Option<u64>,
    /// Manual capture only: until when the bank holds the money (ms since the epoch), once authorized.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    authorization_expires_at: Option<u64>,
    /// Manual capture only: when the merchant asked to cancel, until the payment is final.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    cancel_requested_at: Option<u64>,
    /// Manual capture only: its captures, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    captures: Option<Vec<CaptureBody>>,
}

fn refund(r: &Refund) -> RefundBody {
    RefundBody {
        refund_id: r.id.to_string(),
        amount: r.amount.get(),
        currency: r.currency.as_str(),
        status: r.status.as_str(),
        reason: r.reason.clone(),
        timestamp: r.created_at_ms,
        updated_timestamp: r.updated_at_ms,
        metadata: r.metadata.pairs().clone(),
    }
}

fn capture(c: &Capture) -> CaptureBody {
    CaptureBody {
        capture_id: c.id.to_string(),
        amount: c.amount.get(),
        status: c.status.as_str(),
        final_capture: c.final_capture,
        reason: c.reason.clone(),
        timestamp: c.created_at_ms,
        updated_timestamp: c.updated_at_ms,
        metadata: c.metadata.pairs().clone(),
    }
}

/// `p` as clients see it at `now_ms` (what may still be captured depends on the time: an event
/// is rendered at its own time, so its body is the same on every read and every delivery).
pub fn payment(p: &Payment, refunds: Option<&[Refund]>, now_ms: u64) -> PaymentBody {
    let a = p.authorization.as_ref();
    let now = now_ms;
    PaymentBody {
        payment_id: p.id.to_string(),
        merchant_id: p.merchant_id.to_string(),
        customer_id: p.customer_id.clone(),
        customer_name: p.customer_name.clone(),
        price: p.amount.get(),
        currency: p.currency.as_str(),
        status: p.status.as_str(),
        version: p.version,
        reason: p.reason.clone(),
        card_last4: p.card_last4.clone(),
        timestamp: p.created_at_ms,
        updated_timestamp: p.updated_at_ms,
        refunded: p.fully_refunded(),
        refunded_amount: p.refunded_amount,
        refundable_amount: p.refundable_now(),
        refund_timestamp: p.refund_timestamp_ms,
        merchant_reference: p.tags.merchant_reference.as_ref().map(|r| r.as_str().to_owned()),
        metadata: p.tags.metadata.pairs().clone(),
        refunds: refunds.map(|rs| rs.iter().map(refund).collect()),
        capture_method: p.capture_method().as_str(),
        authorized_amount: a.map(|a| a.authorized_amount),
        captured_amount: a.map(|a| a.captured_amount),
        capturable_amount: a.map(|_| p.capturable_now(now)),
        authorization_expires_at: a.and_then(|a| a.expires_at_ms),
        cancel_requested_at: a.and_then(|a| a.cancel_requested_at_ms).filter(|_| !p.status.is_final()),
        captures: a.map(|a| a.captures.iter().map(capture).collect()),
    }
}

pub fn view(v: &PaymentView, now_ms: u64) -> PaymentBody {
    payment(&v.payment, Some(&v.refunds), now_ms)
}
