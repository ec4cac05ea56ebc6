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

/// The same settings as command line flags and environment variables, for a binary to
/// `#[command(flatten)]` into its own configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct BankClientArgs {
    /// Base URL of the acquiring bank: https (plain http only to a loopback address in
    /// development mode). Redirects are never followed.
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
    /// How long the bank remembers an idempotency key after its first use (the acquirer's
    /// documented retention); a request is never sent again past it.
    #[arg(long, env = "BANK_KEY_TTL_SECS", default_value_t = 86_400)]
    pub bank_key_ttl_secs: u64,
    /// How far inside the bank's key window a request may still be sent again, in seconds.
    #[arg(long, env = "BANK_RESEND_MARGIN_SECS", default_value_t = 3_600)]
    pub bank_resend_margin_secs: u64,
    /// The longest the bank may take to apply a request it received, in milliseconds: once this
    /// has passed since the last attempt, "nothing applied" is final.
    #[arg(long, env = "BANK_LATE_APPLY_MS", default_value_t = 60_000)]
    pub bank_late_apply_ms: u64,
}

impl BankClientArgs {
    /// What the workers rely on the bank for (`domain::inquiry`).
    pub fn window(&self) -> crate::domain::inquiry::BankWindow {
        crate::domain::inquiry::BankWindow {
            key_ttl_ms: self.bank_key_ttl_secs.saturating_mul(1000),
            margin_ms: self.bank_resend_margin_secs.saturating_mul(1000),
            late_apply_ms: self.bank_late_apply_ms,
        }
    }
}

impl From<BankClientArgs> for BankClientConfig {
    fn from(args: BankClientArgs) -> Self {
        Self {
            url: args.bank_url,
            attempt_timeout: Duration::from_millis(args.bank_timeout_ms),
            retry_min_delay: Duration::from_millis(args.bank_retry_min_delay_ms),
            retry_max_delay: Duration::from_millis(args.bank_retry_max_delay_ms),
            max_attempts: usize::try_from(args.bank_max_attempts).unwrap_or(8),
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
