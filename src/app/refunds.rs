//! Requesting a refund. The amount is reserved on the payment in the same write that stores
//! the refund and its event.
use super::idempotency::{Existing, KeyedRequest};
use super::{AppError, Services, carry, changes};
use crate::domain::change::{MAX_REFUNDS, Transition};
use crate::domain::events::Actor;
use crate::domain::idempotency::Accepted;
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::money::Amount;
use crate::domain::payment::{NewRefund, PaymentView};
use crate::domain::ports::{ConflictKind, Job, StoreError};
use crate::domain::reference::Metadata;
use crate::domain::status::PaymentStatus;

fn accepted(r: &NewRefund) -> Accepted {
    Accepted::Refund { refund_id: r.id, payment_id: r.payment_id, amount: r.amount, currency: r.currency }
}

/// Why `amount` (or, with `None`, "all that is left") cannot be refunded now, if it cannot.
fn refusal(view: &PaymentView, amount: Option<Amount>) -> Option<AppError> {
    if view.refunds.len() >= MAX_REFUNDS {
        return Some(AppError::TooManyRefunds(MAX_REFUNDS));
    }
    let p = &view.payment;
    if matches!(p.status, PaymentStatus::Declined | PaymentStatus::Failed) {
        return Some(AppError::NotRefundable(p.status));
    }
    if p.refundable_left == 0 {
        return Some(AppError::NothingLeftToRefund);
    }
    match amount {
        Some(a) if a.get() > p.refundable_left => Some(AppError::RefundExceedsRemaining { left: p.refundable_left }),
        _ => None,
    }
}

impl Services {
    /// Accepts a refund of `amount` (default: all that is left). A payment still PENDING or
    /// PROCESSING may be refunded: the refund worker waits for it to settle. The refund, its
    /// reservation on the payment and its `refund.created` event are one write on the payment's
    /// version: when another change lands first, the payment is read again and the refund
    /// decided anew, so concurrent refunds can never add up to more than the price.
    /// The refund carries the merchant's `metadata`.
    pub async fn request_refund(
        &self,
        merchant: &MerchantId,
        payment_id: PaymentId,
        amount: Option<Amount>,
        metadata: Metadata,
        key: Option<&KeyedRequest>,
    ) -> Result<Accepted, AppError> {
        // The write comes first and the key is read only when something refuses: a new key costs
        // no read. A replay must still get the first answer even when nothing is left by now.
        let mut view = self.get_payment(merchant, payment_id).await?;
        let id = RefundId::new();
        let mut cause = self.cause(Actor::Merchant(merchant.clone()));
        cause.idempotency_key = key.is_some();
        let mut delays = changes::contention();
        loop {
            if let Some(err) = refusal(&view, amount) {
                return self.replay(merchant, payment_id, key, None).await?.ok_or(err);
            }
            let left = view.payment.refundable_left;
            let amount = amount.map_or_else(|| Amount::parse(i128::from(left)), Ok);
            let amount = amount.map_err(|_| AppError::NothingLeftToRefund)?;
            let now = self.clock.now_ms();
            let refund = NewRefund {
                id,
                payment_id,
                merchant_id: merchant.clone(),
                amount,
                currency: view.payment.currency,
                created_at_ms: now,
                metadata: metadata.clone(),
            };
            let mut change = view
                .apply(Transition::RefundCreated(refund.clone()), now, cause.clone())
                .map_err(|_| refusal(&view, Some(amount)).unwrap_or(AppError::NothingLeftToRefund))?;
            change.notify = self.webhooks_want(merchant).await.wants(change.event.kind);
            let claim = key.map(|k| k.claim(refund.id.to_string(), now, accepted(&refund)));
            match carry::store_write(|| self.store.payments.commit(&change, claim.as_ref())).await {
                // The claim was written done: nothing to finish.
                Ok(()) => {
                    let (resp, ()) =
                        tokio::join!(self.enqueue_refund_and_answer(&refund, None), self.announce(&change));
                    return Ok(resp);
                }
                Err(StoreError::Conflict(kind)) => {
                    // An attempt whose answer was lost (ours, or the SDK's own retry) may have
                    // written this very refund: then the conflict is our own write, carried on.
                    let replayed =
                        self.replay(merchant, payment_id, key, Some(&refund)).await.map_err(AppError::after_write)?;
                    if let Some(resp) = replayed {
                        return Ok(resp);
                    }
                    view = self.get_payment(merchant, payment_id).await.map_err(AppError::after_write)?;
                    if view.refunds.iter().any(|r| r.id == refund.id) {
                        return Ok(self.enqueue_refund_and_answer(&refund, None).await);
                    }
                    if kind == ConflictKind::IdempotencyKeyTaken {
                        return Err(AppError::IdempotencyInFlight);
                    }
                    // Another change of the payment landed first: decide again on what it is now.
                }
                // Unconfirmed after every attempt: the refund may exist (then the repair path
                // enqueues it); the client must not be told to simply retry.
                Err(StoreError::Transient(_)) => return Err(AppError::OutcomeUnknown),
                Err(e) => return Err(e.into()),
            }
            match delays.next() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(AppError::Contended),
            }
        }
    }

    /// The answer already given for `key`, if the key was used before (finishing the work of a
    /// first request that died mid-way, for claims written without their answer). When the key
    /// holds `own` (our write landed on an attempt whose answer was lost), its work is finished.
    async fn replay(
        &self,
        merchant: &MerchantId,
        payment_id: PaymentId,
        key: Option<&KeyedRequest>,
        own: Option<&NewRefund>,
    ) -> Result<Option<Accepted>, AppError> {
        let Some(key) = key else { return Ok(None) };
        match self.existing_key(key).await? {
            Some(Existing::Replay { resource_id, response }) => match own {
                Some(r) if r.id.to_string() == resource_id => Ok(Some(self.enqueue_refund_and_answer(r, None).await)),
                _ => Ok(Some(response)),
            },
            Some(Existing::Resume { resource_id }) => {
                self.resume_refund(merchant, payment_id, &resource_id, key).await.map(Some)
            }
            None => Ok(None),
        }
    }

    async fn resume_refund(
        &self,
        merchant: &MerchantId,
        payment_id: PaymentId,
        resource_id: &str,
        key: &KeyedRequest,
    ) -> Result<Accepted, AppError> {
        let view = self.get_payment(merchant, payment_id).await?;
        let r = view
            .refunds
            .iter()
            .find(|r| r.id.to_string() == resource_id)
            .ok_or_else(|| AppError::Internal("claimed refund missing".into()))?;
        let refund = NewRefund {
            id: r.id,
            payment_id,
            merchant_id: merchant.clone(),
            amount: r.amount,
            currency: r.currency,
            created_at_ms: r.created_at_ms,
            metadata: r.metadata.clone(),
        };
        Ok(self.enqueue_refund_and_answer(&refund, Some(key)).await)
    }

    async fn enqueue_refund_and_answer(&self, r: &NewRefund, key: Option<&KeyedRequest>) -> Accepted {
        let span = tracing::Span::current();
        span.record("payment_id", tracing::field::display(r.payment_id));
        span.record("refund_id", tracing::field::display(r.id));
        let job = Job::Refund { payment_id: r.payment_id, refund_id: r.id };
        if let Err(e) = carry::enqueue(|| self.queue.enqueue(&job)).await {
            tracing::error!(refund_id = %r.id, error = %e, "refund not enqueued; the repair path will pick it up");
        }
        tracing::info!(payment_id = %r.payment_id, refund_id = %r.id, "refund accepted");
        let resp = accepted(r);
        self.finish_key(key, &resp).await;
        resp
    }
}
