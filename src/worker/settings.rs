//! The runtime's settings, as durations and counts.
use std::time::Duration;

/// How the runtime behaves; `config::WorkerArgs` holds the variables that set it (`wiring`
/// converts).
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// Jobs running at once, at most.
    pub concurrency: usize,
    /// Long-poll wait of one receive (0..=20 s).
    pub wait: Duration,
    /// How long a received message stays hidden; each heartbeat hides it this long again.
    pub visibility: Duration,
    /// How often a running job's message is hidden again (well below `visibility`).
    pub heartbeat: Duration,
    /// At shutdown, how long running jobs may take before their messages are handed back.
    pub grace: Duration,
    /// How long a delete waits for others to share its batch call.
    pub delete_linger: Duration,
    /// When busy, how long a receive waits for more free slots so it asks for a fuller batch
    /// (fewer SQS calls per message). An idle worker receives at once.
    pub receive_linger: Duration,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            wait: Duration::from_secs(10),
            visibility: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            grace: Duration::from_secs(20),
            delete_linger: Duration::from_millis(50),
            receive_linger: Duration::from_millis(50),
        }
    }
}
