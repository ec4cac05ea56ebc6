//! The workers' use cases: charge a payment, carry out a refund, repair what got stuck.
//! Each returns a `Step` (`app::Step`) that tells the worker runtime what to do with the message.
use crate::domain::bank::{Bank, BankRefundOutcome as BankRefund, ChargeOutcome, ChargeRequest, RefundRequest};
use crate::domain::change::Transition;
use crate::domain::events::{Actor, Cause};
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::payment::{PaymentOutcome, PaymentView, RefundOutcome};
use crate::domain::ports::Job;
use crate::domain::status::{PaymentStatus, RefundStatus};

use super::bank_calls::{Resolved, Subject};
use super::changes::Landed;
use crate::domain::inquiry::Attempts;

/// The reason of a payment that failed because the bank, past its key window, had applied
/// nothing (a definitive "no money moved"), and of a refund in the same case.
pub const NOTHING_CHARGED: &str = "bank_unavailable";
pub const NOTHING_REFUNDED: &str = "bank_unavailable";
/// The reason of a payment whose sealed card cannot be opened (and the bank applied nothing).
pub const CARD_UNAVAILABLE: &str = "card_data_unavailable";
use super::{AppError, Services, Step, carry};

fn refund_in(view: &PaymentView, id: RefundId) -> Option<RefundStatus> {
    view.refunds.iter().find(|r| r.id == id).map(|r| r.status)
}

/// Which records a repair pass looks at: each worker repairs its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    Payments,
    Refunds,
}

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
        let (view, fresh) = match view.payment.status {
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
        let subject = Subject { payment: id, refund: None, operation: "charge" };
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

    /// Ends a request the bank never applied, on the payment as it is now, and only if no
    /// re-send was noted since `used` (another worker may have sent it again meanwhile: then
    /// the next job decides anew). The write is guarded by the attempts it saw, so a re-send
    /// noted between this read and this write stops it too.
    async fn give_up(&self, subject: Subject, used: Attempts, t: Transition, cause: &Cause) -> Step {
        let view = match self.store.payments.get_payment(subject.payment).await {
            Ok(Some(view)) => view,
            Ok(None) => return Step::Poison("unknown payment".into()),
            Err(e) => return Step::Retry(e.to_string()),
        };
        let stored = match subject.refund {
            None => view.payment.bank_attempts,
            Some(r) => view.refunds.iter().find(|x| x.id == r).and_then(|x| x.bank_attempts),
        };
        if stored.is_some_and(|a| a.last_ms != used.last_ms) {
            return Step::Retry("a re-send was noted meanwhile; deciding again".into());
        }
        let mut change = match view.apply(t, self.clock.now_ms(), cause.clone()) {
            Ok(change) => change,
            Err(_) => return Step::Done,
        };
        change.attempts_guard = Some(stored.map(|a| a.last_ms));
        change.notify = self.notifies(&view.payment.merchant_id).await;
        match carry::store_write(|| self.store.payments.commit(&change, None)).await {
            Ok(()) => {
                self.announce(&change).await;
                tracing::warn!(payment_id = %subject.payment, refund_id = ?subject.refund,
                    "the bank applied nothing, for good: ended without it");
                self.release_waiting_refunds(&change.view).await;
                Step::Done
            }
            Err(e) => Step::Retry(e.to_string()),
        }
    }

    async fn settle_charge(&self, view: PaymentView, outcome: PaymentOutcome, cause: &Cause) -> Step {
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

    /// Moves a record this worker picked up PROCESSING to the back of the repair index. Only an
    /// optimisation (the repair path then leaves it alone a while longer), so failures are logged.
    async fn hold(&self, payment: PaymentId, refund: Option<RefundId>) {
        if let Err(e) = self.store.repair.hold(payment, refund, self.clock.now_ms()).await {
            tracing::warn!(payment_id = %payment, error = %e, "could not hold the record in the repair index");
        }
    }

    /// Refunds asked for while the payment was in flight wait for it without holding a message
    /// (see `Step::NotReady`): once it is final, each is enqueued from here. If this worker dies
    /// first, the repair path finds them, since a refund of a final payment can go stale.
    async fn release_waiting_refunds(&self, view: &PaymentView) {
        for r in view.refunds.iter().filter(|r| r.status == RefundStatus::Pending) {
            let job = Job::Refund { payment_id: view.payment.id, refund_id: r.id };
            if let Err(e) = self.queue.enqueue(&job).await {
                tracing::warn!(refund_id = %r.id, error = %e, "waiting refund not enqueued; the repair path will");
            }
        }
    }

    /// Carries out a refund once its payment succeeded (fails it, with a reason, if the payment
    /// did not): PENDING -> PROCESSING, the bank with the refund's id as key, the final state.
    pub async fn process_refund(&self, bank: &dyn Bank, payment_id: PaymentId, refund_id: RefundId) -> Step {
        let cause = self.cause(Actor::RefundWorker);
        let view = match self.store.payments.get_payment(payment_id).await {
            Ok(Some(v)) => v,
            Ok(None) => return Step::Poison("unknown payment".into()),
            Err(e) => return Step::Retry(e.to_string()),
        };
        let Some(refund) = view.refunds.iter().find(|r| r.id == refund_id).cloned() else {
            return Step::Poison("unknown refund".into());
        };
        if refund.status.is_final() {
            return Step::Done;
        }
        let charge_id = match (view.payment.status, view.payment.bank_charge_id.clone()) {
            // The payment's settlement enqueues this refund again (`release_waiting_refunds`).
            (PaymentStatus::Pending | PaymentStatus::Processing, _) => return Step::NotReady,
            (PaymentStatus::Succeeded, Some(c)) => c,
            (status, _) => {
                let reason = format!("payment_{}", status.as_str().to_ascii_lowercase());
                return self.finish_refund(view, refund_id, RefundOutcome::Failed { reason }, &cause).await;
            }
        };
        let (view, fresh) = match refund.status {
            RefundStatus::Pending => match self.change(view, Transition::RefundProcessing(refund_id), &cause).await {
                Ok(Landed::Yes(view)) => (view, true),
                Ok(Landed::Refused(view)) if refund_in(&view, refund_id) == Some(RefundStatus::Processing) => {
                    (view, false)
                }
                Ok(Landed::Refused(_)) => return Step::Done,
                Err(e) => return Step::Retry(e.to_string()),
            },
            _ => {
                self.hold(payment_id, Some(refund_id)).await;
                (view, false)
            }
        };
        let started = view.refunds.iter().find(|r| r.id == refund_id).and_then(|r| r.bank_attempts);
        let attempts = started.unwrap_or(Attempts::at(refund.updated_at_ms));
        let req =
            RefundRequest { refund_id, bank_charge_id: charge_id, amount: refund.amount, currency: refund.currency };
        let subject = Subject { payment: payment_id, refund: Some(refund_id), operation: "refund" };
        let send = Some(|| bank.refund(&req));
        let resolved = self.resolve(subject, attempts, fresh, send, || bank.refunds_for(refund_id)).await;
        let outcome = match resolved {
            Resolved::Outcome(BankRefund::Succeeded { bank_refund_id }) => RefundOutcome::Succeeded { bank_refund_id },
            Resolved::Outcome(BankRefund::Rejected { reason }) => RefundOutcome::Failed { reason },
            Resolved::Refused(code) => RefundOutcome::Failed { reason: format!("bank_rejected:{code}") },
            Resolved::GaveUp(used) => {
                let failed = RefundOutcome::Failed { reason: NOTHING_REFUNDED.into() };
                return self.give_up(subject, used, Transition::RefundSettled(refund_id, failed), &cause).await;
            }
            Resolved::Final => return Step::Done,
            Resolved::Later(why) => return Step::Retry(why),
        };
        self.finish_refund(view, refund_id, outcome, &cause).await
    }

    async fn finish_refund(&self, view: PaymentView, id: RefundId, outcome: RefundOutcome, cause: &Cause) -> Step {
        match self.change(view, Transition::RefundSettled(id, outcome), cause).await {
            Ok(Landed::Yes(view)) => {
                tracing::info!(refund_id = %id, status = ?refund_in(&view, id), "refund settled");
                Step::Done
            }
            // Final already: a duplicate, or another worker's result landed first.
            Ok(Landed::Refused(_)) => Step::Done,
            Err(e) => Step::Retry(e.to_string()),
        }
    }

    /// Re-enqueues records that stayed non-final longer than `age_ms` (a lost send, a parked
    /// message, a crashed worker). Each is claimed first, so racing repairers enqueue it once.
    pub async fn repair(&self, kind: Stale, age_ms: u64, limit: u32) -> Result<usize, AppError> {
        let now = self.clock.now_ms();
        let cutoff = now.saturating_sub(age_ms);
        let jobs: Vec<Job> = match kind {
            Stale::Refunds => {
                let stale = self.store.repair.stale_refunds(cutoff, limit).await?;
                stale.into_iter().map(|(payment_id, refund_id)| Job::Refund { payment_id, refund_id }).collect()
            }
            Stale::Payments => {
                let stale = self.store.repair.stale_payments(cutoff, limit).await?;
                stale.into_iter().map(|payment_id| Job::Charge { payment_id }).collect()
            }
        };
        let mut repaired = 0;
        for job in jobs {
            // One record that cannot be handled now (unreadable, a failed send) must not stop
            // the pass for the others: it is logged, and met again on a later pass.
            match self.repair_one(job, cutoff, now).await {
                Ok(true) => repaired += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, ?job, "repair: record skipped this pass"),
            }
        }
        Ok(repaired)
    }

    /// Re-enqueues one stale record if this repairer wins its claim. A refund still waiting for
    /// its payment is not stale: its claim only moves it to the back of the index (so waiting
    /// refunds cannot crowd stale ones out of a pass), and its payment's settlement releases it.
    async fn repair_one(&self, job: Job, cutoff: u64, now: u64) -> Result<bool, AppError> {
        let (payment, refund) = match job {
            Job::Charge { payment_id } => (payment_id, None),
            Job::Refund { payment_id, refund_id } => (payment_id, Some(refund_id)),
            Job::Deliver { .. } => return Ok(false),
        };
        // The claim comes first: a repairer that loses it spends no read on the payment.
        if !self.store.repair.claim_stale(payment, refund, cutoff, now).await? {
            return Ok(false);
        }
        if refund.is_some() && self.waits_for_its_payment(payment).await? {
            return Ok(false);
        }
        tracing::warn!(payment_id = %payment, refund_id = ?refund, "repair: re-enqueuing a stale record");
        self.queue.enqueue(&job).await?;
        Ok(true)
    }

    async fn waits_for_its_payment(&self, payment: PaymentId) -> Result<bool, AppError> {
        let view = self.store.payments.get_payment(payment).await?;
        Ok(view.is_some_and(|v| !v.payment.status.is_final()))
    }
}
