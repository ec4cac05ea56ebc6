//! Chaos when the bank forgets: keys kept 2 s, and an outage longer than that (every request
//! 503, then every request hanging and applied late), with payments arriving and workers
//! SIGKILLed throughout. Whatever was applied, however late, is found by inquiry; nothing is
//! sent again past the bank's memory. The verdict is `reconcile`'s: the platform's records and
//! the bank's books agree, nobody charged twice, no refund above its charge. `make chaos` runs
//! 200 payments and 50 refunds; `make test` fewer.
use std::time::Duration;

use serde_json::json;

use crate::support::app::card_request;
use crate::support::system::{System, Worker, count};

/// How long each phase of the outage lasts: twice the key TTL, so keys are forgotten mid-way.
const OUTAGE_PHASE: Duration = Duration::from_secs(4);

#[tokio::test]
async fn chaos_the_bank_forgets_keys_during_a_long_outage_and_nothing_is_charged_twice() {
    let payments = count("CHAOS_PAYMENTS", 40);
    let refunds = count("CHAOS_REFUNDS", 10).min(payments);
    let mut sys = System::start(
        "chaos-bank",
        &[("BANK_KEY_TTL_SECS", "2"), ("BANK_HANG_MS", "1200"), ("BANK_LATENCY_MS", "10")],
        &[
            ("BANK_KEY_TTL_SECS", "2"),
            ("BANK_RESEND_MARGIN_SECS", "1"),
            ("BANK_LATE_APPLY_MS", "1500"),
            ("BANK_TIMEOUT_MS", "400"),
            ("BANK_RETRY_MIN_DELAY_MS", "50"),
            ("BANK_RETRY_MAX_DELAY_MS", "300"),
            ("REPAIR_AFTER_SECS", "3"),
            ("REPAIR_INTERVAL_SECS", "1"),
            ("WORKER_WAIT_SECS", "1"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let mut ids = Vec::with_capacity(payments);
    let create = async |sys: &System, n: usize, ids: &mut Vec<String>| {
        for _ in 0..n {
            let i = ids.len();
            ids.push(sys.app.create_ok(&card_request("4242424242424242", 1000 + i as u64)).await);
            if i < refunds {
                // Asked while the payment is in flight: carried out once it settles, or FAILED.
                let resp = sys.app.refund(&ids[i], Some(json!({"Amount": 300})), None).await;
                assert!(resp.status() == 202 || resp.status() == 409, "{}", resp.status());
            }
        }
    };
    let quarter = payments / 4;
    create(&sys, quarter, &mut ids).await;

    // The outage. The phases are timed faults (the scenario), not waits for a state.
    sys.bank.set_faults(json!({"FailRate": 1.0})).await;
    create(&sys, quarter, &mut ids).await;
    sys.worker(Worker::Payment).signal("KILL");
    sys.worker(Worker::Payment).exited(Duration::from_secs(10)).await;
    sys.restart(Worker::Payment).await;
    tokio::time::sleep(OUTAGE_PHASE).await;
    sys.bank.set_faults(json!({"FailRate": 0.0, "HangRate": 1.0})).await;
    create(&sys, quarter, &mut ids).await;
    sys.worker(Worker::Refund).signal("KILL");
    sys.worker(Worker::Refund).exited(Duration::from_secs(10)).await;
    sys.restart(Worker::Refund).await;
    tokio::time::sleep(OUTAGE_PHASE).await;
    sys.worker(Worker::Payment).signal("KILL");
    sys.worker(Worker::Payment).exited(Duration::from_secs(10)).await;
    sys.restart(Worker::Payment).await;
    sys.bank.set_faults(json!({"HangRate": 0.0})).await;
    let rest = payments - ids.len();
    create(&sys, rest, &mut ids).await;

    let finals = sys.all_settled(&ids, Duration::from_secs(240)).await;
    let ledger = sys.bank.ledger().await;
    let twice = ledger["ChargesByReference"].as_object().unwrap().values().filter(|n| n.as_u64() > Some(1)).count();
    let statuses = |s: &str| finals.iter().filter(|p| p["Status"] == s).count();
    let (ok, printed) = sys.reconcile().await;
    println!(
        "{} succeeded={} failed={} double_charges={twice}",
        printed.lines().last().unwrap_or_default(),
        statuses("SUCCEEDED"),
        statuses("FAILED")
    );
    assert!(ok, "reconciliation found mismatches:\n{printed}");
    assert_eq!(twice, 0, "charged twice");
    for p in &finals {
        sys.app.checked_trail(p).await;
    }
    assert!(statuses("SUCCEEDED") >= rest, "the payments made once the bank was back succeeded");
}
