//! Create, read and list payments.
use super::idempotency::{Existing, KeyedRequest};
use super::{AppError, Services, carry};
use crate::domain::change::Change;
use crate::domain::events::Actor;
use crate::domain::idempotency::Accepted;
use crate::domain::ids::{MerchantId, PaymentId};
use crate::domain::payment::{NewPayment, PaymentRequest, PaymentView};
use crate::domain::ports::{ConflictKind, Job, PaymentPage, StoreError};
use crate::domain::search::PaymentFilter;

fn accepted(payment_id: PaymentId) -> Accepted {
    Accepted::Payment { payment_id }
}

impl Services {
    /// Writes the PENDING payment (card sealed) with its `payment.created` event and enqueues
    /// its charge. The bank is never called here. With a key, the key's claim rides in the same
    /// transaction, so
    /// concurrent requests with one key create one payment. An unconfirmed write is sent again
    /// (see `carry`) rather than reported as a failure that would invite a second payment.
    pub async fn create_payment(
        &self,
        merchant: &MerchantId,
        req: PaymentRequest,
        key: Option<&KeyedRequest>,
    ) -> Result<Accepted, AppError> {
        let now = self.clock.now_ms();
        let id = PaymentId::new();
        let new = NewPayment {
            id,
            merchant_id: merchant.clone(),
            customer_id: req.customer_id,
            customer_name: req.customer_name,
            amount: req.amount,
            currency: req.currency,
            card_last4: req.card.last4(),
            sealed_card: self.cards.seal(&req.card, id).map_err(|e| AppError::Internal(e.to_string()))?,
            created_at_ms: now,
            tags: req.tags,
            capture_method: req.capture_method,
        };
        let claim = key.map(|k| k.claim(id.to_string(), now, accepted(id)));
        let mut cause = self.cause(Actor::Merchant(merchant.clone()));
        cause.idempotency_key = key.is_some();
        let mut change = Change::payment_created(&new, cause);
        change.notify = self.webhooks_want(merchant).await.wants(change.event.kind);
        let written = carry::store_write(|| self.store.payments.commit(&change, claim.as_ref())).await;
        match (written, key) {
            (Ok(()), _) => {
                let (resp, ()) = tokio::join!(self.enqueue_and_answer(id, None), self.announce(&change));
                Ok(resp)
            }
            // The id is fresh: the record (or its event) can only exist because an attempt whose
            // answer was lost (ours, or the SDK's own retry) wrote it. Without a key, nothing
            // else can fail a condition.
            (Err(StoreError::Conflict(ConflictKind::AlreadyExists | ConflictKind::Changed)), _)
            | (Err(StoreError::Conflict(_)), None) => Ok(self.enqueue_and_answer(id, None).await),
            // A key conflict, or a transaction cancelled without saying which condition failed
            // (some emulators omit the reasons): the key tells.
            (Err(StoreError::Conflict(ConflictKind::IdempotencyKeyTaken | ConflictKind::WrongState)), Some(key)) => {
                match self.existing_key(key).await.map_err(AppError::after_write)? {
                    Some(Existing::Replay { resource_id, .. }) if resource_id == id.to_string() => {
                        Ok(self.enqueue_and_answer(id, None).await)
                    }
                    Some(Existing::Replay { response, .. }) => Ok(response),
                    Some(Existing::Resume { resource_id }) => {
                        let id =
                            PaymentId::parse(&resource_id).map_err(|_| AppError::Internal("bad resource".into()))?;
                        Ok(self.enqueue_and_answer(id, Some(key)).await)
                    }
                    // The key expired between our write and our read (48 h TTL): the client's
                    // retry will claim it afresh.
                    None => Err(AppError::IdempotencyInFlight),
                }
            }
            // Still unconfirmed after every attempt: the record may exist. If it does, the
            // repair path enqueues it; the client must not be told to simply retry.
            (Err(StoreError::Transient(_)), _) => Err(AppError::OutcomeUnknown),
            (Err(e), _) => Err(e.into()),
        }
    }

    /// The record is durable before this runs. If the send fails, the answer is still 202:
    /// the repair path finds the PENDING payment and enqueues it (see docs/DESIGN.md, "Repair path").
    async fn enqueue_and_answer(&self, id: PaymentId, key: Option<&KeyedRequest>) -> Accepted {
        // The request's span (see `telemetry::request_span`) names the payment from here on.
        tracing::Span::current().record("payment_id", tracing::field::display(id));
        let job = Job::Charge { payment_id: id };
        if let Err(e) = carry::enqueue(|| self.queue.enqueue(&job)).await {
            tracing::error!(payment_id = %id, error = %e, "charge not enqueued; the repair path will pick it up");
        }
        tracing::info!(payment_id = %id, "payment accepted");
        let resp = accepted(id);
        self.finish_key(key, &resp).await;
        resp
    }

    /// The payment with its refunds, if it belongs to `merchant`; another merchant's is
    /// reported exactly like a missing one.
    pub async fn get_payment(&self, merchant: &MerchantId, id: PaymentId) -> Result<PaymentView, AppError> {
        match self.store.payments.get_payment(id).await? {
            Some(view) if &view.payment.merchant_id == merchant => Ok(view),
            _ => Err(AppError::NotFound),
        }
    }

    /// The merchant's payments that `filter` matches, newest first.
    pub async fn list_payments(
        &self,
        merchant: &MerchantId,
        filter: &PaymentFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PaymentPage, AppError> {
        Ok(self.store.payments.list_payments(merchant, filter, limit, cursor).await?)
    }
}
