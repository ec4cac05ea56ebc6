//! The DynamoDB adapter: one table holds payments, refunds, their events, idempotency keys and
//! merchants (layout in `keys`). Every change is one transaction with its event, conditioned on
//! the payment's version. `DynamoStore` implements each storage port of `domain::ports` in the
//! file of its role: `payments`, `events`, `idempotency`, `repair`, `merchants`, `webhooks` (endpoints) and
//! `deliveries`.
mod attrs;
mod capture_items;
mod deliveries;
mod error;
mod event_items;
mod events;
mod idempotency;
mod item_writer;
mod items;
pub mod keys;
mod ledger;
mod merchants;
mod payments;
mod queries;
mod repair;
pub mod setup;
mod webhook_items;
mod webhooks;

/// The event item's webhook attributes, for the bench's floor of a delivery.
pub use webhook_items::{DELIVERIES, LEASE};

use aws_sdk_dynamodb::Client;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}
