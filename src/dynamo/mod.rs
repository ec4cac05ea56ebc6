//! The DynamoDB adapter: one table holds payments, refunds, idempotency keys and merchants
//! (layout in `keys`). Every state change is a conditional write, so states only move forward.
mod attrs;
mod error;
mod idempotency;
mod items;
pub mod keys;
mod payments;
mod refunds;
mod repair;
pub mod setup;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use crate::domain::idempotency::{IdempotencyClaim, IdempotencyKey, IdempotencyRecord, StoredResponse};
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::payment::{NewPayment, NewRefund, Payment, PaymentOutcome, PaymentView, Refund, RefundOutcome};
use crate::domain::ports::{PaymentPage, PaymentStore, StoreError};

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

#[async_trait]
impl PaymentStore for DynamoStore {
    async fn insert_payment(&self, p: &NewPayment, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        self.insert_payment_impl(p, claim).await
    }
    async fn insert_refund(&self, r: &NewRefund, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        self.insert_refund_impl(r, claim).await
    }
    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError> {
        self.get_payment_impl(id).await
    }
    async fn list_payments(&self, m: &MerchantId, limit: u32, cursor: Option<&str>) -> Result<PaymentPage, StoreError> {
        self.list_payments_impl(m, limit, cursor).await
    }
    async fn merchant_exists(&self, m: &MerchantId) -> Result<bool, StoreError> {
        self.merchant_exists_impl(m).await
    }
    async fn get_idempotency(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.get_idempotency_impl(key).await
    }
    async fn renew_idempotency(&self, key: &IdempotencyKey, seen: u64, until: u64) -> Result<(), StoreError> {
        self.renew_idempotency_impl(key, seen, until).await
    }
    async fn complete_idempotency(&self, key: &IdempotencyKey, r: &StoredResponse) -> Result<(), StoreError> {
        self.complete_idempotency_impl(key, r).await
    }
    async fn start_payment(&self, id: PaymentId, now_ms: u64) -> Result<Payment, StoreError> {
        self.start_payment_impl(id, now_ms).await
    }
    async fn settle_payment(&self, id: PaymentId, o: &PaymentOutcome, now_ms: u64) -> Result<Payment, StoreError> {
        self.settle_payment_impl(id, o, now_ms).await
    }
    async fn start_refund(&self, p: PaymentId, id: RefundId, now_ms: u64) -> Result<Refund, StoreError> {
        self.start_refund_impl(p, id, now_ms).await
    }
    async fn settle_refund(&self, r: &Refund, o: &RefundOutcome, now_ms: u64) -> Result<(), StoreError> {
        self.settle_refund_impl(r, o, now_ms).await
    }
    async fn stale_payments(&self, older_than_ms: u64, limit: u32) -> Result<Vec<PaymentId>, StoreError> {
        self.stale_payments_impl(older_than_ms, limit).await
    }
    async fn stale_refunds(&self, older_than_ms: u64, limit: u32) -> Result<Vec<(PaymentId, RefundId)>, StoreError> {
        self.stale_refunds_impl(older_than_ms, limit).await
    }
    async fn claim_stale(&self, p: PaymentId, r: Option<RefundId>, older: u64, now: u64) -> Result<bool, StoreError> {
        self.claim_stale_impl(p, r, older, now).await
    }
}
