//! The processes the bench starts: each on a free port, its output in `<out>/<name>.log`,
//! stopped by its pid (TERM, then KILL), and killed on drop if an error cut the run short.
use std::path::Path;
use std::time::Duration;

use payment_platform::testing::process::{self, Child, Unhealthy};
use serde::Serialize;

use super::error::BenchError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Api,
    PaymentWorker,
    RefundWorker,
    WebhookWorker,
    BankSimulator,
    /// The AWS emulator (`EMULATOR_PID`): not started by the bench, only measured.
    Emulator,
    /// The bench itself as a bare HTTP service making the floor's calls (`bare`).
    BareHttp,
    /// The bench itself as DynamoDB and SQS answering in 5 ms (`stub`), for the quiet run.
    AwsStub,
}

impl Role {
    pub fn binary(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::PaymentWorker => "payment-worker",
            Self::RefundWorker => "refund-worker",
            Self::WebhookWorker => "webhook-worker",
            Self::BankSimulator => "bank-simulator",
            Self::Emulator => "emulator",
            Self::BareHttp | Self::AwsStub => "bench",
        }
    }

    /// The variable that sets the port `/status` and `/metrics` answer on.
    fn port_var(self) -> &'static str {
        match self {
            Self::Api | Self::BareHttp | Self::AwsStub => "HTTP_PORT",
            Self::PaymentWorker | Self::RefundWorker | Self::WebhookWorker => "WORKER_HTTP_PORT",
            Self::BankSimulator | Self::Emulator => "BANK_PORT",
        }
    }

    /// Whether it runs on `BENCH_WORKER_THREADS`, as infra/terraform sizes the services: the api,
    /// the workers, and the bare server that stands for the api. The AWS stub and the bank are
    /// the world around them, on tokio's default.
    pub fn sized_as_deployed(self) -> bool {
        matches!(self, Self::Api | Self::PaymentWorker | Self::RefundWorker | Self::WebhookWorker | Self::BareHttp)
    }

    /// Whether it counts its AWS requests (`aws_requests_total` at `GET /metrics`).
    pub fn uses_aws(self) -> bool {
        !matches!(self, Self::BankSimulator | Self::Emulator | Self::BareHttp | Self::AwsStub)
    }

    /// The variable that starts the bench binary as this role, for the roles it plays itself.
    pub fn mode_var(self) -> Option<&'static str> {
        match self {
            Self::BareHttp => Some(super::bare::MODE_VAR),
            Self::AwsStub => Some(super::stub::MODE_VAR),
            _ => None,
        }
    }
}

/// A process of the bench's system: a `testing::process::Child` with its role and ports.
pub struct Proc {
    pub name: String,
    pub role: Role,
    pub port: u16,
    /// Where `GET /metrics` answers: the API's admin port, the others' own port.
    pub metrics_port: u16,
    child: Child,
}

pub fn free_port() -> Result<u16, BenchError> {
    process::free_port().map_err(|e| BenchError::io("binding a free port", e))
}

impl Proc {
    /// Starts `<bin_dir>/<role binary>` with `env` on `port`, output to `<log_dir>/<name>.log`.
    pub fn spawn(
        bin_dir: &Path,
        log_dir: &Path,
        (role, name, port): (Role, &str, u16),
        env: &[(String, String)],
        unset: &[&str],
    ) -> Result<Self, BenchError> {
        let log = log_dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&log);
        let metrics_port = if role == Role::Api { free_port()? } else { port };
        let mut env = env.to_vec();
        env.push((role.port_var().to_owned(), port.to_string()));
        if role == Role::Api {
            env.push(("ADMIN_PORT".to_owned(), metrics_port.to_string()));
        }
        let bin = bin_dir.join(role.binary());
        let child = Child::spawn(&bin, &[], name, &log, &env, unset)
            .map_err(|e| BenchError::io(format!("starting {}", bin.display()), e))?;
        Ok(Self { name: name.to_owned(), role, port, metrics_port, child })
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }

    /// Polls `GET /status` until it answers 200, the process exits, or `within` passes.
    pub async fn wait_healthy(&mut self, within: Duration) -> Result<(), BenchError> {
        let url = format!("{}/status", self.url());
        self.child.wait_healthy(&url, within).await.map_err(|e| match e {
            Unhealthy::Exited { name, status, log, .. } => BenchError::Exited { name, status: status.to_string(), log },
            Unhealthy::Timeout { name, secs, log, .. } => BenchError::NotHealthy { name, secs, log },
        })
    }

    /// Peak resident set (`VmHWM`) in kB, while the process runs.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        self.child.peak_rss_kb()
    }

    /// SIGTERM by pid, up to `grace` to exit, then SIGKILL.
    pub async fn stop(&mut self, grace: Duration) {
        if !self.child.stop(grace).await {
            eprintln!("bench: {} did not stop within {grace:?}; killed pid {}", self.name, self.pid());
        }
    }
}
