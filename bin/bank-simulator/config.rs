//! Configuration of the simulator and its fault injection.
//!
//! Every field reads an environment variable so `bank-simulator --help` lists them all, and the
//! faults can also be changed while it runs (`PUT /faults`), so one process serves a whole test.
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything the simulator reads at start.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "bank-simulator",
    about = "An acquiring bank over HTTP, with idempotency keys and fault injection",
    after_help = payment_platform::telemetry::ENV_HELP
)]
pub struct SimConfig {
    /// Address to bind; loopback unless the bank must be reached from elsewhere.
    #[arg(long, env = "BANK_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "BANK_PORT", default_value_t = 4445)]
    pub port: u16,
    /// Share of charge and refund requests answered 503 before anything is applied (0.0-1.0).
    #[arg(long, env = "BANK_FAIL_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub fail_rate: f64,
    /// Share of charge and refund requests that hang: each is applied late, at a random moment
    /// within `BANK_HANG_MS` of its receipt, and answered only `BANK_HANG_MS` after it.
    #[arg(long, env = "BANK_HANG_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub hang_rate: f64,
    /// How long a hanging request hangs, in milliseconds: also the bound on late application.
    #[arg(long, env = "BANK_HANG_MS", default_value_t = 30_000)]
    pub hang_ms: u64,
    /// When a hanging request is applied, in milliseconds after its receipt (at most
    /// `BANK_HANG_MS`), instead of at a random moment: 0 applies it at once and holds its answer
    /// back for the whole hang, the moment a test kills the bank in.
    #[arg(long, env = "BANK_HANG_APPLY_MS")]
    pub hang_apply_ms: Option<u64>,
    /// Latency added to every charge and refund request, in milliseconds.
    #[arg(long, env = "BANK_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Extra latency drawn uniformly from 0..=this many milliseconds.
    #[arg(long, env = "BANK_LATENCY_JITTER_MS", default_value_t = 0)]
    pub latency_jitter_ms: u64,
    /// How long an idempotency key is remembered after it was first seen; after that the same
    /// key makes a new charge. The books (and status inquiries) keep everything.
    #[arg(long, env = "BANK_KEY_TTL_SECS", default_value_t = 86_400)]
    pub key_ttl_secs: u64,
    /// How long an authorization holds its amount; past it a capture is refused
    /// (`authorization_expired`) and the rest counts as expired in the books.
    #[arg(long, env = "BANK_AUTH_VALIDITY_SECS", default_value_t = 604_800,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub auth_validity_secs: u64,
    /// The SQLite file that keeps the books (every charge and refund applied, the idempotency
    /// keys and their answers), committed before each answer, so they survive a crash and a
    /// restart. One simulator per file. Default: `bank-simulator-<port>.db` in the temporary
    /// directory; `:memory:` keeps them in memory only (gone when the process ends).
    #[arg(long, env = "BANK_DB_PATH")]
    pub db_path: Option<PathBuf>,
}

impl Default for SimConfig {
    /// The same values as the command line defaults, without reading the environment.
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 4445,
            fail_rate: 0.0,
            hang_rate: 0.0,
            hang_ms: 30_000,
            hang_apply_ms: None,
            latency_ms: 0,
            latency_jitter_ms: 0,
            key_ttl_secs: 86_400,
            auth_validity_secs: 604_800,
            db_path: None,
        }
    }
}

impl SimConfig {
    /// Where the books are kept: `BANK_DB_PATH`, or a file of this port's in the temp directory.
    pub fn books_path(&self) -> PathBuf {
        self.db_path.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("bank-simulator-{}.db", self.port)))
    }

    /// The fault settings the simulator starts with.
    pub fn faults(&self) -> Faults {
        Faults {
            fail_rate: self.fail_rate,
            hang_rate: self.hang_rate,
            hang_ms: self.hang_ms,
            hang_apply_ms: self.hang_apply_ms,
            latency_ms: self.latency_ms,
            latency_jitter_ms: self.latency_jitter_ms,
        }
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    check_rate(rate).map_err(str::to_owned)
}

fn check_rate(rate: f64) -> Result<f64, &'static str> {
    if (0.0..=1.0).contains(&rate) { Ok(rate) } else { Err("must be between 0.0 and 1.0") }
}

/// The faults in force; `GET /faults` shows them in this shape.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Faults {
    pub fail_rate: f64,
    pub hang_rate: f64,
    pub hang_ms: u64,
    /// `None`: a hanging request is applied at a random moment within `hang_ms`.
    pub hang_apply_ms: Option<u64>,
    pub latency_ms: u64,
    pub latency_jitter_ms: u64,
}

impl Faults {
    /// Whether this request is answered 503 (decided per request).
    pub(crate) fn roll_fail(&self) -> bool {
        roll(self.fail_rate)
    }

    /// Whether this request hangs after it was applied (decided per request).
    pub(crate) fn roll_hang(&self) -> bool {
        roll(self.hang_rate)
    }

    /// When a hanging request is applied: a random moment within `hang_ms` of its receipt, or
    /// the moment `hang_apply_ms` sets (never past `hang_ms` either).
    pub(crate) fn late(&self) -> Duration {
        let ms = match self.hang_apply_ms {
            Some(ms) => ms.min(self.hang_ms),
            None => rand::random_range(0..=self.hang_ms),
        };
        Duration::from_millis(ms)
    }

    pub(crate) fn hang(&self) -> Duration {
        Duration::from_millis(self.hang_ms)
    }

    /// The added latency for one request: the base plus a uniform share of the jitter.
    pub(crate) fn latency(&self) -> Duration {
        let jitter = match self.latency_jitter_ms {
            0 => 0,
            j => rand::random_range(0..=j),
        };
        Duration::from_millis(self.latency_ms.saturating_add(jitter))
    }

    /// Applies a `PUT /faults` body: fields left out keep their value.
    pub(crate) fn patched(mut self, patch: &FaultsPatch) -> Result<Self, String> {
        if let Some(r) = patch.fail_rate {
            self.fail_rate = check_rate(r).map_err(|e| format!("FailRate {e}"))?;
        }
        if let Some(r) = patch.hang_rate {
            self.hang_rate = check_rate(r).map_err(|e| format!("HangRate {e}"))?;
        }
        self.hang_ms = patch.hang_ms.unwrap_or(self.hang_ms);
        self.hang_apply_ms = patch.hang_apply_ms.unwrap_or(self.hang_apply_ms);
        self.latency_ms = patch.latency_ms.unwrap_or(self.latency_ms);
        self.latency_jitter_ms = patch.latency_jitter_ms.unwrap_or(self.latency_jitter_ms);
        Ok(self)
    }
}

fn roll(rate: f64) -> bool {
    rate > 0.0 && rand::random::<f64>() < rate
}

/// The body of `PUT /faults`: the same fields as [`Faults`], each optional (`HangApplyMs: null`
/// goes back to a random moment).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FaultsPatch {
    pub fail_rate: Option<f64>,
    pub hang_rate: Option<f64>,
    pub hang_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub hang_apply_ms: Option<Option<u64>>,
    pub latency_ms: Option<u64>,
    pub latency_jitter_ms: Option<u64>,
}

/// A field that is present, `null` included (absent is the `default`: unchanged).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert!(SimConfig::try_parse_from(["bank-simulator", "--fail-rate", "1.5"]).is_err());
        assert!(SimConfig::try_parse_from(["bank-simulator", "--hang-rate", "-0.1"]).is_err());
        let ok = SimConfig::try_parse_from(["bank-simulator", "--fail-rate", "0.25"]).unwrap();
        assert_eq!(ok.faults().fail_rate, 0.25);
    }

    #[test]
    fn the_books_default_to_a_file_of_the_port_in_the_temp_dir() {
        let config = SimConfig::try_parse_from(["bank-simulator", "--port", "4999"]).unwrap();
        assert_eq!(config.books_path(), std::env::temp_dir().join("bank-simulator-4999.db"));
        let config = SimConfig::try_parse_from(["bank-simulator", "--db-path", "/x/books.db"]).unwrap();
        assert_eq!(config.books_path(), PathBuf::from("/x/books.db"));
    }

    #[test]
    fn a_patch_changes_only_the_fields_it_names() {
        let faults = SimConfig::default().faults();
        let patch = FaultsPatch { hang_rate: Some(0.5), ..FaultsPatch::default() };
        let patched = faults.patched(&patch).unwrap();
        assert_eq!(patched.hang_rate, 0.5);
        assert_eq!(patched.hang_ms, 30_000);
        let bad = FaultsPatch { fail_rate: Some(2.0), ..FaultsPatch::default() };
        assert!(faults.patched(&bad).is_err());
    }

    #[test]
    fn a_hung_request_is_applied_when_hang_apply_ms_says_never_past_the_hang() {
        let mut faults = SimConfig::default().faults();
        faults.hang_ms = 100;
        assert!((0..50).all(|_| faults.late() <= Duration::from_millis(100)));
        let at_once: FaultsPatch = serde_json::from_str(r#"{"HangApplyMs":0}"#).unwrap();
        faults = faults.patched(&at_once).unwrap();
        assert_eq!(faults.late(), Duration::ZERO);
        faults = faults.patched(&serde_json::from_str(r#"{"HangApplyMs":500}"#).unwrap()).unwrap();
        assert_eq!(faults.late(), Duration::from_millis(100), "never past the hang");
        faults = faults.patched(&serde_json::from_str(r#"{"HangRate":0.5}"#).unwrap()).unwrap();
        assert_eq!(faults.hang_apply_ms, Some(500), "left out: unchanged");
        faults = faults.patched(&serde_json::from_str(r#"{"HangApplyMs":null}"#).unwrap()).unwrap();
        assert_eq!(faults.hang_apply_ms, None, "null: a random moment again");
    }

    #[test]
    fn rate_zero_never_fires_and_one_always_does() {
        let mut faults = SimConfig::default().faults();
        assert!((0..100).all(|_| !faults.roll_fail()));
        faults.fail_rate = 1.0;
        assert!((0..100).all(|_| faults.roll_fail()));
    }
}
