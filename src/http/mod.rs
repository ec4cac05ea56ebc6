//! The axum API. It validates, writes, enqueues and answers; it never calls the bank.
//!
//! By resource: `payments/` (create, read, list, refund), `events/` (the event log, its webhook
//! attempts, redelivery), `webhook_endpoints/`, `service.rs` (status, token); by concern: `auth/`
//! (tokens, keys, scopes), `middleware/` (security headers, size limits, rate limits, timeouts,
//! metrics), `request.rs` (what every handler shares), `error.rs` (the one error enum),
//! `openapi.rs`; `router.rs` puts them together, `server.rs` listens, `api.rs` runs it all.
pub mod api;
pub mod auth;
pub mod error;
mod events;
pub mod middleware;
pub mod openapi;
pub mod payments;
mod request;
mod router;
pub mod server;
mod service;
mod webhook_endpoints;

pub use api::{Api, RunError};
pub use router::{admin_router, api_routes, router, serve, serve_admin};

use std::sync::Arc;
use std::time::Duration;

use crate::app::Services;
use crate::domain::ids::MerchantId;
use auth::Auth;

pub struct Settings {
    pub default_merchant: MerchantId,
    pub token_issuance: bool,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// Header bytes per request (`name: value` lines); more is 431 `headers_too_large`.
    pub max_header_bytes: usize,
    pub conn: server::ConnLimits,
    /// The public URL (`BASE_URL`): the OpenAPI document's server.
    pub base_url: String,
    /// Webhook endpoints may be http or private addresses (`WEBHOOK_ALLOW_PRIVATE_URLS`).
    pub webhook_allow_private: bool,
    /// Serve `/openapi.json` and `/docs` (`API_DOCS`).
    pub api_docs: bool,
    /// Development mode (`config::keys`): no HSTS on plain-http loopback answers.
    pub development: bool,
}

/// What every handler and middleware gets, behind one `Arc`: axum clones the state for each
/// extractor and middleware of every request, and one reference count is cheaper than the
/// dozen a clone of `Services` takes.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub services: Services,
    /// Writes carried through in tasks of their own (see `middleware::timeout::carry`); waited for at
    /// shutdown so none is cut between its write and its enqueue.
    pub writes: tokio_util::task::TaskTracker,
    pub auth: Arc<Auth>,
    pub settings: Arc<Settings>,
    /// Keys the fingerprints of idempotent requests (`IDEMPOTENCY_FINGERPRINT_KEY`).
    pub fingerprints: Arc<dyn crate::domain::idempotency::Fingerprints>,
}
