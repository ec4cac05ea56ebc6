//! Webhooks, by role: a merchant's endpoints (`endpoint.rs`), their signing secrets
//! (`secret.rs`), the URL rules (`url.rs`), and the delivery of each event to each endpoint that
//! wants it (`delivery.rs`). An endpoint signs with its current secret and, for a day after a rotation, with the
//! previous one too (`SecretEntry::expires_ms`). Secrets are only ever stored sealed.
mod delivery;
mod endpoint;
mod secret;
mod url;

pub use delivery::{
    AttemptOutcome, AttemptRecord, BadSchedule, Delivery, DeliveryState, EndpointEffect, MAX_RETRY_AFTER_MS,
    RetrySchedule, next_due,
};
pub use endpoint::*;
pub use secret::{SECRET_BYTES, SECRET_PREFIX, new_secret, secret_bytes};
pub use url::{UrlError, WebhookUrl, is_public};

#[cfg(test)]
mod tests;
