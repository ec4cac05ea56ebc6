//! The port to the acquiring bank. Adapters classify every failure as transient or permanent,
//! because that is what decides whether the same request may be tried again.
use async_trait::async_trait;

use super::card::CardDetails;
use super::ids::{CaptureId, PaymentId, RefundId};
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

impl ChargeRequest {
    /// The same request as an authorization's: its own key, so the bank never confuses the two.
    pub fn authorization_key(&self) -> String {
        format!("authorize-{}", self.payment_id)
    }
}

/// The answer to an authorization (a manual-capture payment's hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationOutcome {
    Approved { bank_authorization_id: String, expires_at_ms: u64 },
    Declined { reason: String },
}

/// A capture of part or all of what is left of an authorization, keyed by the capture's id.
#[derive(Debug, Clone)]
pub struct CaptureRequest {
    pub capture_id: CaptureId,
    pub bank_authorization_id: String,
    pub amount: Amount,
    pub currency: Currency,
    pub final_capture: bool,
}

impl CaptureRequest {
    pub fn idempotency_key(&self) -> String {
        format!("capture-{}", self.capture_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankCaptureOutcome {
    Succeeded {
        bank_capture_id: String,
    },
    /// A definitive refusal (e.g. `exceeds_authorized_amount`, `authorization_expired`).
    Rejected {
        reason: String,
    },
}

/// A void of what is left of an authorization. Sending it again never moves money (a second
/// void releases nothing), so it needs no inquiry.
#[derive(Debug, Clone)]
pub struct VoidRequest {
    pub payment_id: PaymentId,
    pub bank_authorization_id: String,
}

impl VoidRequest {
    pub fn idempotency_key(&self) -> String {
        format!("void-{}", self.payment_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoidOutcome {
    /// What was left is released (nothing, for one voided or expired before).
    Released { amount: u64 },
    /// Refused: e.g. `authorization_closed` (a final capture released the rest already).
    Rejected { reason: String },
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

    /// Holds a manual-capture payment's amount on the card.
    async fn authorize(&self, _req: &ChargeRequest) -> Result<AuthorizationOutcome, BankError> {
        Err(BankError::Permanent("manual_capture_unsupported".into()))
    }

    /// Status inquiry of authorizations, as `charges_for`.
    async fn authorizations_for(&self, _payment: PaymentId) -> Result<Vec<AuthorizationOutcome>, BankError> {
        Ok(Vec::new())
    }

    async fn capture(&self, _req: &CaptureRequest) -> Result<BankCaptureOutcome, BankError> {
        Err(BankError::Permanent("manual_capture_unsupported".into()))
    }

    /// Status inquiry of captures, by the capture's id.
    async fn captures_for(&self, _capture: CaptureId) -> Result<Vec<BankCaptureOutcome>, BankError> {
        Ok(Vec::new())
    }

    async fn void(&self, _req: &VoidRequest) -> Result<VoidOutcome, BankError> {
        Err(BankError::Permanent("manual_capture_unsupported".into()))
    }
}
