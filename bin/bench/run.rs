//! One whole run: the bank, then the API levels against the floor on one stack (api only), then
//! the pipeline runs and the refund run on a second stack (api + workers), then everything stops.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::args::BenchArgs;
use super::cpu::{self, CpuPhase};
use super::error::BenchError;
use super::floor::{self, Floor};
use super::levels;
use super::load::{self, Api};
use super::phases::{self, FlowStats, RunCtx};
use super::procs::Role;
use super::report::{self, Comparison, Report, Settings};
use super::requests::{self, AwsPhase};
use super::stats::LevelStats;
use super::stats::round;
use super::system::System;
use super::track::Tracker;
use super::webhook_run;
use payment_platform::config::AwsArgs;

/// Worker settings a caller may pass through the environment (e.g. `WORKER_CONCURRENCY=64 make bench`).
const WORKER_VARS: &[&str] = &[
    "WORKER_CONCURRENCY",
    "WORKER_WAIT_SECS",
    "VISIBILITY_EXTEND_SECS",
    "REPAIR_INTERVAL_SECS",
    "REPAIR_AFTER_SECS",
    "SHUTDOWN_GRACE_SECS",
    "BANK_TIMEOUT_MS",
    "BANK_MAX_ATTEMPTS",
];

/// The phase of the authorize + capture lifecycle (manual capture).
const MANUAL_PHASE: &str = "authorize+capture (manual)";

struct Measured {
    api: Vec<LevelStats>,
    floor: Vec<LevelStats>,
    /// Per level, the median of the API's rate over the floor's, slice by slice.
    median_ratios: Vec<Option<f64>>,
    /// Per level, the bench's own CPU per payment on each side.
    client_cpu: Vec<report::ClientCpu>,
    event_cost: Vec<(LevelStats, LevelStats)>,
    cpu: Vec<CpuPhase>,
    floor_cpu_us_per_payment: Option<f64>,
    floor_requests_per_payment: Option<f64>,
    load_cpu_us_per_payment: Option<f64>,
    pipelines: Vec<FlowStats>,
    refunds: Option<FlowStats>,
    webhooks: Option<webhook_run::WebhookRun>,
    open_loop: Option<phases::OpenLoop>,
    compare: Option<super::compare::Comparison>,
    bare_http: Option<super::bare::BareHttp>,
    quiet: Option<super::quiet::QuietRun>,
    aws: Vec<AwsPhase>,
    worker_pairs: Vec<super::worker_pairs::Pair>,
}

fn bin_dir(args: &BenchArgs) -> Result<PathBuf, BenchError> {
    if let Some(dir) = &args.bin_dir {
        return Ok(dir.clone());
    }
    let exe = std::env::current_exe().map_err(|e| BenchError::io("locating the bench binary", e))?;
    exe.parent().map(PathBuf::from).ok_or_else(|| BenchError::Unexpected("the bench binary has no folder".into()))
}

pub async fn run(args: &BenchArgs) -> Result<Report, BenchError> {
    let endpoint = args.endpoint_url.clone().filter(|e| !e.is_empty()).ok_or(BenchError::NoEmulator)?;
    let mut sys = system(args, endpoint)?;
    let measured = measure(args, &mut sys).await;
    sys.stop_all(None).await;
    let m = measured?;
    let comparison: Vec<Comparison> = m
        .api
        .iter()
        .zip(&m.floor)
        .zip(&m.median_ratios)
        .map(|((a, f), median)| Comparison { median_slice_ratio: *median, ..Comparison::new(a, f) })
        .collect();
    let pipeline_phases: Vec<&AwsPhase> = m.aws.iter().filter(|p| p.phase.starts_with("pipeline")).collect();
    let lifecycle = requests::combine("create+charge (pipelines)", &pipeline_phases);
    let refund = m.aws.iter().find(|p| p.unit == "refund");
    let headline = super::headline::headline(
        args.headline_concurrency(),
        &comparison,
        &m.pipelines,
        (&lifecycle, refund),
        &sys.memory,
        report::CpuFigures {
            phases: &m.cpu,
            floor_us_per_payment: m.floor_cpu_us_per_payment,
            floor_requests_per_payment: m.floor_requests_per_payment,
            load_us_per_payment: m.load_cpu_us_per_payment,
            client: &m.client_cpu,
        },
        report::LaterRuns { open_loop: m.open_loop.as_ref(), webhooks: m.webhooks.as_ref() },
    )
    .with_bare(m.bare_http.as_ref())
    .with_quiet(m.quiet.as_ref())
    .with_worker_pairs(&m.worker_pairs);
    let create = m.aws.iter().find(|p| p.phase == CREATE_PHASE);
    let floor_matches_api = create.and_then(|p| requests::api_matches(p, floor::CALLS));
    if floor_matches_api == Some(false) {
        eprintln!(
            "bench: WARNING the api's counted requests per payment differ from the floor's calls (src/bench/floor.rs)"
        );
    }
    let mut aws = m.aws;
    aws.push(lifecycle);
    let worker_env =
        WORKER_VARS.iter().filter_map(|v| std::env::var(v).ok().map(|val| ((*v).to_owned(), val))).collect();
    Ok(Report {
        settings: Settings {
            concurrency: args.concurrency.clone(),
            duration_secs: args.duration_secs,
            warmup_secs: args.warmup_secs,
            slice_secs: args.slice_secs,
            pipeline_payments: args.pipeline_payments,
            pipeline_concurrency: args.pipeline_concurrency,
            workers: args.workers.clone(),
            refunds: args.refunds,
            bank_latency_ms: args.bank_latency_ms,
            worker_threads: args.worker_threads,
            worker_pairs: args.worker_pairs,
            worker_pair_payments: args.worker_pair_payments,
            worker_env,
        },
        api: m.api,
        floor: m.floor,
        event_cost: m.event_cost,
        comparison,
        client_cpu: m.client_cpu,
        floor_calls: floor::CALLS.iter().map(|(s, op, n)| format!("{s}:{op} x{n}")).collect(),
        floor_matches_api,
        pipelines: m.pipelines,
        refunds: m.refunds,
        webhooks: m.webhooks.as_ref().map(|w| w.stats.clone()),
        webhook_load: m.webhooks.as_ref().map(|w| w.load.clone()),
        webhook_floor: m.webhooks.as_ref().and_then(|w| w.floor.clone()),
        open_loop: m.open_loop,
        compare: m.compare,
        bare_http: m.bare_http,
        quiet: m.quiet,
        aws_requests: aws,
        cpu: m.cpu,
        worker_pairs: m.worker_pairs,
        memory: sys.memory.clone(),
        headline,
    })
}

/// Starts or stops workers until `stack` has `n` processes of each.
async fn scale(sys: &mut System, stack: &AwsArgs, n: usize) -> Result<(), BenchError> {
    for role in [Role::PaymentWorker, Role::RefundWorker] {
        while sys.count(role, stack) < n {
            let name = format!("{}-{}", role.binary(), sys.count(role, stack));
            sys.start(role, &name, stack).await?;
        }
        while sys.count(role, stack) > n {
            sys.stop_one(role, stack).await;
        }
    }
    Ok(())
}

fn system(args: &BenchArgs, endpoint: String) -> Result<System, BenchError> {
    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| BenchError::io(format!("creating {}", args.out_dir.display()), e))?;
    let http = load::http_client()?;
    Ok(System::new(bin_dir(args)?, args.out_dir.clone(), http, endpoint, args.region.clone())
        .with_rust_log(&args.rust_log)
        .with_log_format(&args.log_format)
        .with_worker_threads(args.worker_threads))
}

/// `BENCH_QUIET_ONLY`: the quiet run and nothing else. It needs no emulator: every process it
/// starts talks to its stub AWS only.
pub async fn quiet_only(args: &BenchArgs) -> Result<super::quiet::QuietRun, BenchError> {
    if args.quiet_secs <= 0.0 {
        return Err(BenchError::Unexpected("BENCH_QUIET_ONLY with BENCH_QUIET_SECS=0 measures nothing".into()));
    }
    let mut sys = system(args, String::new())?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let quiet = super::quiet::measure_stopped(&mut sys, args, &run_id).await;
    sys.stop_all(None).await;
    quiet
}

pub(super) async fn floor_for(stack: &AwsArgs) -> Result<Floor, BenchError> {
    let clients = payment_platform::aws::clients(stack).await;
    let url = payment_platform::sqs::queue_url(&clients.sqs, &stack.payments_queue)
        .await
        .map_err(|e| BenchError::Unexpected(format!("resolving the payments queue: {e}")))?;
    Floor::new(clients.dynamodb, clients.sqs, stack.table.clone(), url)
}

const CREATE_PHASE: &str = "create (api levels)";
const HTTP_ALONE_PHASE: &str = "GET /status (http alone)";
const OPEN_LOOP_PHASE: &str = "open loop (80 % of capacity)";

/// Lets batched deletes (50 ms linger) and in-flight calls land before the "after" scrape.
pub const SETTLE_PAUSE: Duration = Duration::from_millis(500);

async fn measure(args: &BenchArgs, sys: &mut System) -> Result<Measured, BenchError> {
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    eprintln!("bench: run {run_id}; process logs in {}", sys.log_dir.display());
    sys.start_bank(args.bank_latency_ms).await?;

    // The quiet run first, while the emulator has nothing to do.
    let quiet = super::quiet::maybe_measure(sys, args, &run_id).await;

    // API levels against the floor: an api alone on its own table and queues (no workers, so
    // nothing else competes for the 2 cores or the emulator).
    let stack = sys.stack(&run_id, "api");
    let api = Arc::new(Api::connect(sys.http.clone(), sys.start(Role::Api, "api-levels", &stack).await?).await?);
    let floor = Arc::new(floor_for(&stack).await?);
    let (mut api_levels, mut floor_levels, mut accepted) = (Vec::new(), Vec::new(), 0);
    let mut median_ratios = Vec::new();
    let mut client_cpu = Vec::new();
    let (mut floor_calls, mut floor_cpu, mut api_calls, mut load_cpu) = (0, 0, 0, 0);
    let mut floor_requests = 0.0;
    let per = |us: u64, n: u64| (n > 0).then(|| round(us as f64 / n as f64, 1));
    let before = sys.snapshot(&stack).await;
    let cpu_before = sys.cpu(&stack);
    for &c in &args.concurrency {
        eprintln!("bench: api and floor at concurrency {c}");
        let sizes = (args.warmup_secs, args.duration_secs, args.slice_secs);
        let level = levels::compare(&api, &floor, c, sizes).await;
        median_ratios.push(level.median_ratio);
        client_cpu.push(report::ClientCpu {
            concurrency: c,
            floor_us_per_payment: per(level.floor_client_cpu_us, level.floor_calls),
            floor_requests_per_payment: level.floor_requests_per_payment,
            load_us_per_payment: per(level.api_client_cpu_us, level.api_calls),
        });
        api_levels.push(level.api);
        floor_levels.push(level.floor);
        accepted += level.accepted;
        let unbatched = floor::calls_per_payment() as f64;
        floor_requests += level.floor_calls as f64 * level.floor_requests_per_payment.unwrap_or(unbatched);
        (floor_calls, floor_cpu) = (floor_calls + level.floor_calls, floor_cpu + level.floor_client_cpu_us);
        (api_calls, load_cpu) = (api_calls + level.api_calls, load_cpu + level.api_client_cpu_us);
    }
    let after = sys.snapshot(&stack).await;
    let (floor_cpu_us_per_payment, load_cpu_us_per_payment) = (per(floor_cpu, floor_calls), per(load_cpu, api_calls));
    let floor_requests_per_payment = (floor_calls > 0).then(|| round(floor_requests / floor_calls as f64, 3));
    let mut aws = vec![requests::phase(CREATE_PHASE, "payment", accepted, &before, &after)];
    // The emulator served the floor's calls too, alternating with the api's.
    let calls = aws[0].total.map(|t| t + floor_requests);
    let mut cpu = vec![cpu::phase(CREATE_PHASE, "payment", accepted, &cpu_before, &sys.cpu(&stack)).with_calls(calls)];
    // What serving HTTP alone costs the api: `GET /status` (its middleware, no token, no AWS call)
    // at the headline concurrency, the part of the API's excess over the floor no cut can remove.
    let cpu_before = sys.cpu(&stack);
    let http_alone = {
        let api = Arc::clone(&api);
        let until = super::drive::Until::Elapsed(Duration::from_secs_f64(args.duration_secs));
        super::drive::drive(args.headline_concurrency(), until, move |_| {
            let api = Arc::clone(&api);
            async move { api.status().await }
        })
        .await
    };
    let served = http_alone.successes.len() as u64;
    cpu.push(cpu::phase(HTTP_ALONE_PHASE, "request", served, &cpu_before, &sys.cpu(&stack)));
    // What the event costs: the floor's calls with and without the event item, alternating.
    let bare = Arc::new(floor.without_event());
    let mut event_cost = Vec::new();
    for &c in &args.concurrency {
        eprintln!("bench: the floor with and without the event at concurrency {c}");
        let sizes = (args.warmup_secs, args.duration_secs, args.slice_secs);
        let with = async |secs| levels::floor_slice(&floor, c, secs).await;
        let without = async |secs| levels::floor_slice(&bare, c, secs).await;
        event_cost.push(levels::pair(with, without, c, sizes).await);
    }
    // The API against a bare HTTP service making the same calls: the API's own work.
    let sizes = (args.warmup_secs, args.duration_secs, args.slice_secs);
    // A bare server that cannot start costs this figure only, not the run.
    let bare_http = super::bare::measure(sys, &stack, (&api, "api-levels"), &args.concurrency, sizes)
        .await
        .inspect_err(|e| eprintln!("bench: the bare HTTP server was not measured: {e}"))
        .ok();
    sys.stop_all(Some(&stack)).await;

    // Pipeline runs and the refund run: api + workers on a second table and queues.
    let stack = sys.stack(&run_id, "flow");
    let api = Arc::new(Api::connect(sys.http.clone(), sys.start(Role::Api, "api", &stack).await?).await?);
    let tracker = Tracker::new(payment_platform::aws::clients(&stack).await.dynamodb, stack.table.clone());
    let mut ctx = RunCtx {
        api: &api,
        tracker: &tracker,
        concurrency: args.pipeline_concurrency,
        workers: 0,
        timeout: Duration::from_secs(args.settle_timeout_secs),
        poll: Duration::from_millis(args.poll_ms),
    };
    let (mut pipelines, mut succeeded) = (Vec::new(), Vec::new());
    for &w in &args.workers {
        scale(sys, &stack, w).await?;
        ctx.workers = w;
        eprintln!("bench: pipeline, {} payments, {w} process(es) of each worker", args.pipeline_payments);
        let before = sys.snapshot(&stack).await;
        let cpu_before = sys.cpu(&stack);
        let (stats, joined) = phases::pipeline(&ctx, args.pipeline_payments).await;
        tokio::time::sleep(SETTLE_PAUSE).await;
        let after = sys.snapshot(&stack).await;
        let name = format!("pipeline {w}+{w} workers");
        let calls = requests::phase(&name, "payment", stats.accepted, &before, &after);
        cpu.push(cpu::phase(&name, "payment", stats.accepted, &cpu_before, &sys.cpu(&stack)).with_calls(calls.total));
        aws.push(calls);
        succeeded = joined
            .into_iter()
            .filter(|(_, f)| f.as_ref().is_some_and(|f| f.status == "SUCCEEDED"))
            .map(|(a, _)| a.id)
            .collect();
        pipelines.push(stats);
    }
    // The payment worker and the floor's client in alternating turns, the workers as the last
    // pipeline run left them: its ratio to the floor without the drift of minutes between them.
    let worker_pairs = if args.worker_pairs > 0 && !pipelines.is_empty() {
        let (pairs, n) = (args.worker_pairs, args.worker_pair_payments);
        eprintln!("bench: the payment worker ({n} payments) and the floor's client in {pairs} pairs of turns");
        super::worker_pairs::measure(sys, &stack, &ctx, &floor, pairs, n).await
    } else {
        Vec::new()
    };
    // Open loop at 80 % of what the last closed-loop run settled per second: below saturation,
    // do payments settle as fast as they arrive, and how long does each take?
    let capacity = pipelines.last().map(|p| p.settled_per_sec).filter(|r| *r > 0.0);
    let open_loop = match capacity {
        Some(capacity) if args.open_loop_payments > 0 => {
            let rate = 0.8 * capacity;
            eprintln!(
                "bench: open loop, {} payments at {rate:.1}/s (80 % of {capacity:.1}/s)",
                args.open_loop_payments
            );
            let (before, cpu_before) = (sys.snapshot(&stack).await, sys.cpu(&stack));
            let (run, _) = phases::open_loop(&ctx, rate, args.open_loop_payments).await;
            tokio::time::sleep(SETTLE_PAUSE).await;
            let calls =
                requests::phase(OPEN_LOOP_PHASE, "payment", run.flow.accepted, &before, &sys.snapshot(&stack).await);
            let phase = cpu::phase(OPEN_LOOP_PHASE, "payment", run.flow.accepted, &cpu_before, &sys.cpu(&stack));
            cpu.push(phase.with_calls(calls.total));
            aws.push(calls);
            Some(run)
        }
        _ => None,
    };
    let refunds = if args.refunds > 0 && !succeeded.is_empty() {
        succeeded.truncate(args.refunds);
        eprintln!("bench: refunds, {} full refunds", succeeded.len());
        let before = sys.snapshot(&stack).await;
        let cpu_before = sys.cpu(&stack);
        let stats = phases::refunds(&ctx, succeeded).await;
        tokio::time::sleep(SETTLE_PAUSE).await;
        let after = sys.snapshot(&stack).await;
        let calls = requests::phase("refund", "refund", stats.accepted, &before, &after);
        cpu.push(cpu::phase("refund", "refund", stats.accepted, &cpu_before, &sys.cpu(&stack)).with_calls(calls.total));
        aws.push(calls);
        Some(stats)
    } else {
        None
    };
    // Manual capture: the authorize + capture lifecycle, beside create + charge above.
    if args.refunds > 0 {
        let n = args.refunds;
        eprintln!("bench: manual capture, {n} payments authorized then captured");
        let (before, cpu_before) = (sys.snapshot(&stack).await, sys.cpu(&stack));
        let done = phases::manual_capture(&ctx, n).await as u64;
        tokio::time::sleep(SETTLE_PAUSE).await;
        let calls = requests::phase(MANUAL_PHASE, "payment", done, &before, &sys.snapshot(&stack).await);
        cpu.push(cpu::phase(MANUAL_PHASE, "payment", done, &cpu_before, &sys.cpu(&stack)).with_calls(calls.total));
        aws.push(calls);
    }
    sys.stop_all(Some(&stack)).await;

    // Another build against this one, if asked for.
    let compare = match &args.compare_bin_dir {
        Some(dir) => {
            let c = args.headline_concurrency();
            eprintln!("bench: this build against {} at concurrency {c}", dir.display());
            let sizes = (c, args.duration_secs, args.slice_secs);
            let ctx = RunCtx { api: &api, tracker: &tracker, workers: 1, ..ctx };
            Some(super::compare::run(sys, dir, &run_id, sizes, (args.pipeline_payments / 3, ctx)).await?)
        }
        None => None,
    };

    // The webhook runs: one payment worker with a webhook-worker beside it, delivering each
    // payment's final state to a receiver in this process, in an open loop at 80 % of what that
    // system delivers (`webhook_run::capacity`); this build's, and the other build's at the same
    // rate when one is compared.
    let one_worker = pipelines.first().map(|p| p.settled_per_sec).filter(|r| *r > 0.0);
    let n = if args.open_loop_payments > 0 { args.open_loop_payments } else { args.pipeline_payments };
    let (webhooks, webhooks_other) = match one_worker {
        Some(capacity) => {
            let load = webhook_run::Load::Measured { pipeline: capacity };
            let stack = sys.stack(&run_id, "hooks");
            let this = webhook_run::run(sys, None, &stack, "this", (load, n), ctx).await?;
            let other = match &args.compare_bin_dir {
                Some(dir) => {
                    let stack = sys.stack(&run_id, "hooks-other");
                    let load = webhook_run::Load::At(this.load.sent_per_sec);
                    Some(webhook_run::run(sys, Some(dir), &stack, "other", (load, n), ctx).await?)
                }
                None => None,
            };
            (Some(this), other)
        }
        None => (None, None),
    };
    let compare = compare.map(|c| c.with_webhooks(webhooks.as_ref(), webhooks_other.as_ref()));
    if let Some(w) = &webhooks {
        cpu.push(w.cpu.clone());
        aws.push(w.aws.clone());
    }
    if let Some(w) = &webhooks_other {
        cpu.push(w.cpu.clone());
        aws.push(w.aws.clone());
    }
    Ok(Measured {
        api: api_levels,
        median_ratios,
        client_cpu,
        floor: floor_levels,
        event_cost,
        pipelines,
        refunds,
        webhooks,
        open_loop,
        compare,
        bare_http,
        quiet,
        aws,
        cpu,
        floor_cpu_us_per_payment,
        floor_requests_per_payment,
        load_cpu_us_per_payment,
        worker_pairs,
    })
}
