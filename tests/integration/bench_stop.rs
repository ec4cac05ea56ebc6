//! `make bench` stopped by its pid (`kill <pid>`, as an operator or CI stops a run that takes
//! too long) stops every process it started, instead of leaving the api and the rest running
//! with no one to stop them. The quiet run alone is enough to show it: it needs no emulator and
//! starts three processes (a stub AWS, the bare server and the api).
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::time::Instant;

/// The pids whose parent is `parent` and their names (`comm`), from `/proc`.
fn children_of(parent: u32) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after
            // its last `)`.
            let (head, tail) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_owned();
            let ppid: u32 = tail.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some((pid, comm))
        })
        .collect()
}

/// Whether `pid` still runs (a zombie has exited: it only waits to be reaped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, tail)| tail.trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

/// Kills (by pid) whatever of `0` still runs when the test ends, so a failure leaves nothing behind.
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in self.0.iter().filter(|pid| alive(**pid)) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

#[tokio::test]
async fn a_bench_stopped_by_its_pid_stops_every_process_it_started() {
    let out = std::env::temp_dir().join(format!("bench-stop-{}", std::process::id()));
    let mut bench = Command::new(env!("CARGO_BIN_EXE_bench"))
        .env("BENCH_QUIET_ONLY", "1")
        .env("BENCH_QUIET_SECS", "600")
        .env("BENCH_OUT_DIR", &out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bench starts");
    let pid = bench.id();
    let mut leftovers = KillOnDrop(vec![pid]);

    // Until the api runs beside the processes started before it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let started = loop {
        let children = children_of(pid);
        if children.iter().any(|(_, comm)| comm == "api") {
            break children;
        }
        assert!(bench.try_wait().unwrap().is_none(), "the bench exited before it started the api");
        assert!(Instant::now() < deadline, "the bench did not start the api within 60 s: {children:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    leftovers.0.extend(started.iter().map(|(child, _)| *child));
    assert!(started.len() >= 2, "the api and the AWS stub at least: {started:?}");

    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = bench.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the bench did not stop within 30 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The bench reaps what it kills before it exits; poll only for the kernel's bookkeeping.
    let deadline = Instant::now() + Duration::from_secs(10);
    while started.iter().any(|(child, _)| alive(*child)) {
        let left: Vec<_> = started.iter().filter(|(child, _)| alive(*child)).collect();
        assert!(Instant::now() < deadline, "still running after the bench stopped: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stderr = std::io::read_to_string(bench.stderr.take().unwrap()).unwrap();
    assert!(!status.success(), "a stopped run is not a finished one");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    let _ = std::fs::remove_dir_all(out);
}
