//! Charging a payment at the bank (the payment-worker's job); a manual-capture payment is
//! authorized instead, and carried on in `capture.rs`.
use super::{CARD_UNAVAILABLE, NOTHING_CHARGED};
use crate::app::bank_calls::{Resolved, Subject};
use crate::app::changes::Landed;
use crate::app::{Services, Step};
use crate::domain::bank::{Bank, ChargeOutcome, ChargeRequest};
use crate::domain::change::Transition;
use crate::domain::events::{Actor, Cause};
use crate::domain::ids::PaymentId;
use crate::domain::inquiry::Attempts;
use crate::domain::payment::{PaymentOutcome, PaymentView};
use crate::domain::ports::Job;
use crate::domain::status::{PaymentStatus, RefundStatus};

impl Services {
    /// Charges a payment: PENDING -> PROCESSING (or picks up one a crashed worker left
    /// PROCESSING), the bank with the payment's id as idempotency key, then the final state.
    /// A duplicate message, or a result that lost to another worker's, changes nothing.
    pub async fn process_charge(&self, bank: &dyn Bank, id: PaymentId) -> Step {
        let cause = self.cause(Actor::PaymentWorker);
        let view = match self.store.payments.get_payment(id).await {
            Ok(Some(view)) => view,
            Ok(None) => return Step::Poison("unknown payment".into()),
            Err(e) => return Step::Retry(e.to_string()),
        };
        let canceled_early = view.payment.authorization.as_ref().is_some_and(|a| a.cancel_requested_at_ms.is_some());
        let (view, fresh) = match view.payment.status {
            // A manual-capture payment canceled before it was sent: nothing is held, nothing to ask.
            PaymentStatus::Pending if canceled_early => {
                let ended = PaymentOutcome::Ended { reason: None };
                return self.settle_charge(view, ended, &cause).await;
            }
            PaymentStatus::Pending => match self.change(view, Transition::PaymentProcessing, &cause).await {
                Ok(Landed::Yes(view)) => (view, true),
                // A twin message's worker started it meanwhile: its attempt's outcome is unknown
                // here, so this one asks the bank before sending anything.
                Ok(Landed::Refused(view)) if view.payment.status == PaymentStatus::Processing => (view, false),
                Ok(Landed::Refused(_)) => return Step::Done,
                Err(e) => return Step::Retry(e.to_string()),
            },
            PaymentStatus::Processing => {
                self.hold(id, None).await;
                (view, false)
            }
            PaymentStatus::Authorized => return self.drive_authorized(bank, view, &cause).await,
            _ => return Step::Done,
        };
        let payment = &view.payment;
        // Left PROCESSING before attempts were noted: its last possible attempt is its last change.
        let attempts = payment.bank_attempts.unwrap_or(Attempts::at(payment.updated_at_ms));
        // A card that cannot be opened will never open. Nothing sent yet: a definitive failure.
        // Sent before: only the bank can say whether that attempt was applied.
        let (req, reason) = match payment.sealed_card.as_ref().map(|s| self.cards.open(s, id)) {
            Some(Ok(card)) => {
                let (amount, currency) = (payment.amount, payment.currency);
                (Some(ChargeRequest { payment_id: id, amount, currency, card }), NOTHING_CHARGED)
            }
            Some(Err(_)) | None if fresh => {
                let failed = PaymentOutcome::Failed { reason: CARD_UNAVAILABLE.into() };
                return self.settle_charge(view, failed, &cause).await;
            }
            Some(Err(_)) | None => (None, CARD_UNAVAILABLE),
        };
        if view.payment.authorization.is_some() {
            return self.authorize(bank, view, (attempts, fresh), (req, reason), &cause).await;
        }
        let subject = Subject { payment: id, refund: None, operation: "charge", resend: true };
        let send = req.as_ref().map(|req| || bank.charge(req));
        let resolved = self.resolve(subject, attempts, fresh, send, || bank.charges_for(id)).await;
        let outcome = match resolved {
            Resolved::Outcome(ChargeOutcome::Approved { bank_charge_id }) => {
                PaymentOutcome::Succeeded { bank_charge_id }
            }
            Resolved::Outcome(ChargeOutcome::Declined { reason }) => PaymentOutcome::Declined { reason },
            Resolved::Refused(code) => PaymentOutcome::Failed { reason: format!("bank_rejected:{code}") },
            Resolved::GaveUp(used) => {
                let failed = Transition::PaymentSettled(PaymentOutcome::Failed { reason: reason.into() });
                return self.give_up(subject, used, failed, &cause).await;
            }
            Resolved::Final => return Step::Done,
            Resolved::Later(why) => return Step::Retry(why),
        };
        self.settle_charge(view, outcome, &cause).await
    }

    pub(super) async fn settle_charge(&self, view: PaymentView, outcome: PaymentOutcome, cause: &Cause) -> Step {
        let id = view.payment.id;
        match self.change(view, Transition::PaymentSettled(outcome), cause).await {
            Ok(Landed::Yes(view)) => {
                tracing::info!(payment_id = %id, status = %view.payment.status, "payment settled");
                self.release_waiting_refunds(&view).await;
                Step::Done
            }
            // Final already: another worker's settlement landed first.
            Ok(Landed::Refused(_)) => Step::Done,
            Err(e) => Step::Retry(e.to_string()),
        }
    }

    /// Refunds asked for while the payment was in flight wait for it without holding a message
    /// (see `Step::NotReady`): once it is final, each is enqueued from here. If this worker dies
    /// first, the repair path finds them, since a refund of a final payment can go stale.
    pub(super) async fn release_waiting_refunds(&self, view: &PaymentView) {
        for r in view.refunds.iter().filter(|r| r.status == RefundStatus::Pending) {
            let job = Job::Refund { payment_id: view.payment.id, refund_id: r.id };
            if let Err(e) = self.queue.enqueue(&job).await {
                tracing::warn!(refund_id = %r.id, error = %e, "waiting refund not enqueued; the repair path will");
            }
        }
    }
}
