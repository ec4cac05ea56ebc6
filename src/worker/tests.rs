//! The runtime against an in-memory queue and scripted handlers: what is deleted, delayed,
//! dead-lettered and handed back, the concurrency cap, the heartbeat and shutdown. Durations are
//! scaled down to milliseconds; the logic does not care.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::*;
use crate::app::AppError;
use crate::app::Step;
use crate::app::jobs::Jobs;
use crate::domain::ids::PaymentId;
use crate::domain::queue::{Job, MAX_BATCH, QueueError, Received, WorkQueue};
use crate::sqs::message;

#[derive(Default)]
struct FakeQueue {
    inbox: Mutex<VecDeque<Received>>,
    /// Receives that fail before messages are handed out.
    failing_receives: AtomicUsize,
    asked: Mutex<Vec<usize>>,
    delete_calls: Mutex<Vec<usize>>,
    deleted: Mutex<Vec<String>>,
    visibility: Mutex<Vec<(String, Duration)>>,
    dead: Mutex<Vec<(String, String)>>,
    dlq_down: bool,
}

#[async_trait]
impl WorkQueue for FakeQueue {
    async fn receive(&self, max: usize, wait: Duration, _: Duration) -> Result<Vec<Received>, QueueError> {
        self.asked.lock().unwrap().push(max);
        if self.failing_receives.load(Ordering::SeqCst) > 0 {
            self.failing_receives.fetch_sub(1, Ordering::SeqCst);
            return Err(QueueError::Transient("ServiceUnavailable".into()));
        }
        let batch: Vec<_> = {
            let mut inbox = self.inbox.lock().unwrap();
            let n = max.min(inbox.len());
            inbox.drain(..n).collect()
        };
        if batch.is_empty() {
            tokio::time::sleep(wait).await;
        }
        Ok(batch)
    }
    async fn delete_batch(&self, receipts: &[String]) -> Result<usize, QueueError> {
        self.delete_calls.lock().unwrap().push(receipts.len());
        self.deleted.lock().unwrap().extend_from_slice(receipts);
        Ok(0)
    }
    async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.visibility.lock().unwrap().push((receipt.to_owned(), visibility));
        Ok(())
    }
    async fn dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        if self.dlq_down {
            return Err(QueueError::Transient("ServiceUnavailable".into()));
        }
        self.dead.lock().unwrap().push((body.to_owned(), reason.to_owned()));
        Ok(())
    }
}

impl FakeQueue {
    fn with(messages: Vec<Received>) -> Self {
        Self { inbox: Mutex::new(messages.into()), ..Self::default() }
    }
    fn deleted(&self) -> Vec<String> {
        let mut d = self.deleted.lock().unwrap().clone();
        d.sort();
        d
    }
    fn visibility(&self) -> Vec<(String, Duration)> {
        self.visibility.lock().unwrap().clone()
    }
}

/// A message as the SQS adapter hands it over: the body decoded (`None`: not a job).
fn received(n: usize, body: String, receive_count: u32) -> Received {
    Received {
        message_id: format!("m{n}"),
        receipt: format!("r{n}"),
        job: message::decode(&body),
        body,
        receive_count,
        sent_at_ms: None,
        trace: Default::default(),
    }
}

fn charges(count: usize, receive_count: u32) -> Vec<Received> {
    (0..count)
        .map(|n| received(n, message::encode(&Job::Charge { payment_id: PaymentId::new() }), receive_count))
        .collect()
}

/// Answers every job with the same step after `delay`; records how many run at once.
struct Scripted {
    step: Step,
    delay: Duration,
    calls: AtomicUsize,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl Scripted {
    fn new(step: Step, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            step,
            delay,
            calls: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Jobs for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    async fn repair(&self) -> Result<usize, AppError> {
        Ok(0)
    }

    async fn run(&self, _: Job) -> Step {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        // Jobs of one batch end a few ms apart, as real ones do.
        let stagger = if self.delay.is_zero() { Duration::ZERO } else { Duration::from_millis(3 * (n % 10) as u64) };
        tokio::time::sleep(self.delay + stagger).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.step.clone()
    }
}

fn settings() -> RuntimeSettings {
    RuntimeSettings {
        concurrency: 8,
        wait: Duration::from_millis(20),
        visibility: Duration::from_millis(300),
        heartbeat: Duration::from_millis(100),
        grace: Duration::from_millis(500),
        delete_linger: Duration::from_millis(20),
        receive_linger: Duration::from_millis(10),
    }
}

/// Runs the consumer until `handled` messages reached an outcome, then shuts it down.
async fn run_until(
    handler: Arc<Scripted>,
    queue: Arc<FakeQueue>,
    settings: RuntimeSettings,
    handled: u64,
) -> Arc<WorkerStats> {
    let stats = Arc::new(WorkerStats::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(consume(handler, Arc::clone(&queue), settings, Arc::clone(&stats), async {
        let _ = stopped.await;
    }));
    tokio::time::timeout(Duration::from_secs(10), async {
        while stats.processed() < handled {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("messages were handled");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("consumer stopped").unwrap();
    stats
}

#[tokio::test]
async fn done_jobs_are_deleted_in_batches_of_at_most_ten() {
    let queue = Arc::new(FakeQueue::with(charges(25, 1)));
    let stats = run_until(Scripted::new(Step::Done, Duration::ZERO), Arc::clone(&queue), settings(), 25).await;
    assert_eq!(queue.deleted().len(), 25);
    let calls = queue.delete_calls.lock().unwrap().clone();
    assert!(calls.iter().all(|&n| n <= MAX_BATCH), "{calls:?}");
    assert!(calls.len() < 25, "deletes were not batched: {calls:?}");
    assert!(queue.visibility().is_empty());
    assert_eq!(stats.done.load(Ordering::SeqCst), 25);
    assert_eq!(stats.in_flight.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn retried_jobs_stay_queued_with_a_backoff_by_receive_count() {
    let queue = Arc::new(FakeQueue::with(charges(1, 3)));
    run_until(Scripted::new(Step::Retry("timeout".into()), Duration::ZERO), Arc::clone(&queue), settings(), 1).await;
    assert!(queue.deleted().is_empty());
    assert_eq!(queue.visibility(), [("r0".to_owned(), Duration::from_secs(8))]);
}

#[tokio::test]
async fn jobs_not_ready_let_their_message_go_instead_of_walking_it_to_the_dlq() {
    let queue = Arc::new(FakeQueue::with(charges(1, 9)));
    run_until(Scripted::new(Step::NotReady, Duration::ZERO), Arc::clone(&queue), settings(), 1).await;
    assert_eq!(queue.deleted(), ["r0"]);
    assert!(queue.visibility().is_empty());
    assert!(queue.dead.lock().unwrap().is_empty());
}

#[tokio::test]
async fn poison_is_copied_to_the_dlq_then_deleted() {
    let queue = Arc::new(FakeQueue::with(charges(1, 1)));
    let body = queue.inbox.lock().unwrap()[0].body.clone();
    run_until(Scripted::new(Step::Poison("unknown payment".into()), Duration::ZERO), Arc::clone(&queue), settings(), 1)
        .await;
    assert_eq!(*queue.dead.lock().unwrap(), [(body, "unknown payment".to_owned())]);
    assert_eq!(queue.deleted(), ["r0"]);
}

#[tokio::test]
async fn bodies_that_are_not_jobs_never_reach_the_handler() {
    let queue = Arc::new(FakeQueue::with(vec![received(0, "hello".into(), 1)]));
    let handler = Scripted::new(Step::Done, Duration::ZERO);
    let stats = run_until(Arc::clone(&handler), Arc::clone(&queue), settings(), 1).await;
    assert_eq!(handler.calls.load(Ordering::SeqCst), 0);
    assert_eq!(*queue.dead.lock().unwrap(), [("hello".to_owned(), "body is not a job message".to_owned())]);
    assert_eq!(queue.deleted(), ["r0"]);
    assert_eq!(stats.dead_lettered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn poison_is_not_deleted_when_the_dlq_is_unreachable() {
    let queue = Arc::new(FakeQueue { dlq_down: true, ..FakeQueue::with(vec![received(0, "{}".into(), 1)]) });
    run_until(Scripted::new(Step::Done, Duration::ZERO), Arc::clone(&queue), settings(), 1).await;
    assert!(queue.deleted().is_empty());
}

#[tokio::test]
async fn a_slow_job_keeps_its_message_hidden() {
    let queue = Arc::new(FakeQueue::with(charges(1, 1)));
    run_until(Scripted::new(Step::Done, Duration::from_millis(350)), Arc::clone(&queue), settings(), 1).await;
    let beats = queue.visibility();
    assert!(beats.len() >= 2, "{beats:?}");
    assert!(beats.iter().all(|b| *b == ("r0".to_owned(), Duration::from_millis(300))));
    assert_eq!(queue.deleted(), ["r0"]);
}

#[tokio::test]
async fn concurrency_is_capped_and_receives_ask_for_free_slots_only() {
    let queue = Arc::new(FakeQueue::with(charges(20, 1)));
    let handler = Scripted::new(Step::Done, Duration::from_millis(30));
    let limited = RuntimeSettings { concurrency: 4, ..settings() };
    run_until(Arc::clone(&handler), Arc::clone(&queue), limited, 20).await;
    assert_eq!(handler.max_running.load(Ordering::SeqCst), 4);
    let asked = queue.asked.lock().unwrap().clone();
    assert!(asked.iter().all(|&n| (1..=4).contains(&n)), "{asked:?}");
    assert_eq!(queue.deleted().len(), 20);
}

#[tokio::test]
async fn receive_errors_back_off_and_the_loop_goes_on() {
    let queue = Arc::new(FakeQueue::with(charges(1, 1)));
    queue.failing_receives.store(2, Ordering::SeqCst);
    let stats = run_until(Scripted::new(Step::Done, Duration::ZERO), Arc::clone(&queue), settings(), 1).await;
    assert_eq!(stats.receive_errors.load(Ordering::SeqCst), 2);
    assert_eq!(queue.deleted(), ["r0"]);
    let backoff: Vec<u128> = (1..=8).map(|n| receive_backoff(n).as_millis()).collect();
    assert_eq!(backoff, [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
}

#[tokio::test]
async fn at_shutdown_running_jobs_finish_within_grace_or_are_handed_back() {
    let queue = Arc::new(FakeQueue::with(charges(1, 1)));
    let stats = Arc::new(WorkerStats::default());
    let handler = Scripted::new(Step::Done, Duration::from_secs(60));
    let (stop, stopped) = oneshot::channel::<()>();
    let quick = RuntimeSettings { grace: Duration::from_millis(50), ..settings() };
    let task = tokio::spawn(consume(Arc::clone(&handler), Arc::clone(&queue), quick, Arc::clone(&stats), async {
        let _ = stopped.await;
    }));
    while handler.calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops after the grace period").unwrap();
    assert!(queue.deleted().is_empty());
    assert_eq!(queue.visibility().last(), Some(&("r0".to_owned(), Duration::ZERO)));
    assert_eq!(stats.released.load(Ordering::SeqCst), 1);
    assert_eq!(stats.in_flight.load(Ordering::SeqCst), 0);

    // A job that ends within the grace period is settled as usual.
    let queue = Arc::new(FakeQueue::with(charges(1, 1)));
    let handler = Scripted::new(Step::Done, Duration::from_millis(100));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(consume(
        Arc::clone(&handler),
        Arc::clone(&queue),
        settings(),
        Arc::new(WorkerStats::default()),
        async {
            let _ = stopped.await;
        },
    ));
    while handler.calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
    assert_eq!(queue.deleted(), ["r0"]);
}

#[tokio::test]
async fn a_busy_worker_waits_briefly_to_receive_fuller_batches() {
    let queue = Arc::new(FakeQueue::with(charges(40, 1)));
    let handler = Scripted::new(Step::Done, Duration::from_millis(30));
    let batching = RuntimeSettings { concurrency: 10, receive_linger: Duration::from_millis(200), ..settings() };
    run_until(Arc::clone(&handler), Arc::clone(&queue), batching, 40).await;
    let asked = queue.asked.lock().unwrap().clone();
    // Idle at first: a full batch at once. Then each receive waits for the running batch to
    // finish instead of asking for the first slot that frees (which would be 1, 1, 1, ...).
    assert!(asked.iter().take(4).all(|&n| n >= 8), "{asked:?}");
    assert_eq!(queue.deleted().len(), 40);
}
