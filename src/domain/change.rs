//! Changes. Each typed transition, applied to a payment as it was read, gives the payment as it
//! must now be written and the event that records it: one `Change`, which a store writes in one
//! write, conditioned on the payment still being at the version it was read at. So the event
//! and the change land together or not at all, and of two racing writers only one lands: the
//! other reads again and decides anew. The state rules live here and only here (the stores
//! only check versions); a move that changes nothing is refused, so it records nothing.
use super::capture::{CaptureOutcome, NewCapture};
use super::events::{Cause, Event, EventType};
use super::ids::{CaptureId, RefundId};
use super::inquiry::Attempts;
use super::payment::{NewPayment, NewRefund, PaymentOutcome, PaymentView, Refund, RefundOutcome};
use super::status::{PaymentStatus, RefundStatus};

/// One move of a payment or of one of its refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    PaymentProcessing,
    PaymentSettled(PaymentOutcome),
    RefundCreated(NewRefund),
    RefundProcessing(RefundId),
    RefundSettled(RefundId, RefundOutcome),
    /// A manual-capture payment: the merchant asks to capture (`domain::capture`).
    CaptureCreated(NewCapture),
    CaptureProcessing(CaptureId),
    CaptureSettled(CaptureId, CaptureOutcome),
    /// A manual-capture payment: the merchant asks to cancel; carried out by the payment-worker.
    CancelRequested,
}

/// Why a transition does not apply to the payment as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Already there or past it (a duplicate or late result), or not yet possible.
    #[error("the record is not in a state that allows this")]
    WrongState,
    #[error("not enough left to refund")]
    InsufficientRefundable,
    #[error("the payment has no such refund")]
    UnknownRefund,
    #[error("the payment has as many refunds as it may have")]
    TooManyRefunds,
    /// Not a manual-capture payment that is AUTHORIZED, open to captures.
    #[error("the payment cannot be captured")]
    NotCapturable,
    #[error("the authorization has expired")]
    AuthorizationExpired,
    #[error("not enough left to capture")]
    InsufficientCapturable,
    #[error("the payment has as many captures as it may have")]
    TooManyCaptures,
    #[error("the payment has no such capture")]
    UnknownCapture,
    /// Automatic, final, or with a capture in flight.
    #[error("the payment cannot be canceled")]
    NotCancelable,
}

/// Refunds one payment may have. Each event carries its payment with every refund, and an
/// item holds at most 400 KB: the cap keeps the last event of a payment far below that.
pub const MAX_REFUNDS: usize = 100;

/// A change ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The payment and its refunds after the change, as stored (the sealed card stays until
    /// the payment is final); `view.payment.version` is the event's version.
    pub view: PaymentView,
    /// The refund this change writes, if it writes one.
    pub refund: Option<RefundId>,
    pub event: Event,
    /// When set, the change lands only while the bank attempts of its charge (or of its refund)
    /// are still these: the last attempt noted, `None` for none. A worker that ends a request
    /// the bank never applied sets it, so a re-send noted meanwhile stops it.
    pub attempts_guard: Option<Option<u64>>,
    /// Whether its event goes to the merchant's webhooks: it is then put in the due-time index
    /// in the same write (the use case decides; see `app::notify`).
    pub notify: bool,
}

impl Change {
    /// The version the payment must still have for this change to land.
    pub fn read_version(&self) -> u64 {
        self.view.payment.version - 1
    }

    /// Whether the payment item is new (the first change of a payment).
    pub fn creates_payment(&self) -> bool {
        self.event.kind == EventType::PaymentCreated
    }

    /// Whether the refund item is new.
    pub fn creates_refund(&self) -> bool {
        self.event.kind == EventType::RefundCreated
    }

    /// The refund this change writes, as it is to be stored.
    pub fn written_refund(&self) -> Option<&Refund> {
        let id = self.refund?;
        self.view.refunds.iter().find(|r| r.id == id)
    }

    /// A payment's first change: its creation, at version 1.
    pub fn payment_created(new: &NewPayment, cause: Cause) -> Self {
        let view = PaymentView { payment: new.pending(), refunds: Vec::new() };
        Self::record(view, None, EventType::PaymentCreated, new.created_at_ms, cause)
    }

    fn record(view: PaymentView, refund: Option<RefundId>, kind: EventType, at_ms: u64, cause: Cause) -> Self {
        let mut data = view.clone();
        data.payment.sealed_card = None;
        let event =
            Event { kind, version: view.payment.version, at_ms, cause, refund_id: refund, capture_id: None, data };
        Self { view, refund, event, attempts_guard: None, notify: false }
    }
}

impl PaymentView {
    /// `t` applied at `now_ms` on behalf of `cause`, or why it does not apply to this payment.
    pub fn apply(&self, t: Transition, now_ms: u64, cause: Cause) -> Result<Change, Refused> {
        let mut view = self.clone();
        let mut capture = None;
        let (kind, refund) = match t {
            Transition::PaymentProcessing => {
                // A manual-capture payment canceled before it was sent is ended, never sent.
                if view.payment.authorization.as_ref().is_some_and(|a| a.cancel_requested_at_ms.is_some()) {
                    return Err(Refused::WrongState);
                }
                move_payment(&mut view, PaymentStatus::Processing, now_ms)?;
                // The worker sends the charge right after this write: the key's first use.
                view.payment.bank_attempts = Some(Attempts::at(now_ms));
                (EventType::PaymentProcessing, None)
            }
            Transition::PaymentSettled(
                outcome @ (PaymentOutcome::Authorized { .. } | PaymentOutcome::Ended { .. }),
            ) => (super::capture_change::settle(&mut view, outcome, now_ms)?, None),
            Transition::PaymentSettled(outcome) => {
                let to = match &outcome {
                    PaymentOutcome::Succeeded { .. } => PaymentStatus::Succeeded,
                    PaymentOutcome::Declined { .. } => PaymentStatus::Declined,
                    _ => PaymentStatus::Failed,
                };
                if to == PaymentStatus::Succeeded && view.payment.authorization.is_some() {
                    // A manual-capture payment succeeds only by its captures (`Ended`).
                    return Err(Refused::WrongState);
                }
                move_payment(&mut view, to, now_ms)?;
                let p = &mut view.payment;
                p.sealed_card = None;
                let kind = match outcome {
                    PaymentOutcome::Succeeded { bank_charge_id } => {
                        p.bank_charge_id = Some(bank_charge_id);
                        EventType::PaymentSucceeded
                    }
                    PaymentOutcome::Declined { reason } => {
                        p.reason = Some(reason);
                        EventType::PaymentDeclined
                    }
                    PaymentOutcome::Failed { reason } => {
                        p.reason = Some(reason);
                        EventType::PaymentFailed
                    }
                    PaymentOutcome::Authorized { .. } | PaymentOutcome::Ended { .. } => {
                        unreachable!("matched above")
                    }
                };
                (kind, None)
            }
            Transition::CaptureCreated(new) => {
                let id = new.id;
                capture = Some(id);
                (super::capture_change::create(&mut view, new, now_ms)?, None)
            }
            Transition::CaptureProcessing(id) => {
                capture = Some(id);
                (super::capture_change::processing(&mut view, id, now_ms)?, None)
            }
            Transition::CaptureSettled(id, outcome) => {
                capture = Some(id);
                (super::capture_change::settled(&mut view, id, outcome, now_ms)?, None)
            }
            Transition::CancelRequested => (super::capture_change::cancel_requested(&mut view, now_ms)?, None),
            Transition::RefundCreated(new) => {
                let p = &mut view.payment;
                if matches!(p.status, PaymentStatus::Declined | PaymentStatus::Failed)
                    || p.merchant_id != new.merchant_id
                {
                    return Err(Refused::InsufficientRefundable);
                }
                if view.refunds.iter().any(|r| r.id == new.id) {
                    return Err(Refused::WrongState);
                }
                if view.refunds.len() >= MAX_REFUNDS {
                    return Err(Refused::TooManyRefunds);
                }
                p.refundable_left =
                    p.refundable_left.checked_sub(new.amount.get()).ok_or(Refused::InsufficientRefundable)?;
                view.refunds.push(new.pending());
                (EventType::RefundCreated, Some(new.id))
            }
            Transition::RefundProcessing(id) => {
                move_refund(&mut view, id, RefundStatus::Processing, now_ms)?.bank_attempts =
                    Some(Attempts::at(now_ms));
                (EventType::RefundProcessing, Some(id))
            }
            Transition::RefundSettled(id, outcome) => {
                let (to, kind) = match &outcome {
                    RefundOutcome::Succeeded { .. } => (RefundStatus::Succeeded, EventType::RefundSucceeded),
                    RefundOutcome::Failed { .. } => (RefundStatus::Failed, EventType::RefundFailed),
                };
                let r = move_refund(&mut view, id, to, now_ms)?;
                let amount = r.amount.get();
                match outcome {
                    RefundOutcome::Succeeded { bank_refund_id } => {
                        r.bank_refund_id = Some(bank_refund_id);
                        view.payment.refunded_amount += amount;
                        view.payment.refund_timestamp_ms = Some(now_ms);
                    }
                    RefundOutcome::Failed { reason } => {
                        r.reason = Some(reason);
                        view.payment.refundable_left += amount;
                    }
                }
                (kind, Some(id))
            }
        };
        view.payment.version += 1;
        let mut change = Change::record(view, refund, kind, now_ms, cause);
        change.event.capture_id = capture;
        Ok(change)
    }
}

pub(super) fn move_payment(view: &mut PaymentView, to: PaymentStatus, now_ms: u64) -> Result<(), Refused> {
    let p = &mut view.payment;
    if !to.allowed_from().contains(&p.status) || p.status == to {
        return Err(Refused::WrongState);
    }
    p.status = to;
    p.updated_at_ms = now_ms;
    Ok(())
}

fn move_refund(view: &mut PaymentView, id: RefundId, to: RefundStatus, now_ms: u64) -> Result<&mut Refund, Refused> {
    let r = view.refunds.iter_mut().find(|r| r.id == id).ok_or(Refused::UnknownRefund)?;
    if !to.allowed_from().contains(&r.status) || r.status == to {
        return Err(Refused::WrongState);
    }
    r.status = to;
    r.updated_at_ms = now_ms;
    Ok(r)
}

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;
