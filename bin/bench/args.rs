//! What a run measures and how big it is: every knob is a flag or a `BENCH_*` variable.
use std::path::PathBuf;

/// Load generator for the running system; started by `make bench` on a private emulator.
#[derive(clap::Parser, Debug, Clone)]
#[command(name = "bench", about = "Load benchmark of api + workers + bank on the local emulator (make bench)")]
pub struct BenchArgs {
    /// The emulator (set by localstack/with-emulator.sh). The bench refuses to run against real AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Concurrencies of the API and floor levels (comma-separated).
    #[arg(long, env = "BENCH_CONCURRENCY", value_delimiter = ',', default_value = "1,16,64")]
    pub concurrency: Vec<usize>,
    /// Measured seconds of each API and floor level.
    #[arg(long, env = "BENCH_DURATION_SECS", default_value_t = 10.0)]
    pub duration_secs: f64,
    /// The API and the floor alternate in slices of about this many seconds within a level.
    #[arg(long, env = "BENCH_SLICE_SECS", default_value_t = 2.0)]
    pub slice_secs: f64,
    /// Unmeasured seconds before each level (connections, caches).
    #[arg(long, env = "BENCH_WARMUP_SECS", default_value_t = 1.0)]
    pub warmup_secs: f64,
    /// Measured seconds of each side of the quiet run (the floor's client, the bare server and the
    /// api against a stub AWS, `quiet`); 0: none.
    #[arg(long, env = "BENCH_QUIET_SECS", default_value_t = 10.0)]
    pub quiet_secs: f64,
    /// Requests in flight at once in the quiet run: the middle API level's by default; 1 shows
    /// what each request's own path costs with nothing to share wake-ups with.
    #[arg(long, env = "BENCH_QUIET_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub quiet_concurrency: u16,
    /// The quiet run alone (`make bench-api`, about a minute): the API's CPU against a stub AWS,
    /// and a compared build's with `BENCH_COMPARE_BIN_DIR`, without the rest of the bench.
    #[arg(long, env = "BENCH_QUIET_ONLY", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub quiet_only: bool,
    /// Payments of each pipeline run (POST to final).
    #[arg(long, env = "BENCH_PIPELINE_PAYMENTS", default_value_t = 3000)]
    pub pipeline_payments: usize,
    /// Payments of the open-loop run (sent at 80 % of the last pipeline run's settled rate); 0: none.
    #[arg(long, env = "BENCH_OPEN_LOOP_PAYMENTS", default_value_t = 1500)]
    pub open_loop_payments: usize,
    /// Concurrency of the pipeline and refund runs; also the headline concurrency of the API levels.
    #[arg(long, env = "BENCH_PIPELINE_CONCURRENCY", default_value_t = 64)]
    pub pipeline_concurrency: usize,
    /// Processes of each worker for the pipeline runs, in order (comma-separated).
    #[arg(long, env = "BENCH_WORKERS", value_delimiter = ',', default_value = "1,2")]
    pub workers: Vec<usize>,
    /// Pairs of turns after the pipeline runs: a short pipeline run beside the floor's client one
    /// payment at a time, alternating (`worker_pairs`); the payment worker's ratio to its floor is
    /// their median. 0: none (the ratio is then the last pipeline run's, `worker_floor_ratio_phase`).
    #[arg(long, env = "BENCH_WORKER_PAIRS", default_value_t = 5)]
    pub worker_pairs: usize,
    /// Payments of each pipeline turn of those pairs.
    #[arg(long, env = "BENCH_WORKER_PAIR_PAYMENTS", default_value_t = 500)]
    pub worker_pair_payments: usize,
    /// Refunds of the refund run (full refunds of payments the last pipeline run settled).
    #[arg(long, env = "BENCH_REFUNDS", default_value_t = 1000)]
    pub refunds: usize,
    /// Latency the bank simulator adds to every charge and refund.
    #[arg(long, env = "BENCH_BANK_LATENCY_MS", default_value_t = 50)]
    pub bank_latency_ms: u64,
    /// How long a pipeline or refund run may take to become final before it is reported as stuck.
    #[arg(long, env = "BENCH_SETTLE_TIMEOUT_SECS", default_value_t = 180)]
    pub settle_timeout_secs: u64,
    /// How often the bench looks whether everything is final.
    #[arg(long, env = "BENCH_POLL_MS", default_value_t = 200)]
    pub poll_ms: u64,
    /// Where the processes' logs and report.json go.
    #[arg(long, env = "BENCH_OUT_DIR", default_value = "target/bench")]
    pub out_dir: PathBuf,
    /// Where the api, worker and bank binaries are; default: next to this binary.
    #[arg(long, env = "BENCH_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Another build's binaries (e.g. before an upgrade): its api and payment worker are measured
    /// against this run's, in the same run (`compare` in the report).
    #[arg(long, env = "BENCH_COMPARE_BIN_DIR")]
    pub compare_bin_dir: Option<PathBuf>,
    /// RUST_LOG of the processes the bench starts.
    #[arg(long, env = "BENCH_RUST_LOG", default_value = "info")]
    pub rust_log: String,
    /// LOG_FORMAT of the services the bench starts: `json`, as infra/terraform deploys them, or
    /// `text`. The bank simulator, a tool, keeps its own.
    #[arg(long, env = "BENCH_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,
    /// Worker threads of each service's runtime (`TOKIO_WORKER_THREADS` of the api, the workers
    /// and the bare server; not the bank's nor the quiet run's AWS stub, which keep tokio's
    /// default): as infra/terraform gives them, one per whole vCPU of the task, and its default
    /// sizes are all under one. The bench's own runtime, where the floor's client runs, gets as
    /// many. 0: tokio's own default (this machine's cores) for all of them.
    #[arg(long, env = "BENCH_WORKER_THREADS", default_value_t = 1)]
    pub worker_threads: usize,
}

impl BenchArgs {
    /// The API level compared in the headline: the pipeline's concurrency if measured, else the highest.
    pub fn headline_concurrency(&self) -> usize {
        if self.concurrency.contains(&self.pipeline_concurrency) {
            self.pipeline_concurrency
        } else {
            self.concurrency.iter().copied().max().unwrap_or(self.pipeline_concurrency)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn lists_parse_and_the_headline_falls_back_to_the_highest_level() {
        let a = BenchArgs::try_parse_from(["bench", "--concurrency", "1,8", "--workers", "1"]).unwrap();
        assert_eq!(a.concurrency, vec![1, 8]);
        assert_eq!(a.workers, vec![1]);
        assert_eq!(a.headline_concurrency(), 8);
        let b = BenchArgs::try_parse_from(["bench", "--concurrency", "1,64"]).unwrap();
        assert_eq!(b.headline_concurrency(), 64);
    }

    #[test]
    fn the_quiet_run_is_at_the_middle_level_unless_told_and_never_at_none() {
        assert_eq!(BenchArgs::try_parse_from(["bench"]).unwrap().quiet_concurrency, 16);
        let one = BenchArgs::try_parse_from(["bench", "--quiet-concurrency", "1"]).unwrap();
        assert_eq!(one.quiet_concurrency, 1);
        assert!(BenchArgs::try_parse_from(["bench", "--quiet-concurrency", "0"]).is_err());
    }
}
