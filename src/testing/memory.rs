//! Every storage port in memory, with the conditional semantics of the DynamoDB adapter: a
//! final state is never left, refunds never exceed what is left, a claimed key is taken once,
//! a repair claim is won once. One lock makes each call atomic, as a conditional write or a
//! transaction is. `store_suite` holds both adapters to the same behaviour.
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::domain::idempotency::{Accepted, IdempotencyClaim, IdempotencyKey, IdempotencyRecord, IdempotencyState};
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::payment::{
    ListPosition, NewPayment, NewRefund, Payment, PaymentOutcome, PaymentView, Refund, RefundOutcome,
};
use crate::domain::ports::{
    ConflictKind, IdempotencyKeys, Merchants, PaymentPage, Payments, Refunds, RepairIndex, StoreError,
};
use crate::domain::status::{PaymentStatus, RefundStatus};

/// A record and, while it is not final, when it was last touched (its place in the repair index).
#[derive(Clone)]
struct Row<T> {
    record: T,
    touched: Option<u64>,
}

#[derive(Default)]
struct State {
    payments: HashMap<PaymentId, Row<Payment>>,
    refunds: HashMap<RefundId, Row<Refund>>,
    keys: HashMap<(MerchantId, String), IdempotencyRecord>,
    merchants: HashSet<MerchantId>,
}

pub struct MemoryStore {
    state: Mutex<State>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

fn wrong_state() -> StoreError {
    StoreError::Conflict(ConflictKind::WrongState)
}

/// A conditional state move: `to` only from the states it may come from.
fn advance<S: Copy + PartialEq + 'static>(status: &mut S, to: S, allowed_from: &[S]) -> Result<(), StoreError> {
    if !allowed_from.contains(status) {
        return Err(wrong_state());
    }
    *status = to;
    Ok(())
}

fn key_of(k: &IdempotencyKey) -> (MerchantId, String) {
    (k.merchant_id.clone(), k.key.clone())
}

impl MemoryStore {
    /// With the merchants SETUP seeds.
    pub fn new() -> Self {
        let merchants = crate::dynamo::setup::SEEDED_MERCHANTS
            .iter()
            .map(|(id, _)| MerchantId::parse(id).expect("seeded merchant ids are valid"))
            .collect();
        Self { state: Mutex::new(State { merchants, ..State::default() }) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets a record's last touch, as if it had been written at `at_ms` (for repair tests).
    pub fn touch(&self, payment: PaymentId, refund: Option<RefundId>, at_ms: u64) {
        let mut state = self.lock();
        let touched = match refund {
            Some(r) => state.refunds.get_mut(&r).map(|row| &mut row.touched),
            None => state.payments.get_mut(&payment).map(|row| &mut row.touched),
        };
        if let Some(t) = touched.filter(|t| t.is_some()) {
            *t = Some(at_ms);
        }
    }
}

fn claim_record(claim: &IdempotencyClaim) -> IdempotencyRecord {
    IdempotencyRecord {
        request_hash: claim.request_hash.clone(),
        resource_id: claim.resource_id.clone(),
        state: match &claim.response {
            Some(resp) => IdempotencyState::Done(resp.clone()),
            None => IdempotencyState::InProgress { locked_until_ms: claim.locked_until_ms },
        },
    }
}

fn check_claim(state: &State, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
    match claim {
        Some(c) if state.keys.contains_key(&key_of(&c.key)) => {
            Err(StoreError::Conflict(ConflictKind::IdempotencyKeyTaken))
        }
        _ => Ok(()),
    }
}

fn list_key(p: &Payment) -> String {
    ListPosition::of(p).key()
}

#[async_trait]
impl Payments for MemoryStore {
    async fn insert_payment(&self, p: &NewPayment, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        let mut state = self.lock();
        check_claim(&state, claim)?;
        if state.payments.contains_key(&p.id) {
            return Err(StoreError::Conflict(ConflictKind::AlreadyExists));
        }
        if let Some(c) = claim {
            state.keys.insert(key_of(&c.key), claim_record(c));
        }
        state.payments.insert(p.id, Row { record: p.pending(), touched: Some(p.created_at_ms) });
        Ok(())
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError> {
        let state = self.lock();
        let Some(row) = state.payments.get(&id) else { return Ok(None) };
        let mut refunds: Vec<Refund> =
            state.refunds.values().filter(|r| r.record.payment_id == id).map(|r| r.record.clone()).collect();
        refunds.sort_by_key(|r| (r.created_at_ms, r.id.to_string()));
        Ok(Some(PaymentView { payment: row.record.clone(), refunds }))
    }

    async fn list_payments(
        &self,
        merchant: &MerchantId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PaymentPage, StoreError> {
        let after = match cursor {
            None => None,
            Some(c) => Some(ListPosition::parse(c).ok_or(StoreError::InvalidCursor)?.key()),
        };
        let state = self.lock();
        let mut mine: Vec<&Payment> =
            state.payments.values().map(|r| &r.record).filter(|p| &p.merchant_id == merchant).collect();
        mine.sort_by_key(|p| std::cmp::Reverse(list_key(p)));
        let page: Vec<Payment> = mine
            .into_iter()
            .filter(|p| after.as_ref().is_none_or(|a| list_key(p) < *a))
            .take(limit as usize + 1)
            .cloned()
            .collect();
        let more = page.len() > limit as usize;
        let mut payments = page;
        payments.truncate(limit as usize);
        let next_cursor = if more { payments.last().map(list_key) } else { None };
        Ok(PaymentPage { payments, next_cursor })
    }

    async fn start_payment(&self, id: PaymentId, now_ms: u64) -> Result<Payment, StoreError> {
        let mut state = self.lock();
        let row = state.payments.get_mut(&id).ok_or_else(wrong_state)?;
        let to = PaymentStatus::Processing;
        advance(&mut row.record.status, to, to.allowed_from())?;
        row.record.updated_at_ms = now_ms;
        row.touched = Some(now_ms);
        Ok(row.record.clone())
    }

    async fn settle_payment(
        &self,
        id: PaymentId,
        outcome: &PaymentOutcome,
        now_ms: u64,
    ) -> Result<Payment, StoreError> {
        let mut state = self.lock();
        let row = state.payments.get_mut(&id).ok_or_else(wrong_state)?;
        let to = outcome.status();
        advance(&mut row.record.status, to, to.allowed_from())?;
        let p = &mut row.record;
        p.updated_at_ms = now_ms;
        p.sealed_card = None;
        match outcome {
            PaymentOutcome::Succeeded { bank_charge_id } => p.bank_charge_id = Some(bank_charge_id.clone()),
            PaymentOutcome::Declined { reason } | PaymentOutcome::Failed { reason } => p.reason = Some(reason.clone()),
        }
        row.touched = None;
        Ok(row.record.clone())
    }
}

#[async_trait]
impl Refunds for MemoryStore {
    async fn insert_refund(&self, r: &NewRefund, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        let mut state = self.lock();
        check_claim(&state, claim)?;
        let reservable = state.payments.get(&r.payment_id).is_some_and(|row| {
            let p = &row.record;
            p.merchant_id == r.merchant_id
                && p.refundable_left >= r.amount.get()
                && !matches!(p.status, PaymentStatus::Declined | PaymentStatus::Failed)
        });
        if !reservable {
            return Err(StoreError::Conflict(ConflictKind::InsufficientRefundable));
        }
        if state.refunds.contains_key(&r.id) {
            return Err(StoreError::Conflict(ConflictKind::AlreadyExists));
        }
        if let Some(c) = claim {
            state.keys.insert(key_of(&c.key), claim_record(c));
        }
        if let Some(row) = state.payments.get_mut(&r.payment_id) {
            row.record.refundable_left -= r.amount.get();
        }
        state.refunds.insert(r.id, Row { record: r.pending(), touched: Some(r.created_at_ms) });
        Ok(())
    }

    async fn start_refund(&self, payment: PaymentId, id: RefundId, now_ms: u64) -> Result<Refund, StoreError> {
        let mut state = self.lock();
        let row = state.refunds.get_mut(&id).filter(|r| r.record.payment_id == payment).ok_or_else(wrong_state)?;
        let to = RefundStatus::Processing;
        advance(&mut row.record.status, to, to.allowed_from())?;
        row.record.updated_at_ms = now_ms;
        row.touched = Some(now_ms);
        Ok(row.record.clone())
    }

    async fn settle_refund(&self, refund: &Refund, outcome: &RefundOutcome, now_ms: u64) -> Result<(), StoreError> {
        let mut state = self.lock();
        let to = match outcome {
            RefundOutcome::Succeeded { .. } => RefundStatus::Succeeded,
            RefundOutcome::Failed { .. } => RefundStatus::Failed,
        };
        let row = state.refunds.get_mut(&refund.id).ok_or_else(wrong_state)?;
        advance(&mut row.record.status, to, to.allowed_from())?;
        let r = &mut row.record;
        r.updated_at_ms = now_ms;
        match outcome {
            RefundOutcome::Succeeded { bank_refund_id } => r.bank_refund_id = Some(bank_refund_id.clone()),
            RefundOutcome::Failed { reason } => r.reason = Some(reason.clone()),
        }
        row.touched = None;
        let amount = row.record.amount.get();
        if let Some(p) = state.payments.get_mut(&refund.payment_id) {
            match outcome {
                RefundOutcome::Succeeded { .. } => {
                    p.record.refunded_amount += amount;
                    p.record.refund_timestamp_ms = Some(now_ms);
                }
                RefundOutcome::Failed { .. } => p.record.refundable_left += amount,
            }
        }
        Ok(())
    }
}

#[async_trait]
impl IdempotencyKeys for MemoryStore {
    async fn get_idempotency(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.lock().keys.get(&key_of(key)).cloned())
    }

    async fn renew_idempotency(&self, key: &IdempotencyKey, seen: u64, until: u64) -> Result<(), StoreError> {
        let mut state = self.lock();
        match state.keys.get_mut(&key_of(key)) {
            Some(IdempotencyRecord { state: IdempotencyState::InProgress { locked_until_ms }, .. })
                if *locked_until_ms == seen =>
            {
                *locked_until_ms = until;
                Ok(())
            }
            _ => Err(wrong_state()),
        }
    }

    async fn complete_idempotency(&self, key: &IdempotencyKey, response: &Accepted) -> Result<(), StoreError> {
        let mut state = self.lock();
        let record = state.keys.get_mut(&key_of(key)).ok_or_else(wrong_state)?;
        record.state = IdempotencyState::Done(response.clone());
        Ok(())
    }
}

/// Records untouched since `older_than_ms`, oldest first, at most `limit`: the order the repair
/// index answers in.
fn oldest_first<'a, T>(rows: impl Iterator<Item = &'a Row<T>>, older_than_ms: u64, limit: u32) -> Vec<&'a Row<T>>
where
    T: 'a,
{
    let mut stale: Vec<&Row<T>> = rows.filter(|r| r.touched.is_some_and(|t| t < older_than_ms)).collect();
    stale.sort_by_key(|r| r.touched);
    stale.truncate(limit as usize);
    stale
}

#[async_trait]
impl RepairIndex for MemoryStore {
    async fn stale_payments(&self, older_than_ms: u64, limit: u32) -> Result<Vec<PaymentId>, StoreError> {
        let state = self.lock();
        let stale = oldest_first(state.payments.values(), older_than_ms, limit);
        Ok(stale.into_iter().map(|r| r.record.id).collect())
    }

    async fn stale_refunds(&self, older_than_ms: u64, limit: u32) -> Result<Vec<(PaymentId, RefundId)>, StoreError> {
        let state = self.lock();
        let stale = oldest_first(state.refunds.values(), older_than_ms, limit);
        Ok(stale.into_iter().map(|r| (r.record.payment_id, r.record.id)).collect())
    }

    async fn claim_stale(
        &self,
        payment: PaymentId,
        refund: Option<RefundId>,
        older_than_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let touched = match refund {
            Some(r) => state.refunds.get_mut(&r).map(|row| &mut row.touched),
            None => state.payments.get_mut(&payment).map(|row| &mut row.touched),
        };
        match touched {
            Some(t) if t.is_some_and(|at| at < older_than_ms) => {
                *t = Some(now_ms);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl Merchants for MemoryStore {
    async fn merchant_exists(&self, merchant: &MerchantId) -> Result<bool, StoreError> {
        Ok(self.lock().merchants.contains(merchant))
    }
}
