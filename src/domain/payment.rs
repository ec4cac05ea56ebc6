//! A payment and its refunds, as stored and as shown.
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
}

impl NewPayment {
    /// The payment as it is first stored: PENDING, nothing refunded, its card sealed.
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
            refundable_left: self.amount.get(),
            refund_timestamp_ms: None,
            version: 1,
            bank_attempts: None,
            tags: self.tags.clone(),
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
}

impl Payment {
    /// True once succeeded refunds add up to the price.
    pub fn fully_refunded(&self) -> bool {
        self.refunded_amount >= self.amount.get()
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
    /// Clients poll until this is false.
    pub fn in_flight(&self) -> bool {
        !self.payment.status.is_final() || self.refunds.iter().any(|r| !r.status.is_final())
    }
}

/// How a charge ended: one typed update per final transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    Succeeded { bank_charge_id: String },
    Declined { reason: String },
    Failed { reason: String },
}

impl PaymentOutcome {
    pub fn status(&self) -> PaymentStatus {
        match self {
            Self::Succeeded { .. } => PaymentStatus::Succeeded,
            Self::Declined { .. } => PaymentStatus::Declined,
            Self::Failed { .. } => PaymentStatus::Failed,
        }
    }
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
