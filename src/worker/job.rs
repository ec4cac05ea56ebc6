//! One message's job: decode it, run its handler inside a span that continues the sender's
//! trace while the message is kept hidden, then act on the outcome (delete, retry later, or
//! dead-letter). The consumer loop (`consumer.rs`) only receives and spawns.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tracing::{Instrument, Span};

use super::deleter::DeleteHandle;
use super::health::{InFlight, WorkerStats, bump};
use super::policy::{self, Disposition};
use super::settings::RuntimeSettings;
use crate::app::Step;
use crate::app::jobs::Jobs;
use crate::domain::queue::{Job, Received, WorkQueue};
use crate::telemetry::{metrics, propagation};

/// What every job of one consumer shares. The delete handle lives as long as a job may use it:
/// the deleter ends once the consumer and every job have dropped theirs.
pub(super) struct JobContext<H: ?Sized, Q: ?Sized> {
    pub handler: Arc<H>,
    pub queue: Arc<Q>,
    pub deletes: DeleteHandle,
    pub settings: Arc<RuntimeSettings>,
    pub stats: Arc<WorkerStats>,
}

impl<H: Jobs + ?Sized, Q: WorkQueue + ?Sized> JobContext<H, Q> {
    /// Runs `msg`'s job to its outcome; `_slot` is the concurrency slot it holds until it ends.
    pub async fn run(self: Arc<Self>, msg: Received, _slot: Option<OwnedSemaphorePermit>) {
        let _in_flight = InFlight::enter(&self.stats);
        let job = msg.job.clone();
        let span = job_span(&msg, job.as_ref());
        self.settle(msg, job).instrument(span).await;
    }

    /// Runs the job and acts on its outcome, inside the job's span.
    async fn settle(&self, msg: Received, job: Option<Job>) {
        let step = match job {
            None => Step::Poison("body is not a job message".into()),
            Some(job) => with_heartbeat(self.queue.as_ref(), &msg, &self.settings, self.handler.run(job)).await,
        };
        let id = msg.message_id.as_str();
        let count = msg.receive_count;
        match &step {
            Step::Done => {
                bump(&self.stats.done);
                // Debug only: a job that changed something says what at info in this span
                // (`payment settled`, `capture settled`, `refund settled`, `webhook attempt`); one
                // that found nothing to do (a duplicate message) is counted in `worker_messages_total`.
                // A second line per message was about 2 % of the webhook-worker's CPU in a profile.
                tracing::debug!(message_id = %id, "job done");
            }
            Step::Retry(why) => {
                bump(&self.stats.retried);
                tracing::warn!(message_id = %id, receive_count = count, reason = %why, "job will be retried");
            }
            Step::NotReady => {
                bump(&self.stats.not_ready);
                tracing::debug!(message_id = %id, receive_count = count, "job not ready yet");
            }
            Step::Poison(why) => {
                bump(&self.stats.dead_lettered);
                tracing::warn!(message_id = %id, reason = %why, "poison message: moving it to the dead-letter queue");
            }
        }
        metrics::message_handled(match &step {
            Step::Done => "done",
            Step::Retry(_) => "retry",
            Step::NotReady => "not_ready",
            Step::Poison(_) => "dead_lettered",
        });
        match policy::disposition(step, count) {
            Disposition::Delete => self.deletes.delete(msg.receipt),
            Disposition::RetryAfter(delay) => {
                if let Err(e) = self.queue.set_visibility(&msg.receipt, delay).await {
                    tracing::warn!(message_id = %id, error = %e, "could not set the retry delay");
                }
            }
            Disposition::DeadLetter(reason) => match self.queue.dead_letter(&msg.body, &reason).await {
                Ok(()) => self.deletes.delete(msg.receipt),
                // Left on the queue: received again later, and parked by the redrive policy at worst.
                Err(e) => tracing::warn!(message_id = %id, error = %e, "could not dead-letter the message"),
            },
        }
    }
}

/// The span of one message's job: it continues the trace the API started (carried in the
/// message attributes) and names the payment and refund, so every log line of the job does too.
/// The ids are given at its creation, not recorded after: a JSON log line's formatter
/// serializes a span's fields again on every field recorded later.
fn job_span(msg: &Received, job: Option<&Job>) -> Span {
    let span = tracing::info_span!(
        "job",
        message_id = %msg.message_id,
        receive_count = msg.receive_count,
        payment_id = job.and_then(Job::payment_id).map(tracing::field::display),
        refund_id = job.and_then(Job::refund_id).map(tracing::field::display),
        event_id = job.and_then(Job::event_id).map(tracing::field::display),
        trace_id = tracing::field::Empty,
    );
    propagation::continue_trace(&span, &msg.trace);
    span
}

/// Runs `work` while hiding the message again every `settings.heartbeat`, so a slow bank call
/// is not handed to a second worker halfway through.
async fn with_heartbeat<Q: WorkQueue + ?Sized>(
    queue: &Q,
    msg: &Received,
    settings: &RuntimeSettings,
    work: impl Future<Output = Step>,
) -> Step {
    let every = settings.heartbeat.max(Duration::from_millis(100));
    let heartbeat = async {
        let mut tick = tokio::time::interval_at(Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = queue.set_visibility(&msg.receipt, settings.visibility).await {
                tracing::warn!(message_id = %msg.message_id, error = %e, "could not extend visibility");
            }
        }
    };
    tokio::select! {
        step = work => step,
        () = heartbeat => unreachable!("the heartbeat loop never ends"),
    }
}
