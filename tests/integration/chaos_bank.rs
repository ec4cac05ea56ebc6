//! Chaos at the bank. When it forgets: keys kept 2 s, and an outage longer than that (every
//! request 503, then every request hanging and applied late), with payments arriving and workers
//! SIGKILLed throughout. Whatever was applied, however late, is found by inquiry; nothing is
//! sent again past the bank's memory. When it dies: the simulator itself SIGKILLed several times,
//! also between applying a request and answering it, and started again on its books. The verdict
//! is `reconcile`'s: the platform's records and the bank's books agree, nobody charged twice, no
//! refund above its charge. `make chaos` runs 200 payments and 50 refunds; `make test` fewer.
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

/// What the ledger holds: every line's idempotency key with its charge and refund ids.
fn books(ledger: &serde_json::Value) -> Vec<String> {
    ledger["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {} {}", e["IdempotencyKey"], e["ChargeID"], e["RefundID"]))
        .collect()
}

/// Chaos when the bank itself dies: payments and refunds while the bank fails 10% and hangs on
/// 20% of requests, and the bank simulator is SIGKILLed by its pid and started again on the same
/// port and books, several times: at an arbitrary moment, and at a moment when a request is
/// applied and its answer still held back (a hang, seen on its `GET /status`); the workers are
/// SIGKILLed too. Each time, every line the bank had before is still in its books after; in the
/// end every payment is final, charged once if SUCCEEDED, never if not, nothing refunded twice,
/// and `reconcile` finds no mismatch. `make chaos` runs 200 payments and 50 refunds, `make test` 40
/// and 10.
#[tokio::test]
async fn chaos_the_bank_is_killed_between_applying_and_answering_and_forgets_nothing() {
    let payments = count("CHAOS_PAYMENTS", 40);
    let refunds = count("CHAOS_REFUNDS", 10).min(payments);
    let mut sys = System::start(
        "chaos-bank-killed",
        &[("BANK_FAIL_RATE", "0.1"), ("BANK_HANG_RATE", "0.2"), ("BANK_HANG_MS", "1500"), ("BANK_LATENCY_MS", "20")],
        &[
            ("BANK_LATE_APPLY_MS", "2000"),
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
    let cards = ["4242424242424242", "1234123412341234", "5555555555554444", "4000000000000002"];
    let mut ids: Vec<String> = Vec::with_capacity(payments + 8);
    let create = async |sys: &System, ids: &mut Vec<String>| {
        let i = ids.len();
        ids.push(sys.app.create_ok(&card_request(cards[i % cards.len()], 1000 + i as u64)).await);
    };
    let (mut bank_kills, mut held_kills, mut worker_kills) = (0, 0, 0);
    // Kills the bank, with an answer held back if `held`; checks its books after the restart.
    let kill_bank = async |sys: &mut System, ids: &mut Vec<String>, held: bool| {
        if held {
            // Every request hangs, applied at once and answered 1.5 s later, until one is held;
            // new payments keep requests coming.
            sys.bank.set_faults(json!({"HangRate": 1.0, "HangApplyMs": 0})).await;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            let mut next_payment = std::time::Instant::now();
            while sys.bank.status().await["HangingApplied"].as_u64() < Some(1) {
                assert!(std::time::Instant::now() < deadline, "no request applied and held within 30 s");
                if std::time::Instant::now() >= next_payment {
                    create(sys, ids).await;
                    next_payment = std::time::Instant::now() + Duration::from_secs(2);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let before = books(&sys.bank.ledger().await);
        sys.bank.kill().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Started with the run's faults again.
        sys.bank.restart(&[]).await;
        let after = books(&sys.bank.ledger().await);
        let lost: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
        assert!(lost.is_empty(), "lines lost in the crash: {lost:?}");
    };
    let kill_every = (payments / 6).max(1);
    let mut round = 0;
    for i in 0..payments {
        create(&sys, &mut ids).await;
        if i < refunds {
            // Asked while the payment is in flight: carried out once it settles, or FAILED.
            let resp = sys.app.refund(&ids[i], Some(json!({"Amount": 300})), None).await;
            assert!(resp.status() == 202 || resp.status() == 409, "{}", resp.status());
        }
        if i > 0 && i % kill_every == 0 {
            match round % 3 {
                0 | 1 => {
                    let held = round % 3 == 0;
                    kill_bank(&mut sys, &mut ids, held).await;
                    bank_kills += 1;
                    held_kills += usize::from(held);
                }
                _ => {
                    let which = if worker_kills % 2 == 0 { Worker::Payment } else { Worker::Refund };
                    sys.worker(which).signal("KILL");
                    sys.worker(which).exited(Duration::from_secs(10)).await;
                    sys.restart(which).await;
                    worker_kills += 1;
                }
            }
            round += 1;
        }
    }
    // Once more with an answer held back, then the payment worker.
    kill_bank(&mut sys, &mut ids, true).await;
    bank_kills += 1;
    held_kills += 1;
    sys.worker(Worker::Payment).signal("KILL");
    sys.worker(Worker::Payment).exited(Duration::from_secs(10)).await;
    sys.restart(Worker::Payment).await;
    worker_kills += 1;
    assert!(bank_kills >= 3 && held_kills >= 2, "bank kills {bank_kills}, with an answer held {held_kills}");

    let finals = sys.all_settled(&ids, Duration::from_secs(240)).await;
    let ledger = sys.bank.ledger().await;
    let charged = ledger["ChargesByReference"].as_object().unwrap();
    let refunded = ledger["RefundsByReference"].as_object().unwrap();
    let times =
        |map: &serde_json::Map<String, serde_json::Value>, id: &str| map.get(id).and_then(|n| n.as_u64()).unwrap_or(0);
    let twice = charged.values().chain(refunded.values()).filter(|n| n.as_u64() > Some(1)).count();
    for p in &finals {
        let id = p["PaymentID"].as_str().unwrap();
        match p["Status"].as_str().unwrap() {
            "SUCCEEDED" => assert_eq!(times(charged, id), 1, "SUCCEEDED {id} charged exactly once"),
            other => assert_eq!(times(charged, id), 0, "{id} ended {other} but was charged"),
        }
        for r in p["Refunds"].as_array().unwrap() {
            let rid = r["RefundID"].as_str().unwrap();
            let expected = u64::from(r["Status"] == "SUCCEEDED");
            assert_eq!(times(refunded, rid), expected, "refund {rid} ended {} ", r["Status"]);
        }
        sys.app.checked_trail(p).await;
    }
    let statuses = |s: &str| finals.iter().filter(|p| p["Status"] == s).count();
    let (ok, printed) = sys.reconcile().await;
    println!(
        "{} payments={} succeeded={} declined={} failed={} bank_kills={bank_kills} held_kills={held_kills} \
         worker_kills={worker_kills} double_charges={twice}",
        printed.lines().last().unwrap_or_default(),
        finals.len(),
        statuses("SUCCEEDED"),
        statuses("DECLINED"),
        statuses("FAILED")
    );
    assert!(ok, "reconciliation found mismatches:\n{printed}");
    assert_eq!(twice, 0, "charged or refunded twice");
}
