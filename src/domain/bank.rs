//! The port to the acquiring bank. Adapters classify every failure as transient or permanent,
//! because that is what decides whether the same request may be tried again.
use async_trait::async_trait;

use super::card::CardDetails;
use super::ids::{PaymentId, RefundId};
use super::money::{Amount, Currency};

/// A charge, keyed for idempotency by the stored payment's id: a retry moves no money twice.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub payment_id: PaymentId,
    pub amount: Amount,
    pub currency: Currency,
    pub card: CardDetails,
}

impl ChargeRequest {
    pub fn idempotency_key(&self) -> String {
        format!("charge-{}", self.payment_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Approved {
        bank_charge_id: String,
    },
    /// A definitive "no" from the bank, with its reason code (e.g. `card_declined`).
    Declined {
        reason: String,
    },
}

/// A refund of (part of) an approved charge, keyed by the stored refund's id.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub refund_id: RefundId,
    pub bank_charge_id: String,
    pub amount: Amount,
    pub currency: Currency,
}

impl RefundRequest {
    pub fn idempotency_key(&self) -> String {
        format!("refund-{}", self.refund_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankRefundOutcome {
    Succeeded {
        bank_refund_id: String,
    },
    /// A definitive refusal (e.g. the charge is unknown or already refunded in full).
    Rejected {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    /// The request never reached the bank (the connection was refused): sending it again
    /// cannot apply it twice.
    #[error("bank unreachable, nothing sent: {0}")]
    Unsent(String),
    /// The outcome is unknown or the bank is unwell (timeout, reset, 5xx, key in flight): the
    /// request may have been applied, now or later. Ask the bank before sending it again.
    #[error("bank unavailable or outcome unknown: {0}")]
    Transient(String),
    /// The bank refused the request itself (not the card): retrying cannot help.
    #[error("bank refused the request: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Bank: Send + Sync {
    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, BankError>;
    async fn refund(&self, req: &RefundRequest) -> Result<BankRefundOutcome, BankError>;

    /// Status inquiry: every charge the bank applied with the payment as its reference, oldest
    /// first, whatever key it came with. The bank's books never forget, unlike its keys.
    async fn charges_for(&self, payment: PaymentId) -> Result<Vec<ChargeOutcome>, BankError>;

    /// The same for a refund.
    async fn refunds_for(&self, refund: RefundId) -> Result<Vec<BankRefundOutcome>, BankError>;
}
