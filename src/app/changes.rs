//! Writing a change on a payment that others may be changing too. A change lands only on the
//! version it was computed from (see `domain::change`); when another landed first, the payment
//! is read again and the transition applied anew to what it is now. Each round, some writer
//! lands, so this ends; the delays only spread racing writers out.
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use super::{Services, carry};
use crate::domain::change::Transition;
use crate::domain::events::Cause;
use crate::domain::payment::PaymentView;
use crate::domain::ports::StoreError;

/// Rounds lost to other writers before giving up (nothing of ours written then).
const MAX_ROUNDS: usize = 40;

pub(super) fn contention() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(200))
        .with_max_times(MAX_ROUNDS)
        .with_jitter()
        .build()
}

/// How a transition ended.
#[derive(Debug)]
pub(super) enum Landed {
    /// Written: the payment as it is now.
    Yes(PaymentView),
    /// It does not apply to the payment as it is now (shown): already done, or impossible.
    Refused(PaymentView),
}

impl Services {
    /// Writes `t` on `view`'s payment, reading it again after each change that landed first.
    /// `Transient` when the store stays unsure or other writers keep winning.
    pub(super) async fn change(
        &self,
        mut view: PaymentView,
        t: Transition,
        cause: &Cause,
    ) -> Result<Landed, StoreError> {
        let id = view.payment.id;
        let mut delays = contention();
        loop {
            let mut change = match view.apply(t.clone(), self.clock.now_ms(), cause.clone()) {
                Ok(change) => change,
                Err(_) => return Ok(Landed::Refused(view)),
            };
            // Asked again on each round (a look-up remembered per process): a round seconds after
            // the first must not go by what the merchant's endpoints wanted then.
            change.notify = self.webhooks_want(&view.payment.merchant_id).await.wants(change.event.kind);
            match carry::store_write(|| self.store.payments.commit(&change, None)).await {
                Ok(()) => {
                    self.announce(&change).await;
                    return Ok(Landed::Yes(change.view));
                }
                // Another change landed first, or ours did on an attempt whose answer was lost
                // (then the transition no longer applies, and says so).
                Err(StoreError::Conflict(_)) => {
                    view = self.store.payments.get_payment(id).await?.ok_or(StoreError::NotFound)?;
                }
                Err(e) => return Err(e),
            }
            match delays.next() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(StoreError::Transient("the payment kept changing".into())),
            }
        }
    }
}
