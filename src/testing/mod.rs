//! Test doubles held to the real adapters (only with `cfg(test)` or the `testing` feature):
//! `MemoryStore` implements every storage port with the DynamoDB adapter's conditional
//! semantics, `store_suite` runs the same checks on both, and `fakes` has a clock, a queue and
//! a bank to drive the use cases without I/O (`World`); `process` runs this package's binaries
//! as child processes for the integration tests and the bench, on ports from `ports`.
pub mod fakes;
pub mod memory;
mod memory_webhooks;
pub mod ports;
pub mod process;
pub mod store_suite;
mod store_suite_capture;
mod store_suite_webhooks;

pub use fakes::{FakeBank, FixedClock, RecordingQueue, World};
pub use memory::MemoryStore;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{MemoryStore, store_suite};
    use crate::domain::ports::Stores;

    #[tokio::test]
    async fn the_memory_store_passes_the_shared_store_suite() {
        store_suite::run(&Stores::all(Arc::new(MemoryStore::new()))).await;
    }
}
