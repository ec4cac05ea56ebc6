//! Carrying out a refund at the bank (the refund-worker's job).
use super::NOTHING_REFUNDED;
use crate::app::bank_calls::{Resolved, Subject};
use crate::app::changes::Landed;
use crate::app::{Services, Step};
use crate::domain::bank::{Bank, BankRefundOutcome as BankRefund, RefundRequest};
use crate::domain::change::Transition;
use crate::domain::events::{Actor, Cause};
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::inquiry::Attempts;
use crate::domain::payment::{PaymentView, RefundOutcome};
use crate::domain::status::{PaymentStatus, RefundStatus};

fn refund_in(view: &PaymentView, id: RefundId) -> Option<RefundStatus> {
    view.refunds.iter().find(|r| r.id == id).map(|r| r.status)
}

impl Services {
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
        // A manual-capture payment's refunds name its authorization: the bank gives back only
        // what was captured under it (and a refund here never asks more, `refundable_left`).
        let authorization = view.payment.authorization.as_ref().and_then(|a| a.bank_authorization_id.clone());
        let charge_id = match (view.payment.status, view.payment.bank_charge_id.clone().or(authorization)) {
            // The payment's settlement enqueues this refund again (`release_waiting_refunds`).
            (PaymentStatus::Pending | PaymentStatus::Processing, _) => return Step::NotReady,
            (PaymentStatus::Succeeded | PaymentStatus::Authorized, Some(c)) => c,
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
        let subject = Subject { payment: payment_id, refund: Some(refund_id), operation: "refund", resend: true };
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
                tracing::info!(refund_id = %id, status = refund_in(&view, id).map(tracing::field::display), "refund settled");
                Step::Done
            }
            // Final already: a duplicate, or another worker's result landed first.
            Ok(Landed::Refused(_)) => Step::Done,
            Err(e) => Step::Retry(e.to_string()),
        }
    }
}
