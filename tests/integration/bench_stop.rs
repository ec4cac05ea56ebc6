//! `make bench` stopped by its pid (`kill <pid>`, as an operator or CI stops a run that takes
//! too long) stops every process it started, instead of leaving the api and the rest running
//! with no one to stop them. The quiet run alone is enough to show it: it needs no emulator and
//! starts three processes (a stub AWS, the bare server and the api).
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use crate::support::procfs::{self, Stat};

fn children_of(parent: u32) -> Vec<Stat> {
    procfs::all().into_iter().filter(|p| p.parent == parent).collect()
}

fn kill(pid: u32, signal: &str) -> bool {
    Command::new("kill").args([format!("-{signal}"), pid.to_string()]).status().is_ok_and(|s| s.success())
}

/// Whatever of the bench's processes still runs when the test ends, killed by pid, so that a
/// failure leaves nothing behind: the bench's children while it runs (it is not reaped yet, so
/// its pid and theirs are still theirs), then any process seen before that still runs.
struct Leftovers {
    bench: Option<u32>,
    seen: Vec<Stat>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        if let Some(bench) = self.bench {
            for child in children_of(bench) {
                kill(child.pid, "KILL");
            }
            kill(bench, "KILL");
        }
        for p in self.seen.iter().filter(|p| p.running()) {
            kill(p.pid, "KILL");
        }
    }
}

#[tokio::test]
async fn a_bench_stopped_by_its_pid_stops_every_process_it_started() {
    let out = std::env::temp_dir().join(format!("bench-stop-{}", std::process::id()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_bench"));
    // Only the settings below: a `BENCH_COMPARE_BIN_DIR` of whoever runs the tests would start
    // one more process, and a `BENCH_BIN_DIR` other binaries.
    for (var, _) in std::env::vars().filter(|(var, _)| var.starts_with("BENCH_")) {
        command.env_remove(var);
    }
    let mut bench = command
        .env("BENCH_QUIET_ONLY", "1")
        .env("BENCH_QUIET_SECS", "600")
        .env("BENCH_OUT_DIR", &out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bench starts");
    let pid = bench.id();
    let mut leftovers = Leftovers { bench: Some(pid), seen: Vec::new() };

    // Until the api runs beside the processes started before it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let started = loop {
        let children = children_of(pid);
        if children.iter().any(|p| p.name == "api" && !p.zombie) {
            break children;
        }
        assert!(bench.try_wait().unwrap().is_none(), "the bench exited before it started the api");
        assert!(Instant::now() < deadline, "the bench did not start the api within 60 s: {children:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    leftovers.seen.clone_from(&started);
    assert!(started.len() >= 2, "the api and the AWS stub at least: {started:?}");

    assert!(kill(pid, "TERM"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = bench.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the bench did not stop within 30 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    leftovers.bench = None; // reaped: its pid may be another process's now

    // The bench reaps what it kills before it exits; poll only for the kernel's bookkeeping.
    let deadline = Instant::now() + Duration::from_secs(10);
    while started.iter().any(Stat::running) {
        let left: Vec<_> = started.iter().filter(|p| p.running()).collect();
        assert!(Instant::now() < deadline, "still running after the bench stopped: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stderr = std::io::read_to_string(bench.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(128 + 15), "exits as a shell reports SIGTERM: {stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    let _ = std::fs::remove_dir_all(out);
}
