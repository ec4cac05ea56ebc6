//! The real `bank-simulator` binary as a child process, one per test, on a free port.
//!
//! Its output goes to `target/test-logs/bank-sim-<name>.log`, so a failing test can be read
//! afterwards and a test can check that no card data was logged.
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use payment_platform::testing::process::Child;

use serde_json::Value;

/// Variables the simulator reads, cleared so the caller's shell cannot change a test.
const SIM_VARS: &[&str] = &[
    "BANK_HOST",
    "BANK_PORT",
    "BANK_FAIL_RATE",
    "BANK_HANG_RATE",
    "BANK_HANG_MS",
    "BANK_LATENCY_MS",
    "BANK_LATENCY_JITTER_MS",
];

pub struct BankSim {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    pub log_path: PathBuf,
    client: reqwest::Client,
    /// Kept so the process lives as long as the simulator handle (killed on drop).
    _child: Child,
}

impl BankSim {
    /// Starts the simulator with extra environment variables and waits until it answers
    /// `GET /status`. `name` names the log file; use the test's name.
    pub async fn start(name: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log_path = log_dir().join(format!("bank-sim-{name}.log"));
        let _ = fs::remove_file(&log_path);
        let rust_log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
        let base = [("BANK_HOST", "127.0.0.1".to_owned()), ("BANK_PORT", port.to_string()), ("RUST_LOG", rust_log)];
        let vars: Vec<(String, String)> = base
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .chain(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .collect();
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_bank-simulator"));
        let mut child =
            Child::spawn(bin, &[], "bank-simulator", &log_path, &vars, SIM_VARS).expect("spawn bank-simulator");
        let url = format!("http://127.0.0.1:{port}");
        if let Err(e) = child.wait_healthy(&format!("{url}/status"), Duration::from_secs(20)).await {
            panic!("{e}");
        }
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("build the test HTTP client");
        Self { url, log_path, client, _child: child }
    }

    /// `GET /ledger`.
    pub async fn ledger(&self) -> Value {
        let response = self.client.get(format!("{}/ledger", self.url)).send().await;
        let response = response.expect("GET /ledger");
        assert_eq!(response.status(), 200, "GET /ledger");
        response.json().await.expect("ledger JSON")
    }

    /// `PUT /faults` with any of `FailRate`, `HangRate`, `HangMs`, `LatencyMs`,
    /// `LatencyJitterMs`; returns the faults now in force.
    pub async fn set_faults(&self, faults: Value) -> Value {
        let url = format!("{}/faults", self.url);
        let response = self.client.put(url).json(&faults).send().await.expect("PUT /faults");
        assert_eq!(response.status(), 200, "PUT /faults {faults}");
        response.json().await.expect("faults JSON")
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    payment_platform::testing::process::free_port().expect("a free port")
}

/// `<target>/test-logs`, next to the directory cargo gives integration tests for scratch files.
pub fn log_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().map_or_else(|| tmp.join("test-logs"), |t| t.join("test-logs"));
    fs::create_dir_all(&dir).expect("create target/test-logs");
    dir
}
