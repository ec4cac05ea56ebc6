//! The workers' use cases, one file each: charge a payment (`charge.rs`), carry out a refund
//! (`refund.rs`), repair what got stuck (`repair.rs`). Each returns a `Step` (`app::Step`) that
//! tells the worker runtime what to do with the message. Here: what charge and refund share.
mod capture;
mod charge;
mod refund;
mod repair;

pub use repair::Stale;

use super::bank_calls::Subject;

use super::{Services, Step, carry};
use crate::domain::change::Transition;
use crate::domain::events::Cause;
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::inquiry::Attempts;

/// The reason of a payment that failed because the bank, past its key window, had applied
/// nothing (a definitive "no money moved"), and of a refund in the same case.
pub const NOTHING_CHARGED: &str = "bank_unavailable";
pub const NOTHING_REFUNDED: &str = "bank_unavailable";
/// The reason of a payment whose sealed card cannot be opened (and the bank applied nothing).
pub const CARD_UNAVAILABLE: &str = "card_data_unavailable";

impl Services {
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
        change.notify = self.webhooks_want(&view.payment.merchant_id).await.wants(change.event.kind);
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

    /// Moves a record this worker picked up PROCESSING to the back of the repair index. Only an
    /// optimisation (the repair path then leaves it alone a while longer), so failures are logged.
    async fn hold(&self, payment: PaymentId, refund: Option<RefundId>) {
        if let Err(e) = self.store.repair.hold(payment, refund, self.clock.now_ms()).await {
            tracing::warn!(payment_id = %payment, error = %e, "could not hold the record in the repair index");
        }
    }
}
