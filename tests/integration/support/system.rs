//! The whole system as real processes: `api`, `payment-worker`, `refund-worker` and
//! `bank-simulator`, on free ports, sharing a table and queues no other test uses.
//! Every process is stopped by its pid when the test ends.
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use payment_platform::config::AwsArgs;
use payment_platform::testing::process::Child;
use serde_json::Value;

use super::app::{CARD_KEY, FINGERPRINT_KEY, JWT_SECRET, TestApp, WEBHOOK_SECRET_KEY, eventually, unique_aws_args};
use super::bank::{BankSim, free_port, log_dir};

/// A service of the test as a child process (`testing::process::Child`), killed on drop.
pub struct Proc {
    pub name: String,
    pub port: u16,
    /// Where `GET /metrics` answers: the API's admin port (`ADMIN_PORT`), a worker's own port.
    pub admin_port: u16,
    pub log: PathBuf,
    child: Child,
}

impl Proc {
    pub fn spawn(bin: &str, name: &str, env: &[(String, String)]) -> Self {
        let port = free_port();
        let admin_port = if name.ends_with("api") { free_port() } else { port };
        let log = log_dir().join(format!("{name}.log"));
        let mut env = env.to_vec();
        for var in ["HTTP_PORT", "WORKER_HTTP_PORT", "DASHBOARD_PORT"] {
            env.push((var.to_owned(), port.to_string()));
        }
        env.push(("ADMIN_PORT".to_owned(), admin_port.to_string()));
        let child =
            Child::spawn(Path::new(bin), &[], name, &log, &env, &[]).unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        Self { name: name.to_owned(), port, admin_port, log, child }
    }

    pub fn signal(&self, sig: &str) {
        assert!(self.child.signal(sig), "kill -{sig} {}", self.name);
    }

    /// Waits for the process to exit, polling with a deadline.
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.exited() {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not exit within {within:?}", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_healthy(&mut self) {
        let url = format!("http://127.0.0.1:{}/status", self.port);
        if let Err(e) = self.child.wait_healthy(&url, Duration::from_secs(30)).await {
            panic!("{e}");
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worker {
    Payment,
    Refund,
    /// Started only by `System::with_webhooks`.
    Webhook,
}

pub struct System {
    pub name: String,
    pub app: TestApp,
    pub bank: BankSim,
    /// Kept so the process lives as long as the system (killed on drop).
    pub api: Proc,
    pub payment_worker: Proc,
    pub refund_worker: Proc,
    pub webhook_worker: Option<Proc>,
    env: Vec<(String, String)>,
    restarts: u32,
}

/// A size a run takes from the environment (`CHAOS_PAYMENTS=200 make chaos`), or `default`.
pub fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A service binary: this build's, or with `SERVICES_BIN_DIR` set another build's, to run a
/// scenario against an earlier version of the services (the bank simulator and `reconcile`
/// stay this build's).
pub fn service_bin(built: &str, name: &str) -> String {
    match std::env::var("SERVICES_BIN_DIR") {
        Ok(dir) if !dir.is_empty() => format!("{dir}/{name}"),
        _ => built.to_owned(),
    }
}

fn common_env(aws: &AwsArgs, bank_url: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", aws.endpoint_url.clone().unwrap()),
        ("AWS_REGION", aws.region.clone()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("DYNAMODB_TABLE", aws.table.clone()),
        ("PAYMENTS_QUEUE", aws.payments_queue.clone()),
        ("REFUNDS_QUEUE", aws.refunds_queue.clone()),
        ("WEBHOOKS_QUEUE", aws.webhooks_queue.clone()),
        ("BANK_URL", bank_url.to_owned()),
        ("SETUP", "false".into()),
        // No rate limits but where a test sets them: the chaos run bursts on purpose.
        ("RATE_LIMIT_READS_PER_SEC", "0".into()),
        ("RATE_LIMIT_WRITES_PER_SEC", "0".into()),
        ("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The keys a service holds, each only its own (README, "Who holds which key"), as Terraform
/// and `make dev` pass them: the processes of every test run this way.
pub fn keys_of(service: &str) -> Vec<(String, String)> {
    let keys: &[(&str, &str)] = match service {
        "api" => &[
            ("CARD_ENCRYPTION_KEY", CARD_KEY),
            ("WEBHOOK_SECRET_KEY", WEBHOOK_SECRET_KEY),
            ("IDEMPOTENCY_FINGERPRINT_KEY", FINGERPRINT_KEY),
            ("JWT_SECRET_KEY", JWT_SECRET),
        ],
        "payment-worker" => &[("CARD_ENCRYPTION_KEY", CARD_KEY)],
        "webhook-worker" => &[("WEBHOOK_SECRET_KEY", WEBHOOK_SECRET_KEY)],
        _ => &[],
    };
    keys.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// `keys_of(service)`, then `env` (which may override them).
fn with_keys(service: &str, env: &[(String, String)]) -> Vec<(String, String)> {
    let mut all = keys_of(service);
    all.extend(env.iter().cloned());
    all
}

/// The API alone, as a real process on a table and queues of its own; `extra` adds or
/// overrides settings. For tests about the API's own limits.
pub async fn api_alone(name: &str, extra: &[(&str, &str)]) -> (Proc, AwsArgs) {
    let aws = unique_aws_args();
    let clients = payment_platform::aws::clients(&aws).await;
    payment_platform::setup::run(&clients, &aws).await.expect("SETUP");
    // No bank: the API never calls it.
    let mut env = common_env(&aws, "http://127.0.0.1:9");
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env = with_keys("api", &env);
    let mut api = Proc::spawn(&service_bin(env!("CARGO_BIN_EXE_api"), "api"), &format!("{name}-api"), &env);
    api.wait_healthy().await;
    (api, aws)
}

impl Proc {
    /// Peak resident memory (`VmHWM`) in kB.
    pub fn peak_rss_kb(&self) -> u64 {
        self.child.peak_rss_kb().expect("VmHWM of a running process")
    }

    /// The names of its threads (`/proc/<pid>/task/*/comm`).
    pub fn thread_names(&self) -> Vec<String> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.pid())).expect("a running process's tasks");
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_owned())
            .collect()
    }

    /// `GET /metrics` on the admin port.
    pub async fn metrics(&self) -> String {
        super::metrics::scrape(self.admin_port).await
    }
}

impl System {
    /// Starts everything. `bank_env` configures the simulator's faults, `worker_env` the workers.
    pub async fn start(name: &str, bank_env: &[(&str, &str)], worker_env: &[(&str, &str)]) -> Self {
        Self::start_on(name, unique_aws_args(), bank_env, worker_env).await
    }

    /// The same on the table and queues `aws` names (SETUP creates what is missing and seeds the
    /// merchants; it changes nothing that exists).
    pub async fn start_on(name: &str, aws: AwsArgs, bank_env: &[(&str, &str)], worker_env: &[(&str, &str)]) -> Self {
        let clients = payment_platform::aws::clients(&aws).await;
        payment_platform::setup::run(&clients, &aws).await.expect("SETUP");
        let bank = BankSim::start(name, bank_env).await;
        let mut env = common_env(&aws, &bank.url);
        env.extend(worker_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let api_env = with_keys("api", &env);
        let mut api = Proc::spawn(&service_bin(env!("CARGO_BIN_EXE_api"), "api"), &format!("{name}-api"), &api_env);
        api.wait_healthy().await;
        let payment_worker = Self::spawn_worker(Worker::Payment, name, 0, &env).await;
        let refund_worker = Self::spawn_worker(Worker::Refund, name, 0, &env).await;
        let app = TestApp::external(format!("http://127.0.0.1:{}", api.port), aws).await;
        Self {
            name: name.to_owned(),
            app,
            bank,
            api,
            payment_worker,
            refund_worker,
            webhook_worker: None,
            env,
            restarts: 0,
        }
    }

    async fn spawn_worker(kind: Worker, name: &str, n: u32, env: &[(String, String)]) -> Proc {
        let (bin, tag) = match kind {
            Worker::Payment => (env!("CARGO_BIN_EXE_payment-worker"), "payment-worker"),
            Worker::Refund => (env!("CARGO_BIN_EXE_refund-worker"), "refund-worker"),
            Worker::Webhook => (env!("CARGO_BIN_EXE_webhook-worker"), "webhook-worker"),
        };
        let mut p = Proc::spawn(&service_bin(bin, tag), &format!("{name}-{tag}-{n}"), &with_keys(tag, env));
        p.wait_healthy().await;
        p
    }

    pub fn worker(&mut self, kind: Worker) -> &mut Proc {
        match kind {
            Worker::Payment => &mut self.payment_worker,
            Worker::Refund => &mut self.refund_worker,
            Worker::Webhook => self.webhook_worker.as_mut().expect("started by with_webhooks"),
        }
    }

    /// Starts the webhook worker too, with `env` over the system's settings.
    pub async fn with_webhooks(&mut self, env: &[(&str, &str)]) {
        self.env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self.webhook_worker = Some(Self::spawn_worker(Worker::Webhook, &self.name, 0, &self.env).await);
    }

    /// Sets `vars` for every process started from now on (over each one's own keys).
    pub fn set_env(&mut self, vars: &[(&str, &str)]) {
        for (k, v) in vars {
            self.env.retain(|(name, _)| name != k);
            self.env.push(((*k).to_owned(), (*v).to_owned()));
        }
    }

    /// Stops the API (SIGTERM, waiting for it) and starts a fresh one with the current settings;
    /// `app` then talks to the new one.
    pub async fn restart_api(&mut self) {
        self.api.signal("TERM");
        self.api.exited(Duration::from_secs(30)).await;
        self.restarts += 1;
        let env = with_keys("api", &self.env);
        let name = format!("{}-{}-api", self.name, self.restarts);
        self.api = Proc::spawn(&service_bin(env!("CARGO_BIN_EXE_api"), "api"), &name, &env);
        self.api.wait_healthy().await;
        self.app = TestApp::external(format!("http://127.0.0.1:{}", self.api.port), self.app.aws.clone()).await;
    }

    /// Replaces a worker (after it was killed or stopped) with a fresh process.
    pub async fn restart(&mut self, kind: Worker) {
        self.restarts += 1;
        let fresh = Self::spawn_worker(kind, &self.name, self.restarts, &self.env).await;
        match kind {
            Worker::Webhook => self.webhook_worker = Some(fresh),
            _ => *self.worker(kind) = fresh,
        }
    }

    /// Polls `GET /payments/{id}` until the payment and its refunds are final.
    pub async fn settled(&self, id: &str, within: Duration) -> Value {
        eventually(within, &format!("payment {id} to settle"), || async {
            let resp = self.app.get(id).await;
            let final_ = resp.status() == 200 && !resp.headers().contains_key("retry-after");
            let body: Value = resp.json().await.ok()?;
            final_.then_some(body)
        })
        .await
    }

    /// Runs `reconcile` over the last hour against this system's table and bank: whether it
    /// found no mismatch, and what it printed.
    pub async fn reconcile(&self) -> (bool, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_reconcile"))
            .args(["--hours", "1"])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .kill_on_drop(true)
            .output()
            .await
            .expect("reconcile runs");
        let printed = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), printed)
    }

    /// Polls every payment of `ids` until all of them and their refunds are final; their bodies.
    pub async fn all_settled(&self, ids: &[String], within: Duration) -> Vec<Value> {
        eventually(within, "every payment and refund final", || async {
            let mut all = Vec::with_capacity(ids.len());
            for id in ids {
                let resp = self.app.get(id).await;
                if resp.status() != 200 || resp.headers().contains_key("retry-after") {
                    return None;
                }
                all.push(resp.json::<Value>().await.ok()?);
            }
            Some(all)
        })
        .await
    }

    /// Messages visible or in flight on a queue (approximate, as SQS reports them).
    pub async fn queue_depth(&self, queue: &str) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let url = self.app.queue_url(queue).await;
        let out = self
            .app
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes().cloned().unwrap_or_default();
        [A::ApproximateNumberOfMessages, A::ApproximateNumberOfMessagesNotVisible]
            .iter()
            .map(|a| attrs.get(a).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0))
            .sum()
    }
}
