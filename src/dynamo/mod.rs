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
mod item_update;
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

/// The sealed card's item (its sort key and attribute), for the bench's floor.
pub use items::{CARD, CARD_SK};
/// The event item's webhook attributes, for the bench's floor of a delivery.
pub use webhook_items::{DELIVERIES, LEASE};

/// What `Payments::commit` puts for a new payment beside its idempotency claim, in its order and
/// from the same functions: the payment, its sealed card's item and its first event. The
/// bench's floor builds its items by hand (`bin/bench/floor.rs`); a test there holds them to
/// these, so a new attribute or item in the API's create fails it until the floor follows.
#[cfg(any(test, feature = "testing"))]
pub fn new_payment_items(c: &crate::domain::change::Change) -> Vec<attrs::Item> {
    let mut written = items::new_payment_records(&c.view.payment);
    written.push(event_items::event_item(&c.event, c.notify));
    written
}

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
