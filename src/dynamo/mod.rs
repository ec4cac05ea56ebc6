//! The DynamoDB adapter: one table holds payments, refunds, idempotency keys and merchants
//! (layout in `keys`). Every state change is a conditional write, so states only move forward.
//! `DynamoStore` implements each storage port of `domain::ports` in the file of its role:
//! `payments`, `refunds`, `idempotency`, `repair`, `merchants`.
mod attrs;
mod error;
mod idempotency;
mod items;
pub mod keys;
mod merchants;
mod payments;
mod refunds;
mod repair;
pub mod setup;

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
