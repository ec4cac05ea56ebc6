//! What to do with a message once its job has run: pure decisions, so they are tested without
//! a queue. The runtime only carries them out.
use std::time::Duration;

use crate::app::settle::Step;

/// Longest a retried message stays hidden. Long enough to ride out a short bank outage, short
/// enough that a recovered bank sees the backlog within a minute.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// Bounds of the wait for a refund whose payment has not settled yet. Payments usually settle
/// within a second or two, so the first waits are short; they grow so that a payment stuck for
/// minutes (bank outage) does not use up the refund message's receives and park it in the DLQ.
pub const NOT_READY_MIN: Duration = Duration::from_secs(2);
pub const NOT_READY_MAX: Duration = Duration::from_secs(30);

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
        Step::NotReady => Disposition::RetryAfter(not_ready_delay(receive_count)),
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

/// 2 s after the first and second deliveries, then doubling, at most 30 s: ten deliveries
/// span about three minutes before SQS would dead-letter the message.
pub fn not_ready_delay(receive_count: u32) -> Duration {
    let n = receive_count.clamp(1, 6) - 1;
    Duration::from_secs(1 << n).clamp(NOT_READY_MIN, NOT_READY_MAX)
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
    fn not_ready_waits_a_few_seconds_then_longer() {
        let secs: Vec<u64> = (0..=8).map(|n| not_ready_delay(n).as_secs()).collect();
        assert_eq!(secs, [2, 2, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(not_ready_delay(u32::MAX), NOT_READY_MAX);
    }

    #[test]
    fn only_done_deletes_and_only_poison_dead_letters() {
        assert_eq!(disposition(Step::Done, 3), Disposition::Delete);
        assert_eq!(disposition(Step::Retry("timeout".into()), 3), Disposition::RetryAfter(Duration::from_secs(8)));
        assert_eq!(disposition(Step::NotReady, 1), Disposition::RetryAfter(Duration::from_secs(2)));
        assert_eq!(
            disposition(Step::Poison("unknown payment".into()), 1),
            Disposition::DeadLetter("unknown payment".into())
        );
    }
}
