//! The wire types that the HTTP API and the webhook bodies share: a payment with its refunds,
//! and an event. One home, so a field added to a payment shows the same in `GET /payments/{id}`,
//! in the event log and in every webhook, and the OpenAPI document describes all three.
pub mod event;
pub mod payment;
