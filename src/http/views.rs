//! What clients see of a payment: the card only as its last four digits, never sealed data.
use serde::Serialize;

use crate::domain::payment::{Payment, PaymentView, Refund};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RefundBody {
    #[serde(rename = "RefundID")]
    refund_id: String,
    amount: u64,
    currency: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    timestamp: u64,
    updated_timestamp: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentBody {
    #[serde(rename = "PaymentID")]
    payment_id: String,
    #[serde(rename = "MerchantID")]
    merchant_id: String,
    #[serde(rename = "CustomerID")]
    customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_name: Option<String>,
    price: u64,
    currency: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    card_last4: String,
    /// Creation time, ms since the epoch.
    timestamp: u64,
    updated_timestamp: u64,
    refunded: bool,
    refunded_amount: u64,
    /// What a new refund may still take (price minus refunds that have not failed).
    refundable_amount: u64,
    refund_timestamp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refunds: Option<Vec<RefundBody>>,
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
    }
}

pub fn payment(p: &Payment, refunds: Option<&[Refund]>) -> PaymentBody {
    PaymentBody {
        payment_id: p.id.to_string(),
        merchant_id: p.merchant_id.to_string(),
        customer_id: p.customer_id.clone(),
        customer_name: p.customer_name.clone(),
        price: p.amount.get(),
        currency: p.currency.as_str(),
        status: p.status.as_str(),
        reason: p.reason.clone(),
        card_last4: p.card_last4.clone(),
        timestamp: p.created_at_ms,
        updated_timestamp: p.updated_at_ms,
        refunded: p.fully_refunded(),
        refunded_amount: p.refunded_amount,
        refundable_amount: p.refundable_left,
        refund_timestamp: p.refund_timestamp_ms,
        refunds: refunds.map(|rs| rs.iter().map(refund).collect()),
    }
}

pub fn view(v: &PaymentView) -> PaymentBody {
    payment(&v.payment, Some(&v.refunds))
}
