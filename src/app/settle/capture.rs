//! A manual-capture payment at the bank (the payment-worker's job, like a charge): its
//! authorization (with the charge's rules after an unknown outcome: inquiry first, re-send only
//! inside the key window), then, while AUTHORIZED, its captures, its cancel and its end.
//!
//! A capture is sent once, right after the write that makes it PROCESSING: after an unknown
//! outcome the bank is only asked, and "nothing applied" is final past the late-apply bound
//! (the capture FAILS; the merchant may capture again). So no second send can race a worker
//! that gives up. A void is sent as often as needed: a second void releases nothing.
use super::NOTHING_CHARGED;
use crate::app::bank_calls::{Resolved, Subject};
use crate::app::changes::Landed;
use crate::app::{Services, Step};
use crate::domain::bank::{AuthorizationOutcome, Bank, BankCaptureOutcome, BankError, CaptureRequest, ChargeRequest};
use crate::domain::bank::{VoidOutcome, VoidRequest};
use crate::domain::capture::{AUTHORIZATION_EXPIRED, CaptureOutcome};
use crate::domain::change::Transition;
use crate::domain::events::Cause;
use crate::domain::ids::CaptureId;
use crate::domain::inquiry::Attempts;
use crate::domain::payment::{PaymentOutcome, PaymentView};
use crate::domain::status::{CaptureStatus, PaymentStatus};

/// Steps one job takes on an AUTHORIZED payment at most (each capture twice, then the end).
const MAX_STEPS: usize = 2 * crate::domain::capture::MAX_CAPTURES + 4;

impl Services {
    /// Asks the bank to hold the payment's amount; `attempts`, `fresh`, the request and the
    /// reason for "nothing applied" as `process_charge` found them.
    pub(super) async fn authorize(
        &self,
        bank: &dyn Bank,
        view: PaymentView,
        (attempts, fresh): (Attempts, bool),
        (req, reason): (Option<ChargeRequest>, &'static str),
        cause: &Cause,
    ) -> Step {
        let id = view.payment.id;
        let subject = Subject { payment: id, refund: None, operation: "authorization", resend: true };
        let send = req.as_ref().map(|req| || bank.authorize(req));
        let resolved = self.resolve(subject, attempts, fresh, send, || bank.authorizations_for(id)).await;
        let outcome = match resolved {
            Resolved::Outcome(AuthorizationOutcome::Approved { bank_authorization_id, expires_at_ms }) => {
                // Kept as long as the bank holds it, or `AUTHORIZATION_VALIDITY_SECS`, if less.
                let validity = u64::try_from(self.bank_policy.authorization_validity.as_millis()).unwrap_or(u64::MAX);
                let ours = self.clock.now_ms().saturating_add(validity);
                PaymentOutcome::Authorized { bank_authorization_id, expires_at_ms: expires_at_ms.min(ours) }
            }
            Resolved::Outcome(AuthorizationOutcome::Declined { reason }) => PaymentOutcome::Declined { reason },
            Resolved::Refused(code) => PaymentOutcome::Failed { reason: format!("bank_rejected:{code}") },
            Resolved::GaveUp(used) => {
                let failed = Transition::PaymentSettled(PaymentOutcome::Failed { reason: reason.into() });
                return self.give_up(subject, used, failed, cause).await;
            }
            Resolved::Final => return Step::Done,
            Resolved::Later(why) => return Step::Retry(why),
        };
        match self.change(view, Transition::PaymentSettled(outcome), cause).await {
            // A cancel asked while it was in flight is carried out now.
            Ok(Landed::Yes(view)) if view.payment.status == PaymentStatus::Authorized => {
                tracing::info!(payment_id = %id, "payment authorized");
                self.drive_authorized(bank, view, cause).await
            }
            Ok(Landed::Yes(_) | Landed::Refused(_)) => Step::Done,
            Err(e) => Step::Retry(e.to_string()),
        }
    }

    /// Carries an AUTHORIZED payment on: every capture in flight to its end, then the payment to
    /// its own when a final capture succeeded, everything was captured, a cancel was asked, or
    /// the authorization expired. Otherwise it waits, held in the repair index until its expiry.
    pub(super) async fn drive_authorized(&self, bank: &dyn Bank, mut view: PaymentView, cause: &Cause) -> Step {
        for _ in 0..MAX_STEPS {
            let Some(a) =
                view.payment.authorization.as_ref().filter(|_| view.payment.status == PaymentStatus::Authorized)
            else {
                return Step::Done;
            };
            if let Some(c) = a.captures.iter().find(|c| !c.status.is_final()) {
                let id = c.id;
                view = match self.carry_capture(bank, view, id, cause).await {
                    Ok(view) => view,
                    Err(step) => return step,
                };
                continue;
            }
            let now = self.clock.now_ms();
            let reason = if a.fully_captured() {
                None
            } else if a.expired_at(now) {
                Some(AUTHORIZATION_EXPIRED.to_owned())
            } else if a.cancel_requested_at_ms.is_some() {
                None
            } else {
                // Nothing to do until the merchant asks, or the hold runs out: the write that
                // left it so put it in the repair index at its expiry (`Payment::repair_due_ms`).
                return Step::Done;
            };
            // What was not captured is released at the bank (for an authorization past its
            // expiry the bank has nothing left to release, or ours ended before the bank's).
            if !a.fully_captured()
                && let Err(step) = self.void(bank, &view).await
            {
                return step;
            }
            return self.settle_charge(view, PaymentOutcome::Ended { reason }, cause).await;
        }
        Step::Retry("more steps than a job takes; the next one goes on".into())
    }

    /// One capture, PENDING or PROCESSING, to its end; the payment as it is then.
    async fn carry_capture(
        &self,
        bank: &dyn Bank,
        view: PaymentView,
        id: CaptureId,
        cause: &Cause,
    ) -> Result<PaymentView, Step> {
        let Some(c) = view.payment.authorization.as_ref().and_then(|a| a.capture(id)).cloned() else {
            return Err(Step::Done);
        };
        let expired = view.payment.authorization.as_ref().is_some_and(|a| a.expired_at(self.clock.now_ms()));
        let (view, fresh) = match c.status {
            // Never sent, and too late to be: ended without the bank.
            CaptureStatus::Pending if expired => {
                let failed = CaptureOutcome::Failed { reason: AUTHORIZATION_EXPIRED.into() };
                return self.settle_capture(view, id, failed, cause).await;
            }
            CaptureStatus::Pending => match self.change(view, Transition::CaptureProcessing(id), cause).await {
                Ok(Landed::Yes(view)) => (view, true),
                // Another worker sent it, or moved it on: carried from where it stands now.
                Ok(Landed::Refused(view)) => return Ok(view),
                Err(e) => return Err(Step::Retry(e.to_string())),
            },
            _ => (view, false),
        };
        let p = &view.payment;
        let Some(a) = p.authorization.as_ref() else { return Err(Step::Done) };
        let sent = a.capture(id).and_then(|c| c.sent_at_ms).unwrap_or(c.updated_at_ms);
        let req = CaptureRequest {
            capture_id: id,
            bank_authorization_id: a.bank_authorization_id.clone().unwrap_or_default(),
            amount: c.amount,
            currency: p.currency,
            final_capture: c.final_capture,
        };
        let subject = Subject { payment: p.id, refund: None, operation: "capture", resend: false };
        let send = fresh.then_some(|| bank.capture(&req));
        let resolved = self.resolve(subject, Attempts::at(sent), fresh, send, || bank.captures_for(id)).await;
        let outcome = match resolved {
            Resolved::Outcome(BankCaptureOutcome::Succeeded { bank_capture_id }) => {
                CaptureOutcome::Succeeded { bank_capture_id }
            }
            Resolved::Outcome(BankCaptureOutcome::Rejected { reason }) => CaptureOutcome::Failed { reason },
            Resolved::Refused(code) => CaptureOutcome::Failed { reason: format!("bank_rejected:{code}") },
            // Sent once, and nothing applied past the late-apply bound: nothing was captured.
            Resolved::GaveUp(_) => CaptureOutcome::Failed { reason: NOTHING_CHARGED.into() },
            Resolved::Final => return Err(Step::Done),
            Resolved::Later(why) => return Err(Step::Retry(why)),
        };
        self.settle_capture(view, id, outcome, cause).await
    }

    async fn settle_capture(
        &self,
        view: PaymentView,
        id: CaptureId,
        outcome: CaptureOutcome,
        cause: &Cause,
    ) -> Result<PaymentView, Step> {
        match self.change(view, Transition::CaptureSettled(id, outcome), cause).await {
            Ok(Landed::Yes(view)) => {
                let status = view
                    .payment
                    .authorization
                    .as_ref()
                    .and_then(|a| a.capture(id))
                    .map(|c| tracing::field::display(c.status));
                tracing::info!(payment_id = %view.payment.id, capture_id = %id, status, "capture settled");
                Ok(view)
            }
            Ok(Landed::Refused(view)) => Ok(view),
            Err(e) => Err(Step::Retry(e.to_string())),
        }
    }

    /// Releases what is left of the authorization. `Err` holds the step when the bank did not
    /// answer: the job comes back and sends it again (a second void changes nothing).
    async fn void(&self, bank: &dyn Bank, view: &PaymentView) -> Result<(), Step> {
        let p = &view.payment;
        let Some(authorization) = p.authorization.as_ref().and_then(|a| a.bank_authorization_id.clone()) else {
            return Ok(());
        };
        let req = VoidRequest { payment_id: p.id, bank_authorization_id: authorization };
        match bank.void(&req).await {
            Ok(VoidOutcome::Released { amount }) => {
                tracing::info!(payment_id = %p.id, released = amount, "authorization voided");
                Ok(())
            }
            Ok(VoidOutcome::Rejected { reason }) => {
                // Closed by a final capture already, or unknown to the bank: nothing is held.
                tracing::warn!(payment_id = %p.id, reason = %reason, "void refused; nothing left to release");
                Ok(())
            }
            // The bank refuses the request itself: sending it again cannot help. The payment ends;
            // what the bank still holds is released by its own expiry.
            Err(BankError::Permanent(code)) => {
                tracing::error!(payment_id = %p.id, code = %code, "void refused by the bank; the hold ends at its expiry");
                Ok(())
            }
            Err(e) => Err(Step::Retry(e.to_string())),
        }
    }
}
