//! Capturing and canceling a manual-capture payment, as the merchant asks through the API. Like
//! a refund: the capture (its amount reserved on the authorization) or the cancel is one write
//! on the payment's version with its event and the key's claim, so concurrent captures never add
//! up to more than the authorization and a cancel and a capture cannot both be accepted. The
//! payment-worker carries either out (`settle::capture`), woken by a `Job::Charge`.
use super::idempotency::{Existing, KeyedRequest};
use super::{AppError, Services, carry, changes};
use crate::domain::capture::{MAX_CAPTURES, NewCapture};
use crate::domain::change::{Refused, Transition};
use crate::domain::events::Actor;
use crate::domain::idempotency::Accepted;
use crate::domain::ids::{CaptureId, MerchantId, PaymentId};
use crate::domain::money::Amount;
use crate::domain::payment::PaymentView;
use crate::domain::ports::{ConflictKind, Job, StoreError};
use crate::domain::reference::Metadata;

/// What the merchant asks of the payment.
#[derive(Clone)]
enum Ask {
    Capture(NewCapture),
    Cancel,
}

impl Ask {
    /// The id its idempotency claim names.
    fn resource_id(&self, payment: PaymentId) -> String {
        match self {
            Self::Capture(c) => c.id.to_string(),
            Self::Cancel => format!("cancel-{payment}"),
        }
    }

    fn transition(&self) -> Transition {
        match self {
            Self::Capture(c) => Transition::CaptureCreated(c.clone()),
            Self::Cancel => Transition::CancelRequested,
        }
    }
}

/// The answer for `ask` once written, from the payment as written.
fn accepted(ask: &Ask, view: &PaymentView) -> Result<Accepted, AppError> {
    let p = &view.payment;
    match ask {
        Ask::Capture(new) => {
            let c = p
                .authorization
                .as_ref()
                .and_then(|a| a.capture(new.id))
                .ok_or_else(|| AppError::Internal("written capture missing".into()))?;
            Ok(Accepted::Capture {
                capture_id: c.id,
                payment_id: p.id,
                amount: c.amount,
                currency: p.currency,
                final_capture: c.final_capture,
            })
        }
        Ask::Cancel => Ok(Accepted::Cancel { payment_id: p.id }),
    }
}

/// Why the transition did not apply, as the merchant is told.
fn refusal(refused: Refused, view: &PaymentView) -> AppError {
    let p = &view.payment;
    match refused {
        Refused::AuthorizationExpired => AppError::AuthorizationExpired,
        Refused::InsufficientCapturable => {
            AppError::CaptureExceedsCapturable { left: p.authorization.as_ref().map_or(0, |a| a.capturable_left) }
        }
        Refused::TooManyCaptures => AppError::TooManyCaptures(MAX_CAPTURES),
        Refused::NotCancelable => AppError::NotCancelable,
        _ => AppError::NotCapturable(p.status),
    }
}

impl Services {
    /// Accepts a capture of `amount` (default: all that is left to capture) of an AUTHORIZED
    /// manual-capture payment; `final_capture` ends the captures (the bank releases the rest).
    pub async fn request_capture(
        &self,
        merchant: &MerchantId,
        payment_id: PaymentId,
        (amount, final_capture): (Option<Amount>, bool),
        metadata: Metadata,
        key: Option<&KeyedRequest>,
    ) -> Result<Accepted, AppError> {
        let new = NewCapture { id: CaptureId::new(), merchant_id: merchant.clone(), amount, final_capture, metadata };
        self.ask(merchant, payment_id, Ask::Capture(new), key).await
    }

    /// Accepts a cancel of a manual-capture payment that is PENDING, PROCESSING (carried out
    /// once authorized) or AUTHORIZED with no capture in flight. Asked again while it is under way, it
    /// answers the same.
    pub async fn request_cancel(
        &self,
        merchant: &MerchantId,
        payment_id: PaymentId,
        key: Option<&KeyedRequest>,
    ) -> Result<Accepted, AppError> {
        self.ask(merchant, payment_id, Ask::Cancel, key).await
    }

    async fn ask(
        &self,
        merchant: &MerchantId,
        payment_id: PaymentId,
        ask: Ask,
        key: Option<&KeyedRequest>,
    ) -> Result<Accepted, AppError> {
        let mut view = self.get_payment(merchant, payment_id).await?;
        let mut cause = self.cause(Actor::Merchant(merchant.clone()));
        cause.idempotency_key = key.is_some();
        let resource = ask.resource_id(payment_id);
        let mut delays = changes::contention();
        loop {
            let now = self.clock.now_ms();
            let mut change = match view.apply(ask.transition(), now, cause.clone()) {
                Ok(change) => change,
                // A cancel asked before and still under way: accepted again, nothing more written.
                // Once the payment is final, only a replay of the first request's key answers 202
                // (the contract's 409 `not_cancelable` otherwise).
                Err(_) if matches!(ask, Ask::Cancel) && Self::canceling(&view) && !view.payment.status.is_final() => {
                    return match self.replay_ask(key).await? {
                        Some(answer) => Ok(answer),
                        None => Ok(Accepted::Cancel { payment_id }),
                    };
                }
                Err(refused) => return self.replay_ask(key).await?.ok_or_else(|| refusal(refused, &view)),
            };
            change.notify = self.webhooks_want(merchant).await.wants(change.event.kind);
            let answer = accepted(&ask, &change.view)?;
            let claim = key.map(|k| k.claim(resource.clone(), now, answer.clone()));
            match carry::store_write(|| self.store.payments.commit(&change, claim.as_ref())).await {
                Ok(()) => {
                    let (resp, ()) = tokio::join!(self.wake_payment_worker(answer, None), self.announce(&change));
                    return Ok(resp);
                }
                Err(StoreError::Conflict(kind)) => {
                    // Our own write, landed on an attempt whose answer was lost, is carried on:
                    // its answer is ours (the same capture id), and the worker is woken for it.
                    if let Some(resp) = self.replay_ask(key).await.map_err(AppError::after_write)? {
                        if resp == answer {
                            return Ok(self.wake_payment_worker(resp, None).await);
                        }
                        return Ok(resp);
                    }
                    view = self.get_payment(merchant, payment_id).await.map_err(AppError::after_write)?;
                    if let Ask::Capture(c) = &ask
                        && view.payment.authorization.as_ref().is_some_and(|a| a.capture(c.id).is_some())
                    {
                        return Ok(self.wake_payment_worker(accepted(&ask, &view)?, None).await);
                    }
                    if kind == ConflictKind::IdempotencyKeyTaken {
                        return Err(AppError::IdempotencyInFlight);
                    }
                }
                Err(StoreError::Transient(_)) => return Err(AppError::OutcomeUnknown),
                Err(e) => return Err(e.into()),
            }
            match delays.next() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(AppError::Contended),
            }
        }
    }

    fn canceling(view: &PaymentView) -> bool {
        view.payment.authorization.as_ref().is_some_and(|a| a.cancel_requested_at_ms.is_some())
    }

    /// The answer already given for `key`, if it was used before; the work of a first request
    /// that died mid-way (its claim written without its answer) is finished here.
    async fn replay_ask(&self, key: Option<&KeyedRequest>) -> Result<Option<Accepted>, AppError> {
        let Some(key) = key else { return Ok(None) };
        match self.existing_key(key).await? {
            Some(Existing::Replay { response, .. }) => Ok(Some(response)),
            Some(Existing::Resume { .. }) => Err(AppError::IdempotencyInFlight),
            None => Ok(None),
        }
    }

    /// The payment-worker carries the capture or cancel out; if the message is lost, the repair
    /// pass finds the payment (the write put it at the back of the repair index).
    async fn wake_payment_worker(&self, answer: Accepted, key: Option<&KeyedRequest>) -> Accepted {
        let payment_id = answer.payment_id();
        tracing::Span::current().record("payment_id", tracing::field::display(payment_id));
        let job = Job::Charge { payment_id };
        if let Err(e) = carry::enqueue(|| self.queue.enqueue(&job)).await {
            tracing::error!(payment_id = %payment_id, error = %e, "not enqueued; the repair path will pick it up");
        }
        self.finish_key(key, &answer).await;
        answer
    }
}
