//! A payment and its refunds, as stored and as shown.
use super::capture::{Authorization, CaptureMethod};
use super::card::{CardDetails, SealedCard};
use super::ids::{MerchantId, PaymentId, RefundId};
use super::inquiry::Attempts;
use super::money::{Amount, Currency};
use super::reference::{Metadata, Tags};
use super::status::{PaymentStatus, RefundStatus};

/// What a merchant asks for; every field already validated.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub amount: Amount,
    pub currency: Currency,
    pub card: CardDetails,
    pub tags: Tags,
    pub capture_method: CaptureMethod,
}

/// A payment as it is written the first time: PENDING, card sealed.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub id: PaymentId,
    pub merchant_id: MerchantId,
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub amount: Amount,
    pub currency: Currency,
    pub card_last4: String,
    pub sealed_card: SealedCard,
    pub created_at_ms: u64,
    pub tags: Tags,
    pub capture_method: CaptureMethod,
}

impl NewPayment {
    /// The payment as it is first stored: PENDING, nothing refunded, its card sealed. A
    /// manual-capture payment has nothing to refund until something is captured.
    pub fn pending(&self) -> Payment {
        Payment {
            id: self.id,
            merchant_id: self.merchant_id.clone(),
            customer_id: self.customer_id.clone(),
            customer_name: self.customer_name.clone(),
            amount: self.amount,
            currency: self.currency,
            status: PaymentStatus::Pending,
            reason: None,
            card_last4: self.card_last4.clone(),
            sealed_card: Some(self.sealed_card.clone()),
            bank_charge_id: None,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.created_at_ms,
            refunded_amount: 0,
            refundable_left: match self.capture_method {
                CaptureMethod::Automatic => self.amount.get(),
                CaptureMethod::Manual => 0,
            },
            refund_timestamp_ms: None,
            version: 1,
            bank_attempts: None,
            tags: self.tags.clone(),
            authorization: (self.capture_method == CaptureMethod::Manual).then(Authorization::default),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub merchant_id: MerchantId,
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub amount: Amount,
    pub currency: Currency,
    pub status: PaymentStatus,
    /// Why it was declined or failed.
    pub reason: Option<String>,
    pub card_last4: String,
    /// Present only until the payment is final: the write that makes it final erases it.
    pub sealed_card: Option<SealedCard>,
    pub bank_charge_id: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// Sum of SUCCEEDED refunds.
    pub refunded_amount: u64,
    /// Price minus every refund not FAILED: what a new refund may still take.
    pub refundable_left: u64,
    pub refund_timestamp_ms: Option<u64>,
    /// How many events the payment has (its refunds' included): each change adds one.
    pub version: u64,
    /// When the charge was sent to the bank (first and latest), once it was.
    pub bank_attempts: Option<Attempts>,
    /// The merchant's reference and metadata, as given at creation.
    pub tags: Tags,
    /// A manual-capture payment's authorization and captures; `None` for an automatic one.
    pub authorization: Option<Authorization>,
}

impl Payment {
    pub fn capture_method(&self) -> CaptureMethod {
        if self.authorization.is_some() { CaptureMethod::Manual } else { CaptureMethod::Automatic }
    }

    /// What a new capture may take now: nothing unless AUTHORIZED, unexpired at `now_ms`, not
    /// being canceled and not closed by a final capture.
    pub fn capturable_now(&self, now_ms: u64) -> u64 {
        match &self.authorization {
            Some(a)
                if self.status == PaymentStatus::Authorized
                    && !a.expired_at(now_ms)
                    && a.cancel_requested_at_ms.is_none()
                    && !a.closed_by_final_capture() =>
            {
                a.capturable_left
            }
            _ => 0,
        }
    }

    /// True once succeeded refunds add up to the price.
    /// (With manual capture: once succeeded refunds add up to what was captured.)
    pub fn fully_refunded(&self) -> bool {
        match &self.authorization {
            Some(a) => a.captured_amount > 0 && self.refunded_amount >= a.captured_amount,
            None => self.refunded_amount >= self.amount.get(),
        }
    }

    /// When the repair pass should look at this payment again, written `at_ms`: a manual-capture
    /// payment AUTHORIZED with nothing under way waits for its merchant until its expiry; anything
    /// else, from now (`REPAIR_AFTER_SECS` later).
    pub fn repair_due_ms(&self, at_ms: u64) -> u64 {
        match &self.authorization {
            Some(a) if self.status == PaymentStatus::Authorized && a.waits_on_merchant() => {
                a.expires_at_ms.unwrap_or(at_ms).max(at_ms)
            }
            _ => at_ms,
        }
    }

    /// What a new refund may still ask for: nothing once the payment was declined or failed
    /// (no money moved), otherwise the price minus refunds that have not failed. A payment still
    /// in flight shows its full amount: a refund asked now is carried out once it succeeds.
    pub fn refundable_now(&self) -> u64 {
        match self.status {
            PaymentStatus::Declined | PaymentStatus::Failed => 0,
            _ => self.refundable_left,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub merchant_id: MerchantId,
    pub amount: Amount,
    pub currency: Currency,
    pub status: RefundStatus,
    pub reason: Option<String>,
    pub bank_refund_id: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// When the refund was sent to the bank (first and latest), once it was.
    pub bank_attempts: Option<Attempts>,
    pub metadata: Metadata,
}

/// A payment with its refunds, oldest refund first: one item collection, one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    pub payment: Payment,
    pub refunds: Vec<Refund>,
}

impl PaymentView {
    /// Clients poll until this is false. An AUTHORIZED payment waits on its merchant (to capture
    /// or cancel), not on a worker, unless a capture or a cancel is under way.
    pub fn in_flight(&self) -> bool {
        let p = &self.payment;
        let payment = match (&p.authorization, p.status) {
            (Some(a), PaymentStatus::Authorized) => !a.waits_on_merchant(),
            (_, status) => !status.is_final(),
        };
        payment || self.refunds.iter().any(|r| !r.status.is_final())
    }
}

/// How a charge ended: one typed update per final transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    Succeeded {
        bank_charge_id: String,
    },
    Declined {
        reason: String,
    },
    Failed {
        reason: String,
    },
    /// A manual-capture payment's hold, approved.
    Authorized {
        bank_authorization_id: String,
        expires_at_ms: u64,
    },
    /// A manual-capture payment ends: SUCCEEDED for what was captured, CANCELED when nothing
    /// was (`reason`: why, when it was not the merchant's cancel).
    Ended {
        reason: Option<String>,
    },
}

/// How a refund ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Succeeded { bank_refund_id: String },
    Failed { reason: String },
}

/// A refund as it is written the first time, with the amount it reserves on its payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub merchant_id: MerchantId,
    pub amount: Amount,
    pub currency: Currency,
    pub created_at_ms: u64,
    pub metadata: Metadata,
}

impl NewRefund {
    /// The refund as it is first stored: PENDING.
    pub fn pending(&self) -> Refund {
        Refund {
            id: self.id,
            payment_id: self.payment_id,
            merchant_id: self.merchant_id.clone(),
            amount: self.amount,
            currency: self.currency,
            status: RefundStatus::Pending,
            reason: None,
            bank_refund_id: None,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.created_at_ms,
            bank_attempts: None,
            metadata: self.metadata.clone(),
        }
    }
}
