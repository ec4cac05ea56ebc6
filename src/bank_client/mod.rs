//! The bank, reached over HTTP: [`HttpBank`] makes one bounded attempt (or status inquiry) and
//! classifies what happened; [`RetryingBank`] retries what never reached the bank.
//!
//! The split matters for payments: a timeout or a reset means the charge may or may not have
//! happened, so it is `Transient`, and the worker asks the bank what it applied before it sends
//! the charge again (`domain::inquiry`): the bank forgets keys, so a blind re-send could charge
//! twice. An unknown outcome never becomes FAILED without the bank saying nothing was applied.
mod http;
mod retry;

use std::time::Duration;

pub use http::HttpBank;
pub use retry::RetryingBank;

/// How to reach the bank and how hard to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankClientConfig {
    /// Base URL of the bank, e.g. `http://127.0.0.1:4445`.
    pub url: String,
    /// Upper bound for one attempt: connect, send and read the answer.
    pub attempt_timeout: Duration,
    /// First delay between attempts; it doubles up to `retry_max_delay`, with random jitter.
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Attempts per call, the first one included (at least 1).
    pub max_attempts: usize,
    /// Whether plain http to a loopback address is allowed (development mode only); otherwise
    /// card data goes to the bank over https alone.
    pub allow_loopback_http: bool,
}

impl Default for BankClientConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:4445".to_owned(),
            attempt_timeout: Duration::from_secs(2),
            retry_min_delay: Duration::from_millis(50),
            retry_max_delay: Duration::from_secs(2),
            max_attempts: 8,
            allow_loopback_http: false,
        }
    }
}

/// Setting up the client failed; the bank calls themselves fail with the domain's `BankError`.
#[derive(Debug, thiserror::Error)]
pub enum BankClientError {
    #[error("BANK_URL must be an absolute https URL (plain http only to a loopback address in development mode)")]
    InvalidUrl,
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// The bank as the workers use it: HTTP with per-attempt timeouts, wrapped in retries.
pub fn connect(config: &BankClientConfig) -> Result<RetryingBank<HttpBank>, BankClientError> {
    Ok(RetryingBank::new(HttpBank::new(config)?, config))
}
