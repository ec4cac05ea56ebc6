//! The real `bank-simulator` binary as a child process, one per test, on a free port.
//!
//! Its output goes to `target/test-logs/bank-sim-<name>.log`, so a failing test can be read
//! afterwards and a test can check that no card data was logged.
use std::fs::{self, File};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    child: Child,
}

impl BankSim {
    /// Starts the simulator with extra environment variables and waits until it answers
    /// `GET /status`. `name` names the log file; use the test's name.
    pub async fn start(name: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log_path = log_dir().join(format!("bank-sim-{name}.log"));
        let log = File::create(&log_path).expect("create the simulator's log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_bank-simulator"));
        for var in SIM_VARS {
            command.env_remove(var);
        }
        command
            .env("BANK_HOST", "127.0.0.1")
            .env("BANK_PORT", port.to_string())
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log);
        let child = command.spawn().expect("spawn bank-simulator");
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("build the test HTTP client");
        let mut sim = Self { url: format!("http://127.0.0.1:{port}"), log_path, client, child };
        sim.wait_ready(Duration::from_secs(20)).await;
        sim
    }

    /// Polls `GET /status` until it answers 200, the child dies, or the deadline passes.
    async fn wait_ready(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        let status = format!("{}/status", self.url);
        loop {
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("bank-simulator exited with {exit}; see {}", self.log_path.display());
            }
            let probe = self.client.get(&status).timeout(Duration::from_millis(500)).send();
            if probe.await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bank-simulator not ready after {within:?}; see {}",
                self.log_path.display()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
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

impl Drop for BankSim {
    fn drop(&mut self) {
        // Kills this child only, by its pid, and reaps it so no zombie outlives the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago: bind to port 0, read the port, let it go.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// `<target>/test-logs`, next to the directory cargo gives integration tests for scratch files.
pub fn log_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().map_or_else(|| tmp.join("test-logs"), |t| t.join("test-logs"));
    fs::create_dir_all(&dir).expect("create target/test-logs");
    dir
}
