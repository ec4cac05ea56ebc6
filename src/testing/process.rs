//! A child process of a test or of the bench: one of this package's binaries, started with its
//! environment, its output in a log file, health-checked over HTTP, stopped by its pid (TERM,
//! then KILL), and killed on drop so nothing outlives whoever started it.
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::time::Instant;

pub use super::ports::{free_port, free_ports};

/// How many lines of its log a failure to come up shows.
const TAIL: usize = 20;

pub struct Child {
    pub name: String,
    pub log: PathBuf,
    child: std::process::Child,
    stopped: bool,
}

/// Why a child never answered its health check.
#[derive(Debug, thiserror::Error)]
pub enum Unhealthy {
    #[error("{name} exited ({status}) before answering; {}, which ends:\n{tail}", log.display())]
    Exited { name: String, status: ExitStatus, log: PathBuf, tail: String },
    #[error("{name} did not answer within {secs} s; {}, which ends:\n{tail}", log.display())]
    Timeout { name: String, secs: u64, log: PathBuf, tail: String },
}

/// The last `lines` lines of a log, for a failure message: CI keeps the test's output, not its
/// files.
pub fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| format!("(unreadable: {e})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Child {
    /// Starts `bin` with `args` and `env` (after removing `unset`), its output appended to `log`.
    pub fn spawn(
        bin: &Path,
        args: &[&str],
        name: &str,
        log: &Path,
        env: &[(String, String)],
        unset: &[&str],
    ) -> std::io::Result<Self> {
        let file = File::options().create(true).append(true).open(log)?;
        let mut cmd = Command::new(bin);
        cmd.args(args);
        for var in unset {
            cmd.env_remove(var);
        }
        let child = cmd
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()?;
        Ok(Self { name: name.to_owned(), log: log.to_owned(), child, stopped: false })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `sig` (`TERM`, `KILL`, `STOP`, ...) by pid; false if `kill` refused.
    pub fn signal(&self, sig: &str) -> bool {
        let status = Command::new("kill")
            .args([format!("-{sig}"), self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        status.is_ok_and(|s| s.success())
    }

    /// The exit status, if it has exited (reaping it).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        if status.is_some() {
            self.stopped = true;
        }
        status
    }

    /// Blocks until it exits (after a signal was sent), reaping it.
    pub fn wait(&mut self) {
        let _ = self.child.wait();
        self.stopped = true;
    }

    /// Polls `url` until it answers 2xx, the process exits, or `within` passes.
    pub async fn wait_healthy(&mut self, url: &str, within: Duration) -> Result<(), Unhealthy> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                let (name, log) = (self.name.clone(), self.log.clone());
                return Err(Unhealthy::Exited { name, status, tail: tail(&log, TAIL), log });
            }
            let probe = http.get(url).timeout(Duration::from_millis(500)).send().await;
            if probe.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Unhealthy::Timeout {
                    name: self.name.clone(),
                    secs: within.as_secs(),
                    log: self.log.clone(),
                    tail: tail(&self.log, TAIL),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL; reaped either way. False if it had to be killed.
    pub async fn stop(&mut self, grace: Duration) -> bool {
        if self.stopped {
            return true;
        }
        self.signal("TERM");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stopped = true;
        false
    }

    /// Peak resident set (`VmHWM`) in kB, while the process runs.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        vm_hwm_kb(&std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?)
    }
}

impl Drop for Child {
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

    #[tokio::test]
    async fn a_child_is_stopped_by_its_pid_and_its_peak_memory_read() {
        let log = std::env::temp_dir().join(format!("child-{}.log", std::process::id()));
        let env = [("A".to_owned(), "1".to_owned())];
        let mut child = Child::spawn(Path::new("sleep"), &["30"], "sleep", &log, &env, &[]).unwrap();
        assert!(child.peak_rss_kb().is_some_and(|kb| kb > 0));
        assert!(child.exited().is_none());
        assert!(child.stop(Duration::from_secs(5)).await, "TERM is enough for sleep");
        assert!(child.stopped);
        let _ = std::fs::remove_file(log);
    }
}
