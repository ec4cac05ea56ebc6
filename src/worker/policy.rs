//! What to do with a message once its job has run: pure decisions, so they are tested without
//! a queue. The runtime only carries them out.
use std::time::Duration;

use crate::app::Step;

/// Longest a retried message stays hidden. Long enough to ride out a short bank outage, short
/// enough that a recovered bank sees the backlog within a minute.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// The action on one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The job reached a final state: delete the message.
    Delete,
    /// Leave the message on the queue, hidden for this long, to be received again.
    RetryAfter(Duration),
    /// Copy the body to the dead-letter queue, then delete it from the work queue.
    DeadLetter(String),
}

/// Maps a job's outcome to what happens to its message. `receive_count` is SQS's
/// `ApproximateReceiveCount` (1 on the first delivery).
pub fn disposition(step: Step, receive_count: u32) -> Disposition {
    match step {
        Step::Done => Disposition::Delete,
        Step::Retry(_) => Disposition::RetryAfter(retry_delay(receive_count)),
        // Let go: the payment's settlement enqueues the refund again (see `Step::NotReady`).
        Step::NotReady => Disposition::Delete,
        Step::Poison(reason) => Disposition::DeadLetter(reason),
    }
}

/// `2^n` seconds after the n-th delivery, capped at [`MAX_RETRY_DELAY`]: 2, 4, 8, 16, 32, 60...
/// Growing by receive count (not by a counter of ours) survives worker restarts and works the
/// same whichever worker received the message.
pub fn retry_delay(receive_count: u32) -> Duration {
    let n = receive_count.clamp(1, 6);
    Duration::from_secs(1 << n).min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_a_minute() {
        let secs: Vec<u64> = (1..=8).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 60, 60, 60]);
        // A missing or zero count is treated as a first delivery, and huge counts do not overflow.
        assert_eq!(retry_delay(0), Duration::from_secs(2));
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY_DELAY);
    }

    #[test]
    fn done_and_not_ready_delete_and_only_poison_dead_letters() {
        assert_eq!(disposition(Step::Done, 3), Disposition::Delete);
        assert_eq!(disposition(Step::Retry("timeout".into()), 3), Disposition::RetryAfter(Duration::from_secs(8)));
        // A refund waiting for its payment lets its message go: the payment's settlement
        // enqueues it again, so however long the wait, it never reaches the DLQ.
        assert_eq!(disposition(Step::NotReady, 9), Disposition::Delete);
        assert_eq!(
            disposition(Step::Poison("unknown payment".into()), 1),
            Disposition::DeadLetter("unknown payment".into())
        );
    }
}
