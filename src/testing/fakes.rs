//! Fakes of the other ports: a clock the test moves, a queue that records what was sent, and
//! a bank that answers from a script (approving by default) and records every request.
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::memory::MemoryStore;
use crate::app::Services;
use crate::domain::bank::{AuthorizationOutcome, BankCaptureOutcome, CaptureRequest, VoidOutcome, VoidRequest};
use crate::domain::bank::{Bank, BankError, BankRefundOutcome, ChargeOutcome, ChargeRequest, RefundRequest};
use crate::domain::ids::{CaptureId, PaymentId, RefundId};
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

/// Records every job with its delay; fails the next sends while `failing` is set.
#[derive(Default)]
pub struct RecordingQueue {
    pub sent: Mutex<Vec<(Job, u32)>>,
    pub failing: Mutex<Option<QueueError>>,
}

impl RecordingQueue {
    /// The charge and refund jobs sent, in order.
    pub fn jobs(&self) -> Vec<Job> {
        let sent = self.sent.lock().unwrap();
        sent.iter().map(|(j, _)| j.clone()).filter(|j| matches!(j, Job::Charge { .. } | Job::Refund { .. })).collect()
    }

    /// The catch-ups sent, in order, each with its delay in seconds.
    pub fn catch_ups(&self) -> Vec<(Job, u32)> {
        let sent = self.sent.lock().unwrap();
        sent.iter().filter(|(j, _)| matches!(j, Job::CatchUp { .. })).cloned().collect()
    }

    /// The webhook deliveries sent, in order, each with its delay in seconds.
    pub fn deliveries(&self) -> Vec<(crate::domain::events::EventId, u32)> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .filter_map(|(j, d)| if let Job::Deliver { event } = j { Some((*event, *d)) } else { None })
            .collect()
    }
}

#[async_trait]
impl JobQueue for RecordingQueue {
    async fn enqueue_after(&self, job: &Job, delay_secs: u32) -> Result<(), QueueError> {
        if let Some(e) = self.failing.lock().unwrap().clone() {
            return Err(e);
        }
        self.sent.lock().unwrap().push((job.clone(), delay_secs));
        Ok(())
    }
}

/// What the fake bank does with one request of its script.
#[derive(Debug, Clone)]
pub enum Scripted<T> {
    /// Answers this (an outcome is applied; an error applies nothing).
    Answer(Result<T, BankError>),
    /// Applies the outcome, but the answer is lost: the caller sees a timeout.
    Lost(T),
}

/// A bank that answers from a script (then approves everything), remembers keys like a real
/// one (a key applied before is answered, not applied again, until `forget_keys`), answers
/// status inquiries from its books, and records each request's idempotency key.
#[derive(Default)]
pub struct FakeBank {
    pub charge_script: Mutex<VecDeque<Scripted<ChargeOutcome>>>,
    pub refund_script: Mutex<VecDeque<Scripted<BankRefundOutcome>>>,
    /// Inquiries fail with these first, in order.
    pub inquiry_failures: Mutex<VecDeque<BankError>>,
    pub charges: Mutex<Vec<String>>,
    pub refunds: Mutex<Vec<String>>,
    pub inquiries: Mutex<Vec<String>>,
    /// The books: what was applied, per reference, oldest first.
    pub charged: Mutex<HashMap<PaymentId, Vec<ChargeOutcome>>>,
    pub refunded: Mutex<HashMap<RefundId, Vec<BankRefundOutcome>>>,
    /// Manual capture: scripts, the keys of each request, and the books.
    pub authorization_script: Mutex<VecDeque<Scripted<AuthorizationOutcome>>>,
    pub capture_script: Mutex<VecDeque<Scripted<BankCaptureOutcome>>>,
    pub void_script: Mutex<VecDeque<Scripted<VoidOutcome>>>,
    pub holds: Mutex<Vec<String>>,
    pub authorized: Mutex<HashMap<PaymentId, Vec<AuthorizationOutcome>>>,
    pub captured: Mutex<HashMap<CaptureId, Vec<BankCaptureOutcome>>>,
    pub voided: Mutex<HashMap<PaymentId, Vec<VoidOutcome>>>,
    /// Keys the bank still remembers.
    keys: Mutex<HashSet<String>>,
}

impl FakeBank {
    pub fn then_charge(&self, answer: Result<ChargeOutcome, BankError>) -> &Self {
        self.charge_script.lock().unwrap().push_back(Scripted::Answer(answer));
        self
    }

    pub fn then_charge_lost(&self, applied: ChargeOutcome) -> &Self {
        self.charge_script.lock().unwrap().push_back(Scripted::Lost(applied));
        self
    }

    pub fn then_capture(&self, answer: Scripted<BankCaptureOutcome>) -> &Self {
        self.capture_script.lock().unwrap().push_back(answer);
        self
    }

    pub fn then_authorize(&self, answer: Scripted<AuthorizationOutcome>) -> &Self {
        self.authorization_script.lock().unwrap().push_back(answer);
        self
    }

    pub fn then_void(&self, answer: Scripted<VoidOutcome>) -> &Self {
        self.void_script.lock().unwrap().push_back(answer);
        self
    }

    pub fn then_refund(&self, answer: Result<BankRefundOutcome, BankError>) -> &Self {
        self.refund_script.lock().unwrap().push_back(Scripted::Answer(answer));
        self
    }

    pub fn then_inquiry_fails(&self, e: BankError) -> &Self {
        self.inquiry_failures.lock().unwrap().push_back(e);
        self
    }

    /// The bank's key TTL passes: every key is forgotten (its books are not).
    pub fn forget_keys(&self) {
        self.keys.lock().unwrap().clear();
    }

    fn inquiry(&self, what: String) -> Result<(), BankError> {
        self.inquiries.lock().unwrap().push(what);
        self.inquiry_failures.lock().unwrap().pop_front().map_or(Ok(()), Err)
    }
}

/// One request through the fake: a remembered key replays the first outcome; otherwise the
/// script (or `default`) decides, and what it applies goes in the books.
fn run<K: std::hash::Hash + Eq + Copy, T: Clone>(
    key: String,
    reference: K,
    keys: &Mutex<HashSet<String>>,
    books: &Mutex<HashMap<K, Vec<T>>>,
    script: &Mutex<VecDeque<Scripted<T>>>,
    default: T,
) -> Result<T, BankError> {
    if keys.lock().unwrap().contains(&key)
        && let Some(first) = books.lock().unwrap().get(&reference).and_then(|b| b.first().cloned())
    {
        return Ok(first);
    }
    let scripted = script.lock().unwrap().pop_front().unwrap_or(Scripted::Answer(Ok(default)));
    let (applied, answer) = match scripted {
        Scripted::Answer(Ok(o)) => (Some(o.clone()), Ok(o)),
        Scripted::Answer(Err(e)) => (None, Err(e)),
        Scripted::Lost(o) => (Some(o), Err(BankError::Transient("timeout".into()))),
    };
    if let Some(o) = applied {
        keys.lock().unwrap().insert(key);
        books.lock().unwrap().entry(reference).or_default().push(o);
    }
    answer
}

#[async_trait]
impl Bank for FakeBank {
    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, BankError> {
        let key = req.idempotency_key();
        self.charges.lock().unwrap().push(key.clone());
        let approved = ChargeOutcome::Approved { bank_charge_id: format!("ch_{}", req.payment_id) };
        run(key, req.payment_id, &self.keys, &self.charged, &self.charge_script, approved)
    }

    async fn refund(&self, req: &RefundRequest) -> Result<BankRefundOutcome, BankError> {
        let key = req.idempotency_key();
        self.refunds.lock().unwrap().push(key.clone());
        let ok = BankRefundOutcome::Succeeded { bank_refund_id: format!("re_{}", req.refund_id) };
        run(key, req.refund_id, &self.keys, &self.refunded, &self.refund_script, ok)
    }

    async fn charges_for(&self, payment: PaymentId) -> Result<Vec<ChargeOutcome>, BankError> {
        self.inquiry(format!("charges?reference={payment}"))?;
        Ok(self.charged.lock().unwrap().get(&payment).cloned().unwrap_or_default())
    }

    async fn refunds_for(&self, refund: RefundId) -> Result<Vec<BankRefundOutcome>, BankError> {
        self.inquiry(format!("refunds?reference={refund}"))?;
        Ok(self.refunded.lock().unwrap().get(&refund).cloned().unwrap_or_default())
    }

    async fn authorize(&self, req: &ChargeRequest) -> Result<AuthorizationOutcome, BankError> {
        let key = req.authorization_key();
        self.holds.lock().unwrap().push(key.clone());
        let approved = AuthorizationOutcome::Approved {
            bank_authorization_id: format!("au_{}", req.payment_id),
            expires_at_ms: Self::HOLD_EXPIRES_AT,
        };
        run(key, req.payment_id, &self.keys, &self.authorized, &self.authorization_script, approved)
    }

    async fn authorizations_for(&self, payment: PaymentId) -> Result<Vec<AuthorizationOutcome>, BankError> {
        self.inquiry(format!("authorizations?reference={payment}"))?;
        Ok(self.authorized.lock().unwrap().get(&payment).cloned().unwrap_or_default())
    }

    async fn capture(&self, req: &CaptureRequest) -> Result<BankCaptureOutcome, BankError> {
        let key = req.idempotency_key();
        self.holds.lock().unwrap().push(key.clone());
        let ok = BankCaptureOutcome::Succeeded { bank_capture_id: format!("cp_{}", req.capture_id) };
        run(key, req.capture_id, &self.keys, &self.captured, &self.capture_script, ok)
    }

    async fn captures_for(&self, capture: CaptureId) -> Result<Vec<BankCaptureOutcome>, BankError> {
        self.inquiry(format!("captures?reference={capture}"))?;
        Ok(self.captured.lock().unwrap().get(&capture).cloned().unwrap_or_default())
    }

    async fn void(&self, req: &VoidRequest) -> Result<VoidOutcome, BankError> {
        let key = req.idempotency_key();
        self.holds.lock().unwrap().push(key.clone());
        let released = VoidOutcome::Released { amount: 0 };
        run(key, req.payment_id, &self.keys, &self.voided, &self.void_script, released)
    }
}

impl FakeBank {
    /// When the fake's authorizations expire: a week after `World`'s clock starts.
    pub const HOLD_EXPIRES_AT: u64 = 1_800_000_000_000 + 7 * 86_400_000;
}

/// The use cases on memory, with handles to every fake.
pub struct World {
    pub services: Services,
    pub store: Arc<MemoryStore>,
    pub queue: Arc<RecordingQueue>,
    pub clock: Arc<FixedClock>,
    pub bank: Arc<FakeBank>,
}

/// The development keys: the vaults are the real ones, they need no I/O.
const KEY: &str = crate::config::DEV_CARD_KEY;
const SECRETS_KEY: &str = crate::config::DEV_WEBHOOK_SECRET_KEY;

impl World {
    pub fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let queue = Arc::new(RecordingQueue::default());
        let clock = Arc::new(FixedClock::at(1_800_000_000_000));
        let services = Services {
            store: Stores::all(Arc::clone(&store)),
            queue: Arc::clone(&queue) as Arc<dyn JobQueue>,
            cards: Arc::new(AeadVault::new(KEY, &[]).expect("the development key is valid")),
            secrets: Arc::new(AeadVault::new(SECRETS_KEY, &[]).expect("the development key is valid")),
            clock: Arc::clone(&clock) as Arc<dyn Clock>,
            traces: Arc::new(FixedTrace),
            presence: Arc::default(),
            bank_policy: crate::app::BankPolicy {
                rounds: 3,
                min_delay: std::time::Duration::from_millis(1),
                max_delay: std::time::Duration::from_millis(2),
                send_slack: std::time::Duration::ZERO,
                ..crate::app::BankPolicy::default()
            },
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

/// A `payment.created` event at 2027-01-15T08:00:00.123Z, as the API would record it.
pub fn sample_event() -> crate::domain::events::Event {
    use crate::domain::card::SealedCard;
    use crate::domain::change::Change;
    use crate::domain::events::{Actor, Cause};
    use crate::domain::ids::MerchantId;
    use crate::domain::money::{Amount, Currency};
    use crate::domain::payment::NewPayment;
    let m = MerchantId::parse("test@merchant").expect("a valid merchant id");
    let new = NewPayment {
        id: PaymentId::new(),
        merchant_id: m.clone(),
        customer_id: "c".into(),
        customer_name: None,
        amount: Amount::parse(500).expect("a valid amount"),
        currency: Currency::parse("EUR").expect("a valid currency"),
        card_last4: "4242".into(),
        sealed_card: SealedCard("v1.sealed".into()),
        created_at_ms: 1_800_000_000_123,
        tags: Default::default(),
        capture_method: Default::default(),
    };
    Change::payment_created(&new, Cause::new(Actor::Merchant(m), None)).event
}
