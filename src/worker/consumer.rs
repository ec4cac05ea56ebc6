//! The consumer loop: long-poll, run each message's job concurrently under a cap, keep the
//! message hidden while its job runs, and act on the outcome. Nothing is deleted unless its job
//! reached a final state (or it was copied to the dead-letter queue first).
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::{Instant, timeout, timeout_at};

use super::deleter;
use super::health::{WorkerStats, bump};
use super::job::JobContext;
use super::settings::RuntimeSettings;
use crate::app::jobs::Jobs;
use crate::domain::queue::{MAX_BATCH, Received, WorkQueue};
use crate::telemetry::metrics;

/// A running job's message, kept so it can be handed back if the job is cut short.
struct Running {
    message_id: String,
    receipt: String,
}

/// Consumes `queue` with `handler`'s jobs until `shutdown` completes, then drains (see the module docs
/// of `worker`). Returns once every running job finished or its message was handed back.
pub async fn consume<H: Jobs + ?Sized, Q: WorkQueue + ?Sized>(
    handler: Arc<H>,
    queue: Arc<Q>,
    settings: RuntimeSettings,
    stats: Arc<WorkerStats>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let settings = Arc::new(settings);
    let (deletes, deleter) = deleter::spawn(Arc::clone(&queue), settings.delete_linger);
    let jobs = Arc::new(JobContext {
        handler,
        queue: Arc::clone(&queue),
        deletes,
        settings: Arc::clone(&settings),
        stats: Arc::clone(&stats),
    });
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut running: HashMap<Id, Running> = HashMap::new();
    let mut failures = 0_u32;
    loop {
        while let Some(result) = tasks.try_join_next_with_id() {
            finished(result, &mut running);
        }
        let mut permits = tokio::select! {
            () = &mut shutdown => break,
            permits = free_slots(&slots, settings.concurrency, settings.receive_linger) => permits,
        };
        // Messages already received are taken even if shutdown came at the same moment: they
        // are hidden now, and dropping them would delay them by a whole visibility timeout.
        let received = tokio::select! {
            biased;
            received = queue.receive(permits.num_permits(), settings.wait, settings.visibility) => received,
            () = &mut shutdown => break,
        };
        let messages = match received {
            Ok(messages) => messages,
            Err(e) => {
                failures = failures.saturating_add(1);
                bump(&stats.receive_errors);
                let delay = receive_backoff(failures);
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "receive failed");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        failures = 0;
        metrics::oldest_message_age(oldest_age(&messages));
        if messages.is_empty() && settings.wait.is_zero() {
            // Short polling (`WORKER_WAIT_SECS=0`) answers at once: do not spin on an empty queue.
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(Duration::from_millis(200)) => continue,
            }
        }
        for msg in messages {
            bump(&stats.received);
            // SQS never returns more than asked; if it did, the extra job runs over the cap.
            let permit = permits.split(1);
            let entry = Running { message_id: msg.message_id.clone(), receipt: msg.receipt.clone() };
            let id = tasks.spawn(Arc::clone(&jobs).run(msg, permit)).id();
            running.insert(id, entry);
        }
    }
    // Running jobs hold the rest of the context (and its delete handle) until they end.
    drop(jobs);
    drain(&mut tasks, &mut running, settings.grace).await;
    release(&queue, running, &stats).await;
    // Every handle is gone now: the deleter sends what it holds and ends.
    if timeout(Duration::from_secs(15), deleter).await.is_err() {
        tracing::warn!("pending deletes did not finish; those messages will be received again");
    }
    tracing::info!("consumer stopped");
}

/// Waits for at least one free slot, then for up to a receive's 10 (or `concurrency`): all that
/// are free at once, and more as running jobs finish, for at most `linger`. So an idle worker
/// receives at once, and a busy one receives full batches instead of one message per call.
async fn free_slots(slots: &Arc<Semaphore>, concurrency: usize, linger: Duration) -> OwnedSemaphorePermit {
    let acquire = || async { Arc::clone(slots).acquire_owned().await.expect("the semaphore is never closed") };
    let mut permit = acquire().await;
    let want = MAX_BATCH.min(concurrency.max(1));
    let deadline = Instant::now() + linger;
    loop {
        let more = slots.available_permits().min(want - permit.num_permits());
        if more > 0
            && let Ok(extra) = Arc::clone(slots).try_acquire_many_owned(more as u32)
        {
            permit.merge(extra);
        }
        if permit.num_permits() >= want {
            return permit;
        }
        match timeout_at(deadline, acquire()).await {
            Ok(one) => permit.merge(one),
            Err(_) => return permit,
        }
    }
}

/// How long the oldest of `messages` waited since it was first sent (zero for none).
fn oldest_age(messages: &[Received]) -> Duration {
    let now = Duration::from_millis(crate::util::now_ms());
    let oldest = messages.iter().filter_map(|m| m.sent_at_ms).min();
    oldest.map_or(Duration::ZERO, |sent| now.saturating_sub(Duration::from_millis(sent)))
}

/// After `n` failed receives in a row: 250 ms, doubling, at most 10 s.
pub fn receive_backoff(n: u32) -> Duration {
    let exp = n.saturating_sub(1).min(6);
    Duration::from_millis(250 << exp).min(Duration::from_secs(10))
}

fn finished(result: Result<(Id, ()), JoinError>, running: &mut HashMap<Id, Running>) {
    match result {
        Ok((id, ())) => {
            running.remove(&id);
        }
        // Only at shutdown: the message stays in `running` to be handed back.
        Err(e) if e.is_cancelled() => {}
        Err(e) => {
            // A panicking job: its message reappears when its visibility runs out.
            if let Some(r) = running.remove(&e.id()) {
                tracing::error!(message_id = %r.message_id, "job panicked; the message will be received again");
            }
        }
    }
}

/// Lets running jobs finish until `grace` runs out, then cuts the rest short.
async fn drain(tasks: &mut JoinSet<()>, running: &mut HashMap<Id, Running>, grace: Duration) {
    if tasks.is_empty() {
        return;
    }
    tracing::info!(running = tasks.len(), grace_ms = grace.as_millis() as u64, "stopped receiving; draining");
    let deadline = Instant::now() + grace;
    loop {
        match timeout_at(deadline, tasks.join_next_with_id()).await {
            Ok(Some(result)) => finished(result, running),
            Ok(None) => return,
            Err(_) => {
                tracing::warn!(running = tasks.len(), "shutdown grace ran out; handing messages back");
                tasks.abort_all();
                while let Some(result) = tasks.join_next_with_id().await {
                    finished(result, running);
                }
                return;
            }
        }
    }
}

/// Makes the messages of jobs cut short visible again, so another worker takes them at once.
/// Their jobs stopped mid-way; the record is PROCESSING at worst and the bank idempotent, so the
/// next run carries on safely with the same key. All at once and bounded: if SQS is unreachable
/// the messages come back by themselves when their visibility runs out.
async fn release<Q: WorkQueue + ?Sized>(queue: &Arc<Q>, running: HashMap<Id, Running>, stats: &WorkerStats) {
    let mut calls = JoinSet::new();
    for r in running.into_values() {
        let queue = Arc::clone(queue);
        calls.spawn(async move { (queue.set_visibility(&r.receipt, Duration::ZERO).await, r.message_id) });
    }
    let all = async {
        while let Some(Ok((result, message_id))) = calls.join_next().await {
            match result {
                Ok(()) => {
                    bump(&stats.released);
                    tracing::info!(%message_id, "message handed back");
                }
                Err(e) => tracing::warn!(%message_id, error = %e, "could not hand the message back"),
            }
        }
    };
    if timeout(Duration::from_secs(5), all).await.is_err() {
        tracing::warn!("handing messages back timed out; they return when their visibility runs out");
    }
}
