//! The processes the bench starts: each on a free port, its output in `<out>/<name>.log`,
//! stopped by its pid (TERM, then KILL), and killed on drop if an error cut the run short.
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::error::BenchError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Api,
    PaymentWorker,
    RefundWorker,
    BankSimulator,
}

impl Role {
    pub fn binary(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::PaymentWorker => "payment-worker",
            Self::RefundWorker => "refund-worker",
            Self::BankSimulator => "bank-simulator",
        }
    }

    /// The variable that sets the port `/status` and `/metrics` answer on.
    fn port_var(self) -> &'static str {
        match self {
            Self::Api => "HTTP_PORT",
            Self::PaymentWorker | Self::RefundWorker => "WORKER_HTTP_PORT",
            Self::BankSimulator => "BANK_PORT",
        }
    }

    /// Whether it talks to AWS (and so exposes `aws_requests_total`).
    pub fn uses_aws(self) -> bool {
        self != Self::BankSimulator
    }
}

pub struct Proc {
    pub name: String,
    pub role: Role,
    pub port: u16,
    /// Where `GET /metrics` answers: the API's admin port, the others' own port.
    pub metrics_port: u16,
    pub log: PathBuf,
    child: Child,
    stopped: bool,
}

/// A port that was free a moment ago: bind to port 0, read the port, let it go.
pub fn free_port() -> Result<u16, BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| BenchError::io("binding a free port", e))?;
    Ok(listener.local_addr().map_err(|e| BenchError::io("reading a free port", e))?.port())
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
        let file = File::create(&log).map_err(|e| BenchError::io(format!("creating {}", log.display()), e))?;
        let err = file.try_clone().map_err(|e| BenchError::io("cloning a log handle", e))?;
        let bin = bin_dir.join(role.binary());
        let mut cmd = Command::new(&bin);
        let metrics_port = if role == Role::Api { free_port()? } else { port };
        if role == Role::Api {
            cmd.env("ADMIN_PORT", metrics_port.to_string());
        }
        for var in unset {
            cmd.env_remove(var);
        }
        let child = cmd
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(role.port_var(), port.to_string())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {}", bin.display()), e))?;
        Ok(Self { name: name.to_owned(), role, port, metrics_port, log, child, stopped: false })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }

    /// Polls `GET /status` until it answers 200, the process exits, or `within` passes.
    pub async fn wait_healthy(&mut self, http: &reqwest::Client, within: Duration) -> Result<(), BenchError> {
        let url = format!("{}/status", self.url());
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.stopped = true;
                let (name, log) = (self.name.clone(), self.log.clone());
                return Err(BenchError::Exited { name, status: status.to_string(), log });
            }
            let probe = http.get(&url).timeout(Duration::from_millis(500)).send().await;
            if probe.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let (name, log) = (self.name.clone(), self.log.clone());
                return Err(BenchError::NotHealthy { name, secs: within.as_secs(), log });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident set (`VmHWM`) in kB, while the process runs.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        vm_hwm_kb(&status)
    }

    /// SIGTERM by pid, up to `grace` to exit, then SIGKILL. Reaps the child either way.
    pub async fn stop(&mut self, grace: Duration) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("bench: {} did not stop within {grace:?}; killing pid {}", self.name, self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `VmHWM` of a `/proc/<pid>/status` text, in kB.
pub fn vm_hwm_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut parts = line["VmHWM:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(value),
        Some("mB" | "MB") => Some(value * 1024),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_hwm_from_proc_status() {
        let status = "Name:\tapi\nVmPeak:\t  812345 kB\nVmHWM:\t   23456 kB\nVmRSS:\t   21000 kB\n";
        assert_eq!(vm_hwm_kb(status), Some(23456));
        assert_eq!(vm_hwm_kb("Name:\tx\nVmRSS:\t 1 kB\n"), None);
        assert_eq!(vm_hwm_kb("VmHWM:\tlots kB\n"), None);
    }

    #[test]
    fn this_process_has_a_peak() {
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(vm_hwm_kb(&own).is_some_and(|kb| kb > 0));
    }
}
