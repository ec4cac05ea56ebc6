//! The bank's settings, for the workers that call it.

/// How the payment-worker and the refund-worker reach the bank (`bank_client`), and what they
/// rely on it for.
#[derive(Debug, Clone, clap::Args)]
pub struct BankArgs {
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
    /// How long a manual-capture payment's authorization is kept, in seconds: past it (or past
    /// the bank's own expiry, if sooner) a capture is refused and the repair path ends the payment.
    #[arg(long, env = "AUTHORIZATION_VALIDITY_SECS", default_value_t = 604_800,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub authorization_validity_secs: u64,
}
