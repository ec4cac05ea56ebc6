//! The real `bank-simulator` binary as a child process, one per test, on a free port, with books
//! of its own (`BANK_DB_PATH`, a fresh file next to its log). A test can SIGKILL it by its pid and
//! start it again on the same port and the same books (`kill`, `restart`), as a supervisor would.
//!
//! Its output goes to `target/test-logs/bank-sim-<name>.log` (a restart appends), so a failing
//! test can be read afterwards and a test can check that no card data was logged.
use std::fs;
use std::path::{Path, PathBuf};
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
    "BANK_HANG_APPLY_MS",
    "BANK_LATENCY_MS",
    "BANK_LATENCY_JITTER_MS",
    "BANK_KEY_TTL_SECS",
    "BANK_DB_PATH",
];

pub struct BankSim {
    /// Base URL, e.g. `http://127.0.0.1:40123`: the same across restarts.
    pub url: String,
    pub log_path: PathBuf,
    /// Its books (`BANK_DB_PATH`): the same across restarts.
    pub db_path: PathBuf,
    client: reqwest::Client,
    /// What it was started with, for a restart.
    vars: Vec<(String, String)>,
    /// The running process (killed on drop).
    child: Child,
}

impl BankSim {
    /// Starts the simulator with extra environment variables and waits until it answers
    /// `GET /status`. `name` names the log and the books (both fresh); use the test's name.
    pub async fn start(name: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log_path = log_dir().join(format!("bank-sim-{name}.log"));
        let _ = fs::remove_file(&log_path);
        let db_path = log_dir().join(format!("bank-sim-{name}.db"));
        remove_books(&db_path);
        let rust_log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
        let base = [
            ("BANK_HOST", "127.0.0.1".to_owned()),
            ("BANK_PORT", port.to_string()),
            ("BANK_DB_PATH", db_path.display().to_string()),
            ("RUST_LOG", rust_log),
        ];
        let vars: Vec<(String, String)> = base
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .chain(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .collect();
        let url = format!("http://127.0.0.1:{port}");
        let child = Self::spawn(&url, &log_path, &vars).await;
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("build the test HTTP client");
        Self { url, log_path, db_path, client, vars, child }
    }

    async fn spawn(url: &str, log_path: &Path, vars: &[(String, String)]) -> Child {
        let bin = Path::new(env!("CARGO_BIN_EXE_bank-simulator"));
        let mut child =
            Child::spawn(bin, &[], "bank-simulator", log_path, vars, SIM_VARS).expect("spawn bank-simulator");
        if let Err(e) = child.wait_healthy(&format!("{url}/status"), Duration::from_secs(20)).await {
            panic!("{e}");
        }
        child
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// `kill -9` by its pid, and waits until it is gone (reaped): nothing of it answers after.
    pub async fn kill(&mut self) {
        assert!(self.child.signal("KILL"), "kill -KILL bank-simulator {}", self.pid());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.child.exited().is_none() {
            assert!(std::time::Instant::now() < deadline, "bank-simulator {} did not die", self.pid());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts it again, after `kill`, on the same port and books with the settings it was
    /// started with, `env` over them; waits until it answers.
    pub async fn restart(&mut self, env: &[(&str, &str)]) {
        let mut vars = self.vars.clone();
        for (k, v) in env {
            vars.retain(|(name, _)| name != k);
            vars.push(((*k).to_owned(), (*v).to_owned()));
        }
        self.child = Self::spawn(&self.url, &self.log_path, &vars).await;
    }

    /// `GET /status`: `InFlight` (keys claimed, not applied), `HangingApplied` (applied, answer
    /// held back by a hang for a client still waiting) and `HeldBack` (every such request since
    /// start, its client gone or not).
    pub async fn status(&self) -> Value {
        let response = self.client.get(format!("{}/status", self.url)).send().await.expect("GET /status");
        assert_eq!(response.status(), 200, "GET /status");
        response.json().await.expect("status JSON")
    }

    /// `GET /ledger`.
    pub async fn ledger(&self) -> Value {
        let response = self.client.get(format!("{}/ledger", self.url)).send().await;
        let response = response.expect("GET /ledger");
        assert_eq!(response.status(), 200, "GET /ledger");
        response.json().await.expect("ledger JSON")
    }

    /// `PUT /faults` with any of `FailRate`, `HangRate`, `HangMs`, `HangApplyMs`, `LatencyMs`,
    /// `LatencyJitterMs`; returns the faults now in force.
    pub async fn set_faults(&self, faults: Value) -> Value {
        let url = format!("{}/faults", self.url);
        let response = self.client.put(url).json(&faults).send().await.expect("PUT /faults");
        assert_eq!(response.status(), 200, "PUT /faults {faults}");
        response.json().await.expect("faults JSON")
    }
}

/// Removes a simulator's books: the file and its write-ahead log.
pub fn remove_books(db_path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = db_path.as_os_str().to_owned();
        file.push(suffix);
        let _ = fs::remove_file(file);
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
