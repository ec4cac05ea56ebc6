//! The system under test as the bench runs it: one bank simulator, and per stack (its own table
//! and queues, `SETUP=true` but in the quiet run's) an api and any number of workers. Keeps each
//! process's peak memory when it stops.
use std::path::PathBuf;
use std::time::Duration;

use rand::RngCore;
use serde::Serialize;

use super::error::BenchError;
use super::procs::{Proc, Role, free_port};
use super::scrape::{self, Counts};
use payment_platform::config::AwsArgs;

/// The variable tokio reads for its runtime's worker threads (`BENCH_WORKER_THREADS` sets it).
const THREADS_VAR: &str = "TOKIO_WORKER_THREADS";

/// What the bank must not inherit from the bench's environment: fault injection, and a thread
/// count meant for the services (it runs on tokio's default).
const BANK_UNSET: &[&str] =
    &["BANK_FAIL_RATE", "BANK_HANG_RATE", "BANK_HANG_MS", "BANK_HANG_APPLY_MS", "BANK_LATENCY_JITTER_MS", THREADS_VAR];

#[derive(Debug, Clone, Serialize)]
pub struct MemoryRow {
    pub name: String,
    pub role: Role,
    pub pid: u32,
    pub peak_rss_mb: Option<f64>,
}

/// One scrape of every AWS-using process of a stack: name, role, counts (`None`: no counter).
pub type Snapshot = Vec<(String, Role, Option<Counts>)>;

pub struct System {
    pub bin_dir: PathBuf,
    pub log_dir: PathBuf,
    pub http: reqwest::Client,
    endpoint: String,
    region: String,
    rust_log: String,
    /// `LOG_FORMAT` of the services (not the bank's).
    log_format: String,
    /// `TOKIO_WORKER_THREADS` of each service (`None`: tokio's default).
    worker_threads: Option<usize>,
    card_key: String,
    jwt_secret: String,
    /// Running processes, with the table each serves (`None`: the bank).
    procs: Vec<(Proc, Option<String>)>,
    pub memory: Vec<MemoryRow>,
    pub bank_url: String,
    /// The emulator's pid (`EMULATOR_PID`, which `localstack/with-emulator.sh` exports), so its
    /// CPU counts in every phase.
    emulator_pid: Option<u32>,
}

impl System {
    pub fn new(bin_dir: PathBuf, log_dir: PathBuf, http: reqwest::Client, endpoint: String, region: String) -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        use base64::Engine;
        Self {
            bin_dir,
            log_dir,
            http,
            endpoint,
            region,
            rust_log: "info".into(),
            log_format: "json".into(),
            worker_threads: None,
            card_key: base64::engine::general_purpose::STANDARD.encode(key),
            jwt_secret: format!("bench-{}", uuid::Uuid::new_v4().simple()),
            procs: Vec::new(),
            memory: Vec::new(),
            bank_url: String::new(),
            emulator_pid: std::env::var("EMULATOR_PID").ok().and_then(|p| p.trim().parse().ok()),
        }
    }

    pub fn with_rust_log(mut self, rust_log: &str) -> Self {
        rust_log.clone_into(&mut self.rust_log);
        self
    }

    /// Each service's `LOG_FORMAT` (`json` or `text`).
    pub fn with_log_format(mut self, format: &str) -> Self {
        format.clone_into(&mut self.log_format);
        self
    }

    /// Each service's runtime on `threads` worker threads (0: tokio's default).
    pub fn with_worker_threads(mut self, threads: usize) -> Self {
        self.worker_threads = (threads > 0).then_some(threads);
        self
    }

    /// A fresh table and queues: `bench<run>-<tag>-table`, `-payments`, `-refunds`.
    pub fn stack(&self, run: &str, tag: &str) -> AwsArgs {
        AwsArgs {
            region: self.region.clone(),
            endpoint_url: Some(self.endpoint.clone()),
            dynamodb_endpoint_url: std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok(),
            table: format!("bench{run}-{tag}-table"),
            payments_queue: format!("bench{run}-{tag}-payments"),
            refunds_queue: format!("bench{run}-{tag}-refunds"),
            webhooks_queue: format!("bench{run}-{tag}-webhooks"),
            setup: true,
        }
    }

    /// Starts the bank simulator with `BANK_LATENCY_MS` and waits until it answers. Its books
    /// (`BANK_DB_PATH`) are a fresh file next to the logs, so every run starts from empty books.
    pub async fn start_bank(&mut self, latency_ms: u64) -> Result<(), BenchError> {
        let port = free_port()?;
        let books = self.log_dir.join("bank-simulator.db");
        for suffix in ["", "-wal", "-shm"] {
            let mut file = books.as_os_str().to_owned();
            file.push(suffix);
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(BenchError::io(format!("removing {}", PathBuf::from(file).display()), e));
                }
                _ => {}
            }
        }
        let env = vec![
            ("BANK_HOST".to_owned(), "127.0.0.1".to_owned()),
            ("BANK_LATENCY_MS".to_owned(), latency_ms.to_string()),
            ("BANK_DB_PATH".to_owned(), books.display().to_string()),
            ("RUST_LOG".to_owned(), self.rust_log.clone()),
        ];
        let mut p =
            Proc::spawn(&self.bin_dir, &self.log_dir, (Role::BankSimulator, "bank-simulator", port), &env, BANK_UNSET)?;
        p.wait_healthy(Duration::from_secs(30)).await?;
        self.bank_url = p.url();
        self.procs.push((p, None));
        Ok(())
    }

    /// Starts this very binary as `role` (one it plays itself: `Role::mode_var`), as `name` on
    /// `stack`; answers its URL. It is this binary wherever `BENCH_BIN_DIR` points for the services.
    pub async fn start_self(&mut self, role: Role, name: &str, stack: &AwsArgs) -> Result<String, BenchError> {
        let exe = std::env::current_exe().map_err(|e| BenchError::io("locating the bench binary", e))?;
        let dir = exe.parent().ok_or_else(|| BenchError::Unexpected("the bench binary has no folder".into()))?;
        self.start_from(dir, role, name, stack).await
    }

    /// Starts `role` as `name` on `stack` (with `SETUP` as the stack says) and waits until it answers.
    pub async fn start(&mut self, role: Role, name: &str, stack: &AwsArgs) -> Result<String, BenchError> {
        let dir = self.bin_dir.clone();
        self.start_from(&dir, role, name, stack).await
    }

    /// The same with the binary from `bin_dir` (another build).
    pub async fn start_from(
        &mut self,
        bin_dir: &std::path::Path,
        role: Role,
        name: &str,
        stack: &AwsArgs,
    ) -> Result<String, BenchError> {
        let port = free_port()?;
        let env: Vec<(String, String)> = [
            // The emulator, but for the quiet run's stub (`quiet`).
            ("AWS_ENDPOINT_URL", stack.endpoint_url.clone().unwrap_or_else(|| self.endpoint.clone())),
            ("AWS_REGION", self.region.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("DYNAMODB_TABLE", stack.table.clone()),
            ("PAYMENTS_QUEUE", stack.payments_queue.clone()),
            ("REFUNDS_QUEUE", stack.refunds_queue.clone()),
            ("WEBHOOKS_QUEUE", stack.webhooks_queue.clone()),
            ("SETUP", stack.setup.to_string()),
            ("CARD_ENCRYPTION_KEY", self.card_key.clone()),
            ("JWT_SECRET_KEY", self.jwt_secret.clone()),
            ("BANK_URL", self.bank_url.clone()),
            ("HTTP_HOST", "127.0.0.1".into()),
            ("BASE_URL", format!("http://127.0.0.1:{port}")),
            ("WORKER_HTTP_HOST", "127.0.0.1".into()),
            ("RUST_LOG", self.rust_log.clone()),
            ("LOG_FORMAT", self.log_format.clone()),
            // The bench is one merchant at full speed: what is measured is the service, not its limit.
            ("RATE_LIMIT_READS_PER_SEC", "0".into()),
            ("RATE_LIMIT_WRITES_PER_SEC", "0".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut env = env;
        let threads = self.worker_threads.filter(|_| role.sized_as_deployed());
        if let Some(threads) = threads {
            env.push((THREADS_VAR.to_owned(), threads.to_string()));
        }
        if let Some(mode) = role.mode_var() {
            env.push((mode.to_owned(), "1".to_owned()));
        }
        // A stack without DynamoDB's own endpoint (the quiet run's) must not inherit the bench's.
        let mut unset = Vec::new();
        if stack.dynamodb_endpoint_url.is_none() {
            unset.push("AWS_ENDPOINT_URL_DYNAMODB");
        }
        // Nor, on tokio's default, the bench's own thread count.
        if threads.is_none() {
            unset.push(THREADS_VAR);
        }
        let mut p = Proc::spawn(bin_dir, &self.log_dir, (role, name, port), &env, &unset)?;
        p.wait_healthy(Duration::from_secs(60)).await?;
        let url = p.url();
        self.procs.push((p, Some(stack.table.clone())));
        Ok(url)
    }

    /// How many processes of `role` serve `stack`.
    pub fn count(&self, role: Role, stack: &AwsArgs) -> usize {
        self.procs.iter().filter(|(p, t)| p.role == role && t.as_deref() == Some(&stack.table)).count()
    }

    /// Scrapes `aws_requests_total` of every process serving `stack`.
    pub async fn snapshot(&self, stack: &AwsArgs) -> Snapshot {
        let mut snap = Vec::new();
        for (p, table) in &self.procs {
            if p.role.uses_aws() && table.as_deref() == Some(&stack.table) {
                snap.push((p.name.clone(), p.role, scrape::scrape(&self.http, &p.metrics_url()).await));
            }
        }
        snap
    }

    /// Every process's CPU so far (those serving `stack`).
    pub fn cpu(&self, stack: &AwsArgs) -> super::cpu::CpuSnapshot {
        let serves = |t: &Option<String>| t.as_deref() == Some(&stack.table);
        let mut all: super::cpu::CpuSnapshot = self
            .procs
            .iter()
            .filter(|(_, t)| serves(t))
            .map(|(p, _)| (p.name.clone(), p.role, super::cpu::cpu_us(p.pid())))
            .collect();
        if let Some(pid) = self.emulator_pid {
            all.push(("emulator".into(), Role::Emulator, super::cpu::cpu_us(pid)));
        }
        all
    }

    /// The CPU µs so far of the running process `name`.
    pub fn cpu_of(&self, name: &str) -> Option<u64> {
        self.procs.iter().find(|(p, _)| p.name == name).and_then(|(p, _)| super::cpu::cpu_us(p.pid()))
    }

    /// Stops the last process of `role` on `stack` (peak memory kept).
    pub async fn stop_one(&mut self, role: Role, stack: &AwsArgs) {
        let found = self.procs.iter().rposition(|(p, t)| p.role == role && t.as_deref() == Some(&stack.table));
        if let Some(i) = found {
            let (mut p, _) = self.procs.remove(i);
            self.memory.push(memory_row(&p));
            p.stop(Duration::from_secs(30)).await;
        }
    }

    /// Stops every process of `stack` (`None`: everything), workers first, then apis, then the
    /// bank; each one's peak memory is read just before.
    pub async fn stop_all(&mut self, stack: Option<&AwsArgs>) {
        let serves = |t: &Option<String>| stack.is_none_or(|s| t.as_deref() == Some(&s.table));
        let (mut stopping, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.procs).into_iter().partition(|(_, t)| serves(t));
        self.procs = keep;
        stopping.sort_by_key(|(p, _)| match p.role {
            Role::PaymentWorker | Role::RefundWorker | Role::WebhookWorker => 0,
            Role::Api | Role::BareHttp => 1,
            // Those that serve the others go last.
            Role::BankSimulator | Role::Emulator | Role::AwsStub => 2,
        });
        self.memory.extend(stopping.iter().map(|(p, _)| memory_row(p)));
        for (mut p, _) in stopping {
            p.stop(Duration::from_secs(30)).await;
        }
    }
}

fn memory_row(p: &Proc) -> MemoryRow {
    let peak_rss_mb = p.peak_rss_kb().map(|kb| (kb as f64 / 1024.0 * 10.0).round() / 10.0);
    MemoryRow { name: p.name.clone(), role: p.role, pid: p.pid(), peak_rss_mb }
}
