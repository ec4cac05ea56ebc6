//! `reconcile` (`make reconcile`): compares the platform's payments and refunds created in a time
//! range with the bank's books and prints every mismatch (charged but not SUCCEEDED, SUCCEEDED
//! but not charged, charged or refunded twice, amounts that differ, refunds above their charge,
//! money moved under a reference the platform does not know). Exits 1 on any mismatch, 2 when it
//! could not compare. An operator's tool, not a service: it scans the table.
//!
//! The bank's side here is the simulator's `GET /ledger`. Against a real acquirer it is the
//! daily settlement file: one line per charge and refund with the merchant's reference, amount
//! and outcome, which maps line for line onto `compare::BankLine`.
mod compare;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use payment_platform::config::AwsArgs;
use payment_platform::dynamo::DynamoStore;
use serde::Deserialize;

#[derive(Parser, Debug)]
#[command(name = "reconcile", about = "Compare the platform's records with the bank's books over a time range")]
struct Args {
    #[command(flatten)]
    aws: AwsArgs,
    /// Base URL of the bank (its ledger export).
    #[arg(long, env = "BANK_URL", default_value = "http://127.0.0.1:4445")]
    bank_url: String,
    /// Start of the range, ms since the epoch (default: `--hours` ago).
    #[arg(long)]
    from_ms: Option<u64>,
    /// End of the range, ms since the epoch (default: now).
    #[arg(long)]
    to_ms: Option<u64>,
    /// The range's length when `--from-ms` is not given.
    #[arg(long, default_value_t = 24)]
    hours: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ledger {
    entries: Vec<compare::BankLine>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("reconcile: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> anyhow::Result<bool> {
    let args = Args::parse();
    let to = args.to_ms.unwrap_or_else(payment_platform::util::now_ms);
    let from = args.from_ms.unwrap_or_else(|| to.saturating_sub(args.hours * 3_600_000));
    let clients = payment_platform::aws::clients(&args.aws).await;
    let store = DynamoStore::new(clients.dynamodb, args.aws.table.clone());
    let platform = store.payments_created_between(from, to).await.context("reading the platform's records")?;
    let url = format!("{}/ledger", args.bank_url.trim_end_matches('/'));
    let ledger: Ledger = reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .context("reading the bank's ledger")?
        .json()
        .await
        .context("reading the bank's ledger")?;
    let (summary, mismatches) = compare::reconcile(&platform, &ledger.entries, (from, to));
    for m in &mismatches {
        println!("MISMATCH {m}");
    }
    println!(
        "reconciliation: payments={} refunds={} bank_charges={} bank_refunds={} in_flight={} mismatches={}",
        summary.payments,
        summary.refunds,
        summary.bank_charges,
        summary.bank_refunds,
        summary.in_flight,
        mismatches.len()
    );
    Ok(mismatches.is_empty())
}
