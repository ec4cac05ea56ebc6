//! Every storage port in memory, with the conditional semantics of the DynamoDB adapter: a
//! change lands only on the version it was read at, a claimed key is taken once, a repair
//! claim is won once. One lock makes each call atomic, as a conditional write or a
//! transaction is. `store_suite` holds both adapters to the same behaviour.
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::domain::change::Change;
use crate::domain::events::{Event, EventId, EventPage};
use crate::domain::idempotency::{Accepted, IdempotencyClaim, IdempotencyKey, IdempotencyRecord, IdempotencyState};
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::inquiry::Attempts;
use crate::domain::payment::{Payment, PaymentView, Refund};
// The same cursors as the DynamoDB store: a page's last item's sort key.
use crate::domain::ports::{
    ConflictKind, Events, IdempotencyKeys, Merchants, PaymentPage, Payments, RepairIndex, StoreError,
};
use crate::dynamo::keys::{feed_sort_key as feed_key, list_sort_key, parse_time_sort_key};

/// A record and, while it is not final, when it was last touched (its place in the repair index).
#[derive(Clone)]
struct Row<T> {
    record: T,
    touched: Option<u64>,
}

#[derive(Default)]
pub(super) struct State {
    payments: HashMap<PaymentId, Row<Payment>>,
    refunds: HashMap<RefundId, Row<Refund>>,
    keys: HashMap<(MerchantId, String), IdempotencyRecord>,
    merchants: HashSet<MerchantId>,
    pub(super) events: Vec<Event>,
    /// Webhook endpoints, deliveries and attempts (`memory_webhooks`).
    pub(super) webhooks: super::memory_webhooks::WebhookState,
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

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
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
    list_sort_key(p.created_at_ms, p.id)
}

/// Where a record written by `c` stands in the repair index: a creation or a move into a
/// non-final state puts it at `at_ms`, a final state takes it out, anything else leaves it.
fn touched_after(before: Option<u64>, moved: bool, is_final: bool, at_ms: u64) -> Option<u64> {
    match (is_final, moved) {
        (true, _) => None,
        (false, true) => Some(at_ms),
        (false, false) => before,
    }
}

#[async_trait]
impl Payments for MemoryStore {
    async fn commit(&self, c: &Change, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        let mut state = self.lock();
        check_claim(&state, claim)?;
        let p = &c.view.payment;
        let before = state.payments.get(&p.id);
        // In the order the DynamoDB transaction lists its actions: the claim, a new refund, the
        // payment, the event.
        let refund = c.written_refund();
        if let Some(r) = refund.filter(|_| c.creates_refund())
            && state.refunds.contains_key(&r.id)
        {
            return Err(StoreError::Conflict(ConflictKind::AlreadyExists));
        }
        match before {
            Some(_) if c.creates_payment() => return Err(StoreError::Conflict(ConflictKind::AlreadyExists)),
            None if !c.creates_payment() => return Err(StoreError::Conflict(ConflictKind::Changed)),
            Some(row) if row.record.version != c.read_version() => {
                return Err(StoreError::Conflict(ConflictKind::Changed));
            }
            _ => {}
        }
        if let Some(guard) = c.attempts_guard {
            let noted = match c.refund {
                None => before.and_then(|row| row.record.bank_attempts),
                Some(r) => state.refunds.get(&r).and_then(|row| row.record.bank_attempts),
            };
            if noted.map(|a| a.last_ms) != guard {
                return Err(StoreError::Conflict(ConflictKind::Changed));
            }
        }
        let at = c.event.at_ms;
        let payment_moved = before.is_none_or(|row| row.record.status != p.status) || c.event.kind.touches_repair();
        let due = p.repair_due_ms(at);
        let touched = touched_after(before.and_then(|r| r.touched), payment_moved, p.status.is_final(), due);
        // Bank attempts are moved by `record_attempt` only, never back by a change.
        let mut payment = p.clone();
        payment.bank_attempts = before.and_then(|row| row.record.bank_attempts).or(p.bank_attempts);
        if let Some(claim) = claim {
            state.keys.insert(key_of(&claim.key), claim_record(claim));
        }
        state.payments.insert(p.id, Row { record: payment, touched });
        if let Some(r) = refund {
            let before = state.refunds.get(&r.id);
            let moved = before.is_none_or(|row| row.record.status != r.status);
            let touched = touched_after(before.and_then(|row| row.touched), moved, r.status.is_final(), at);
            let mut refund = r.clone();
            refund.bank_attempts = before.and_then(|row| row.record.bank_attempts).or(r.bank_attempts);
            state.refunds.insert(r.id, Row { record: refund, touched });
        }
        if c.notify {
            state.webhooks.announce(&c.event);
        }
        state.events.push(c.event.clone());
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

    async fn record_attempt(
        &self,
        payment: PaymentId,
        refund: Option<RefundId>,
        noted: Attempts,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let (attempts, touched) = match refund {
            Some(r) => state.refunds.get_mut(&r).map(|row| (&mut row.record.bank_attempts, &mut row.touched)),
            None => state.payments.get_mut(&payment).map(|row| (&mut row.record.bank_attempts, &mut row.touched)),
        }
        .filter(|(_, touched)| touched.is_some())
        .ok_or_else(wrong_state)?;
        *attempts =
            Some(Attempts { first_ms: attempts.map_or(noted.first_ms, |a| a.first_ms), last_ms: noted.last_ms });
        *touched = Some(noted.last_ms);
        Ok(())
    }

    async fn list_payments(
        &self,
        merchant: &MerchantId,
        filter: &crate::domain::search::PaymentFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PaymentPage, StoreError> {
        let after = match cursor {
            None => None,
            Some(c) => Some(known_key(decode(c)?, |id| PaymentId::parse(id).ok())?),
        };
        let state = self.lock();
        let mut mine: Vec<&Payment> = state
            .payments
            .values()
            .map(|r| &r.record)
            .filter(|p| &p.merchant_id == merchant && filter.matches(p))
            .collect();
        mine.sort_by_key(|p| std::cmp::Reverse(list_key(p)));
        let (payments, next) =
            page(mine.into_iter().filter(|p| after.as_ref().is_none_or(|a| list_key(p) < *a)), limit);
        Ok(PaymentPage { payments, next_cursor: next.as_ref().map(|p| encode(&list_key(p))) })
    }
}

/// The first `limit` of `items` and, when more follow, the last of them (the next page's start).
fn page<'a, T: Clone + 'a>(items: impl Iterator<Item = &'a T>, limit: u32) -> (Vec<T>, Option<T>) {
    crate::util::split_page(items.take(limit as usize + 1).cloned().collect(), limit, false)
}

/// Cursors are opaque, as the DynamoDB adapter's are (`util::cursor`).
fn encode(position: &str) -> String {
    crate::util::cursor(position)
}

fn decode(cursor: &str) -> Result<String, StoreError> {
    crate::util::position(cursor).ok_or(StoreError::InvalidCursor)
}

/// A cursor's sort key, if it is one this store would have written.
fn known_key<T>(key: String, id: impl FnOnce(&str) -> Option<T>) -> Result<String, StoreError> {
    parse_time_sort_key(&key, id).map(|_| key).ok_or(StoreError::InvalidCursor)
}

#[async_trait]
impl Events for MemoryStore {
    async fn payment_events(&self, id: PaymentId, limit: u32, cursor: Option<&str>) -> Result<EventPage, StoreError> {
        let after = match cursor {
            None => 0,
            Some(c) => decode(c)?.parse::<u64>().map_err(|_| StoreError::InvalidCursor)?,
        };
        let state = self.lock();
        let mut mine: Vec<&Event> = state.events.iter().filter(|e| e.data.payment.id == id).collect();
        mine.sort_by_key(|e| e.version);
        let (events, next) = page(mine.into_iter().filter(|e| e.version > after), limit);
        Ok(EventPage { events, next_cursor: next.map(|e| encode(&e.version.to_string())) })
    }

    async fn merchant_events(
        &self,
        merchant: &MerchantId,
        filter: &crate::domain::search::EventFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, StoreError> {
        let before = match cursor {
            None => None,
            Some(c) => Some(known_key(decode(c)?, EventId::parse)?),
        };
        let state = self.lock();
        let mut mine: Vec<&Event> =
            state.events.iter().filter(|e| e.merchant_id() == merchant && filter.matches(e)).collect();
        mine.sort_by_key(|e| std::cmp::Reverse(feed_key(e)));
        let (events, next) = page(mine.into_iter().filter(|e| before.as_ref().is_none_or(|b| feed_key(e) < *b)), limit);
        Ok(EventPage { events, next_cursor: next.as_ref().map(|e| encode(&feed_key(e))) })
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        Ok(self.lock().events.iter().find(|e| e.id() == id).cloned())
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

    async fn hold(&self, payment: PaymentId, refund: Option<RefundId>, now_ms: u64) -> Result<(), StoreError> {
        self.touch(payment, refund, now_ms);
        Ok(())
    }
}

#[async_trait]
impl Merchants for MemoryStore {
    async fn merchant_exists(&self, merchant: &MerchantId) -> Result<bool, StoreError> {
        Ok(self.lock().merchants.contains(merchant))
    }
}
