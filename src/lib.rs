//! payment-platform: card payments and refunds on DynamoDB and SQS.
//!
//! The layers show in the folders: `domain` (types, states, ports; no I/O), `app` (use cases),
//! and one adapter folder each for DynamoDB, SQS, the bank client, the card vault, the HTTP API
//! and the worker runtime. It holds the services only: the bank simulator and the bench are
//! tools with their own modules under `bin/`. Service binaries only parse configuration and call
//! in here.
pub mod app;
pub mod aws;
pub mod bank_client;
pub mod config;
pub mod dashboard;
pub mod domain;
pub mod dynamo;
pub mod http;
pub mod setup;
pub mod shutdown;
pub mod sqs;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod util;
pub mod vault;
pub mod webhook_client;
pub mod wire;
pub mod wiring;
pub mod worker;

/// Every binary linked with this library allocates with mimalloc. The services allocate on each
/// request and each AWS call (the SDK builds its requests, signatures and answers on the heap);
/// glibc's allocator was an eighth of the API's CPU under load (`make bench`, README). The bench
/// links this library too, so the floor it compares the API with allocates the same way.
/// Built without transparent huge pages (`no_thp`): it asked the kernel for 2 MB pages for
/// heaps of a few MB, and those made 11 of a resting API's 17 MB of anonymous memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
