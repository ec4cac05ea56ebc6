//! `make bench`: a load generator for the running system on the local emulator.
//!
//! It starts (and stops, by pid) a bank simulator with added latency, an api, and the workers,
//! each on a fresh table and queues, and measures: the API's accepted payments per second and
//! latency against the floor (the same DynamoDB and SQS calls made directly) and against a bare
//! HTTP server making those calls (`bare`: this binary, started with `BENCH_SERVE_BARE`), the pipeline from
//! POST to final with 1 and 2 processes of each worker, AWS requests per payment counted by the
//! processes themselves (`aws_requests_total` at `GET /metrics`), and each process's peak memory.
//! Prints tables, the JSON report (also written to `<out>/report.json`), and one last line:
//! `api_vs_floor=R settle_vs_accept=R aws_requests_per_payment=N max_rss_mb=N`.
mod args;
mod bare;
mod compare;
mod cpu;
mod drive;
mod error;
mod floor;
mod headline;
mod hooks;
mod levels;
mod load;
mod pauses;
mod phases;
mod price;
mod procs;
mod quiet;
mod report;
mod requests;
mod run;
mod scrape;
mod stats;
mod stub;
mod system;
mod table;
mod track;
mod webhook_floor;
mod webhook_pairs;
mod webhook_replay;
mod webhook_run;
mod worker_pairs;

pub use args::BenchArgs;
pub use error::BenchError;

use clap::Parser;

fn main() -> std::process::ExitCode {
    match bench() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            match e {
                // As a shell reports a process a signal ended: 128 + its number.
                BenchError::Stopped { signal, .. } => std::process::ExitCode::from(128u8.saturating_add(signal)),
                _ => std::process::ExitCode::FAILURE,
            }
        }
    }
}

fn bench() -> Result<(), BenchError> {
    if bare::asked() {
        return bare::serve();
    }
    if stub::asked() {
        return stub::serve();
    }
    let args = BenchArgs::parse();
    // The floor's client runs here: on as many worker threads as the services it is the floor of,
    // or it would pay for handing work between threads that they do not.
    // At 0, the machine's cores, whatever TOKIO_WORKER_THREADS says (the services get it removed).
    let threads = match args.worker_threads {
        0 => std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
        n => n,
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.worker_threads(threads);
    let runtime = runtime.enable_all().build().map_err(|e| BenchError::io("starting the async runtime", e))?;
    if args.quiet_only {
        let quiet = runtime.block_on(until_stopped(run::quiet_only(&args)))?;
        let mut out = String::new();
        quiet::render(&mut out, &quiet);
        println!("{out}{}", quiet.last_line());
        return Ok(());
    }
    let report = runtime.block_on(until_stopped(run::run(&args)))?;
    print!("{}", table::render(&report));
    let json =
        serde_json::to_string_pretty(&report).map_err(|e| BenchError::Unexpected(format!("report JSON: {e}")))?;
    let path = args.out_dir.join("report.json");
    std::fs::write(&path, format!("{json}\n")).map_err(|e| BenchError::io(format!("writing {}", path.display()), e))?;
    println!("\n== {} ==\n{json}", path.display());
    let log = std::env::var_os("EMULATOR_LOG").map(std::path::PathBuf::from);
    if let Some(line) = pauses::summary(log.as_deref()) {
        eprintln!("{line}");
    }
    println!("{}", report.headline.last_line());
    Ok(())
}

/// `run` until it finishes, or until the bench is told to stop (SIGTERM, SIGINT, SIGHUP): then
/// `run` is dropped there, and with it every process it started (`procs::Proc` kills and reaps
/// its process on drop). Without this a plain `kill <bench pid>` ended the bench at once and left
/// the api, the workers and the bank running, with no one left to stop them. A signal the bench
/// was started ignoring stays ignored: `nohup` ignores SIGHUP so that a run outlives its terminal,
/// and a script's background job ignores SIGINT.
async fn until_stopped<T>(run: impl std::future::Future<Output = Result<T, BenchError>>) -> Result<T, BenchError> {
    use tokio::signal::unix::{SignalKind, signal};
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mut listening = Vec::new();
    for (kind, name) in
        [(SignalKind::terminate(), "SIGTERM"), (SignalKind::interrupt(), "SIGINT"), (SignalKind::hangup(), "SIGHUP")]
    {
        if !ignored(&status, kind.as_raw_value()) {
            let listener = signal(kind).map_err(|e| BenchError::io("listening for signals", e))?;
            listening.push((listener, kind.as_raw_value(), name));
        }
    }
    if listening.is_empty() {
        return run.await;
    }
    let stopped = futures::future::select_all(listening.iter_mut().map(|(listener, number, name)| {
        Box::pin(async move {
            listener.recv().await;
            (*number, *name)
        })
    }));
    tokio::select! {
        done = run => done,
        ((number, name), _, _) = stopped => Err(BenchError::Stopped { name, signal: u8::try_from(number).unwrap_or(0) }),
    }
}

/// Whether `/proc/<pid>/status` text `status` shows `signal` ignored (its `SigIgn` mask).
fn ignored(status: &str, signal: i32) -> bool {
    let mask =
        status.lines().find_map(|l| l.strip_prefix("SigIgn:")).and_then(|m| u64::from_str_radix(m.trim(), 16).ok());
    (1..=64).contains(&signal) && mask.is_some_and(|m| m & (1 << (signal - 1)) != 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_ignored_signal_is_read_from_the_sigign_mask() {
        // SIGHUP (1) and SIGINT (2) ignored, as under `nohup` in a script's background job.
        let status = "Name:\tbench\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000003\nSigCgt:\t0\n";
        assert!(super::ignored(status, 1) && super::ignored(status, 2));
        assert!(!super::ignored(status, 15), "SIGTERM is not");
        assert!(!super::ignored("Name:\tbench\n", 1), "no mask: nothing ignored");
        assert!(!super::ignored(status, 0) && !super::ignored(status, 65));
    }
}
