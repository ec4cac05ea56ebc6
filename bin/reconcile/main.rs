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
use std::collections::HashSet;

use payment_platform::domain::ids::{PaymentId, RefundId};
use payment_platform::domain::payment::PaymentView;
use payment_platform::domain::ports::Payments;
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

/// The references of money moved in the range whose records are older than it: a refund today
/// of last week's payment, a charge applied just after a payment created before `from`.
async fn outside_the_range(
    store: &DynamoStore,
    platform: &[PaymentView],
    every_refund: &HashSet<RefundId>,
    lines: &[compare::BankLine],
    (from, to): (u64, u64),
) -> anyhow::Result<HashSet<(String, String)>> {
    let in_range: HashSet<String> = platform.iter().map(|v| v.payment.id.to_string()).collect();
    let mut found = HashSet::new();
    for line in lines.iter().filter(|l| (from..=to).contains(&l.applied_at) && !in_range.contains(&l.reference)) {
        let known = match line.kind.as_str() {
            "refund" => RefundId::parse(&line.reference).is_ok_and(|id| every_refund.contains(&id)),
            _ => match PaymentId::parse(&line.reference) {
                Ok(id) => store.get_payment(id).await.context("reading a payment")?.is_some(),
                Err(_) => false,
            },
        };
        if known {
            found.insert((line.kind.clone(), line.reference.clone()));
        }
    }
    Ok(found)
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
    let (platform, every_refund) =
        store.payments_created_between(from, to).await.context("reading the platform's records")?;
    let url = format!("{}/ledger", args.bank_url.trim_end_matches('/'));
    let ledger: Ledger = reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .context("reading the bank's ledger")?
        .json()
        .await
        .context("reading the bank's ledger")?;
    let elsewhere = outside_the_range(&store, &platform, &every_refund, &ledger.entries, (from, to)).await?;
    let (summary, mismatches) = compare::reconcile(&platform, &elsewhere, &ledger.entries, (from, to));
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
