//! `make bench` stopped by its pid (`kill <pid>`, as an operator or CI stops a run that takes
//! too long) stops every process it started, instead of leaving the api and the rest running
//! with no one to stop them. The quiet run alone is enough to show it: it needs no emulator and
//! starts three processes (a stub AWS, the bare server and the api).
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::time::Instant;

/// A process as `/proc/<pid>/stat` shows it. Its start time tells it from a later process that
/// got the same pid once it was reaped.
#[derive(Debug, Clone, PartialEq)]
struct Proc {
    pid: u32,
    name: String,
    parent: u32,
    started: u64,
    zombie: bool,
}

fn stat(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after its last `)`.
    let (head, tail) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = tail.split_whitespace().collect();
    // After comm: state is field 3 of the line, ppid 4, starttime 22.
    let (state, parent, started) = (fields.first()?, fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?);
    Some(Proc { pid, name, parent, started, zombie: *state == "Z" })
}

fn children_of(parent: u32) -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .filter(|p| p.parent == parent)
        .collect()
}

/// Whether the very process `p` still runs (a zombie has exited: it only waits to be reaped).
fn alive(p: &Proc) -> bool {
    stat(p.pid).is_some_and(|now| now.started == p.started && !now.zombie)
}

fn kill(pid: u32, signal: &str) -> bool {
    Command::new("kill").args([format!("-{signal}"), pid.to_string()]).status().is_ok_and(|s| s.success())
}

/// Whatever of the bench's processes still runs when the test ends, killed by pid, so that a
/// failure leaves nothing behind: the bench's children while it runs (it is not reaped yet, so
/// its pid and theirs are still theirs), then any process seen before that still runs.
struct Leftovers {
    bench: Option<u32>,
    seen: Vec<Proc>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        if let Some(bench) = self.bench {
            for child in children_of(bench) {
                kill(child.pid, "KILL");
            }
            kill(bench, "KILL");
        }
        for p in self.seen.iter().filter(|p| alive(p)) {
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
    while started.iter().any(alive) {
        let left: Vec<_> = started.iter().filter(|p| alive(p)).collect();
        assert!(Instant::now() < deadline, "still running after the bench stopped: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stderr = std::io::read_to_string(bench.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(128 + 15), "exits as a shell reports SIGTERM: {stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    let _ = std::fs::remove_dir_all(out);
}
