//! The bank, reached over HTTP: [`HttpBank`] makes one bounded attempt and classifies what
//! happened; [`RetryingBank`] retries what may be retried, with the same idempotency key.
//!
//! The split matters for payments: a timeout or a reset means the charge may or may not have
//! happened, so it is `Transient` and is retried with the same key until the bank answers (its
//! idempotency makes that safe). When the retry budget runs out the caller gets `Transient`
//! back and leaves the message for redelivery; it never turns an unknown outcome into FAILED.
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
}

impl Default for BankClientConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:4445".to_owned(),
            attempt_timeout: Duration::from_secs(2),
            retry_min_delay: Duration::from_millis(50),
            retry_max_delay: Duration::from_secs(2),
            max_attempts: 8,
        }
    }
}

/// The same settings as command line flags and environment variables, for a binary to
/// `#[command(flatten)]` into its own configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct BankClientArgs {
    /// Base URL of the acquiring bank.
    #[arg(long = "bank-url", env = "BANK_URL", default_value = "http://127.0.0.1:4445")]
    pub bank_url: String,
    /// Timeout of one bank request attempt, in milliseconds.
    #[arg(long = "bank-timeout-ms", env = "BANK_TIMEOUT_MS", default_value_t = 2_000)]
    pub bank_timeout_ms: u64,
    /// First delay before retrying a bank request, in milliseconds (doubles, with jitter).
    #[arg(long, env = "BANK_RETRY_MIN_DELAY_MS", default_value_t = 50)]
    pub bank_retry_min_delay_ms: u64,
    /// Longest delay between bank request attempts, in milliseconds.
    #[arg(long, env = "BANK_RETRY_MAX_DELAY_MS", default_value_t = 2_000)]
    pub bank_retry_max_delay_ms: u64,
    /// Attempts per bank call before the message is left for redelivery.
    #[arg(long, env = "BANK_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=100))]
    pub bank_max_attempts: u64,
}

impl From<BankClientArgs> for BankClientConfig {
    fn from(args: BankClientArgs) -> Self {
        Self {
            url: args.bank_url,
            attempt_timeout: Duration::from_millis(args.bank_timeout_ms),
            retry_min_delay: Duration::from_millis(args.bank_retry_min_delay_ms),
            retry_max_delay: Duration::from_millis(args.bank_retry_max_delay_ms),
            max_attempts: usize::try_from(args.bank_max_attempts).unwrap_or(8),
        }
    }
}

/// Setting up the client failed; the bank calls themselves fail with the domain's `BankError`.
#[derive(Debug, thiserror::Error)]
pub enum BankClientError {
    #[error("the bank URL must be an absolute http or https URL")]
    InvalidUrl,
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// The bank as the workers use it: HTTP with per-attempt timeouts, wrapped in retries.
pub fn connect(config: &BankClientConfig) -> Result<RetryingBank<HttpBank>, BankClientError> {
    Ok(RetryingBank::new(HttpBank::new(config)?, config))
}
