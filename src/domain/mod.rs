//! The domain: what a payment and a refund are, which states they may move between, and the
//! ports (traits) that storage, queue, bank and vault offer. No AWS, axum or tokio in here.
pub mod bank;
pub mod capture;
mod capture_change;
pub mod card;
pub mod change;
pub mod events;
pub mod idempotency;
pub mod ids;
pub mod inquiry;
pub mod money;
pub mod payment;
pub mod ports;
pub mod queue;
pub mod reference;
pub mod search;
pub mod status;
pub mod webhooks;
