//! Fakes of the other ports: a clock the test moves, a queue that records what was sent, and
//! a bank that answers from a script (approving by default) and records every request.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::memory::MemoryStore;
use crate::app::Services;
use crate::domain::bank::{Bank, BankError, BankRefundOutcome, ChargeOutcome, ChargeRequest, RefundRequest};
use crate::domain::ports::{Clock, Job, JobQueue, QueueError, Stores};
use crate::vault::AeadVault;

/// A clock that moves only when told.
pub struct FixedClock(AtomicU64);

impl FixedClock {
    pub fn at(ms: u64) -> Self {
        Self(AtomicU64::new(ms))
    }

    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Records every job; fails the next sends while `failing` is set.
#[derive(Default)]
pub struct RecordingQueue {
    pub sent: Mutex<Vec<Job>>,
    pub failing: Mutex<Option<QueueError>>,
}

impl RecordingQueue {
    pub fn jobs(&self) -> Vec<Job> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl JobQueue for RecordingQueue {
    async fn enqueue(&self, job: &Job) -> Result<(), QueueError> {
        if let Some(e) = self.failing.lock().unwrap().clone() {
            return Err(e);
        }
        self.sent.lock().unwrap().push(*job);
        Ok(())
    }
}

/// A bank that answers from a script (then approves everything) and records each request's
/// idempotency key.
#[derive(Default)]
pub struct FakeBank {
    pub charge_script: Mutex<VecDeque<Result<ChargeOutcome, BankError>>>,
    pub refund_script: Mutex<VecDeque<Result<BankRefundOutcome, BankError>>>,
    pub charges: Mutex<Vec<String>>,
    pub refunds: Mutex<Vec<String>>,
}

impl FakeBank {
    pub fn then_charge(&self, answer: Result<ChargeOutcome, BankError>) -> &Self {
        self.charge_script.lock().unwrap().push_back(answer);
        self
    }

    pub fn then_refund(&self, answer: Result<BankRefundOutcome, BankError>) -> &Self {
        self.refund_script.lock().unwrap().push_back(answer);
        self
    }
}

#[async_trait]
impl Bank for FakeBank {
    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, BankError> {
        self.charges.lock().unwrap().push(req.idempotency_key());
        let scripted = self.charge_script.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| Ok(ChargeOutcome::Approved { bank_charge_id: format!("ch_{}", req.payment_id) }))
    }

    async fn refund(&self, req: &RefundRequest) -> Result<BankRefundOutcome, BankError> {
        self.refunds.lock().unwrap().push(req.idempotency_key());
        let scripted = self.refund_script.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| Ok(BankRefundOutcome::Succeeded { bank_refund_id: format!("re_{}", req.refund_id) }))
    }
}

/// The use cases on memory, with handles to every fake.
pub struct World {
    pub services: Services,
    pub store: Arc<MemoryStore>,
    pub queue: Arc<RecordingQueue>,
    pub clock: Arc<FixedClock>,
    pub bank: Arc<FakeBank>,
}

/// The development card key: the vault is the real one, it needs no I/O.
const KEY: &str = "ZGV2LW9ubHktY2FyZC1rZXktbm90LWZvci1wcm9kISE=";

impl World {
    pub fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let queue = Arc::new(RecordingQueue::default());
        let clock = Arc::new(FixedClock::at(1_800_000_000_000));
        let services = Services {
            store: Stores::all(Arc::clone(&store)),
            queue: Arc::clone(&queue) as Arc<dyn JobQueue>,
            vault: Arc::new(AeadVault::new(KEY, &[]).expect("the development key is valid")),
            clock: Arc::clone(&clock) as Arc<dyn Clock>,
            traces: Arc::new(FixedTrace),
        };
        Self { services, store, queue, clock, bank: Arc::new(FakeBank::default()) }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

/// Every change recorded under one trace id, `FixedTrace::ID`.
pub struct FixedTrace;

impl FixedTrace {
    pub const ID: &'static str = "4bf92f3577b34da6a3ce929d0e0e4736";
}

impl crate::domain::ports::Traces for FixedTrace {
    fn current_trace_id(&self) -> Option<String> {
        Some(Self::ID.to_owned())
    }
}
