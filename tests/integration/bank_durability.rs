//! The bank's books survive its crash (CONTRACT section 5): the simulator SIGKILLed by its pid and
//! started again on the same port and the same file still has every line it applied, every key
//! and its answer, and what refunds took from each charge. The test the issue asks for is the
//! first: a charge applied and SIGKILLed before its answer is found by the worker's inquiry after
//! the restart, not charged again (on a simulator that kept its books in memory, the inquiry
//! found nothing and the worker charged a second time, under a new charge id).
use std::time::Duration;

use payment_platform::testing::process::Child;
use serde_json::{Value, json};

use crate::support::app::{card_request, eventually};
use crate::support::bank::{BankSim, free_port, log_dir};
use crate::support::metrics::sample;
use crate::support::system::{System, Worker};

const APPROVED_CARD: &str = "1234123412341234";

fn charge_body(reference: &str, card: &str, amount: u64) -> Value {
    json!({
        "Reference": reference, "Amount": amount, "Currency": "EUR",
        "CardNumber": card, "CardCVV": "123", "CardExpiryDate": "12/30",
    })
}

async fn post(sim: &BankSim, path: &str, key: &str, body: &Value) -> (u16, Value) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let response = client.post(format!("{}{path}", sim.url)).header("Idempotency-Key", key).json(body).send().await;
    let response = response.expect("request to the simulator");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// The lines of `reference` in the ledger.
fn lines<'a>(ledger: &'a Value, reference: &str) -> Vec<&'a Value> {
    ledger["Entries"].as_array().expect("Entries").iter().filter(|e| e["Reference"] == reference).collect()
}

#[tokio::test]
async fn a_charge_applied_before_the_bank_is_killed_is_found_by_inquiry_after_its_restart_not_charged_again() {
    // Every request hangs: applied at once, answered only 10 s after its receipt.
    let bank = [("BANK_HANG_RATE", "1.0"), ("BANK_HANG_MS", "10000"), ("BANK_HANG_APPLY_MS", "0")];
    let workers = [
        ("BANK_LATE_APPLY_MS", "12000"),
        ("BANK_TIMEOUT_MS", "300"),
        ("BANK_RETRY_MIN_DELAY_MS", "50"),
        ("BANK_RETRY_MAX_DELAY_MS", "200"),
        ("WORKER_WAIT_SECS", "1"),
    ];
    let mut sys = System::start("bank-killed-mid-charge", &bank, &workers).await;
    let id = sys.app.create_ok(&card_request("4242424242424242", 900)).await;

    // Applied, its answer held back: the moment to die. The worker hangs up after its 300 ms
    // timeout, so the bank counts the request in its total of answers held back (`HeldBack`),
    // not among those held for a client still waiting.
    let charge_id = eventually(Duration::from_secs(30), "the charge applied with its answer held back", || async {
        let ledger = sys.bank.ledger().await;
        let line = lines(&ledger, &id).first().map(|l| l["ChargeID"].as_str().unwrap().to_owned())?;
        (sys.bank.status().await["HeldBack"] == 1).then_some(line)
    })
    .await;
    assert_eq!(sys.app.get_json(&id).await["Status"], "PROCESSING", "the worker has no answer");
    sys.bank.kill().await;
    // Down for a moment: the worker's inquiries are refused, nothing is sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    sys.bank.restart(&[("BANK_HANG_RATE", "0")]).await;

    let p = sys.settled(&id, Duration::from_secs(60)).await;
    assert_eq!(p["Status"], "SUCCEEDED");
    let ledger = sys.bank.ledger().await;
    let found = lines(&ledger, &id);
    assert_eq!(found.len(), 1, "one line for the payment: {found:?}");
    assert_eq!(found[0]["ChargeID"], charge_id.as_str(), "the charge made before the crash, not a new one");
    assert_eq!(found[0]["Requests"], 1, "never sent again");
    assert_eq!(ledger["ChargesByReference"][&id], 1);
    let text = sys.worker(Worker::Payment).metrics().await;
    assert!(sample(&text, "bank_inquiries_total", &["found=\"applied\""]) >= Some(1.0), "{text}");
    let (ok, printed) = sys.reconcile().await;
    assert!(ok, "{printed}");
}

#[tokio::test]
async fn the_books_keys_answers_and_refunds_survive_kill_9() {
    let mut sim = BankSim::start("durable-books", &[]).await;
    let body = charge_body("pay-1", APPROVED_CARD, 1000);
    let (status, first) = post(&sim, "/charges", "charge-pay-1", &body).await;
    assert_eq!((status, first["Status"].as_str()), (200, Some("approved")));
    let refund = |reference: &str, amount: u64| json!({ "Reference": reference, "ChargeID": first["ChargeID"], "Amount": amount, "Currency": "EUR" });
    let (_, refunded) = post(&sim, "/refunds", "refund-r1", &refund("r1", 600)).await;
    assert_eq!(refunded["Status"], "succeeded");
    let (_, declined) = post(&sim, "/charges", "charge-pay-2", &charge_body("pay-2", "4000000000000002", 50)).await;
    assert_eq!(declined["DeclineCode"], "card_declined");
    // A charge applied with its answer held back when the bank dies.
    sim.set_faults(json!({ "HangRate": 1.0, "HangMs": 10000, "HangApplyMs": 0 })).await;
    let held = tokio::spawn({
        let url = sim.url.clone();
        async move {
            let client = reqwest::Client::new();
            let request = client.post(format!("{url}/charges")).header("Idempotency-Key", "charge-pay-3");
            request.json(&charge_body("pay-3", APPROVED_CARD, 70)).send().await.map(|r| r.status())
        }
    });
    eventually(Duration::from_secs(20), "the hung charge applied", || async {
        (sim.status().await["HangingApplied"] == 1).then_some(())
    })
    .await;
    let before = sim.ledger().await;
    sim.kill().await;
    assert!(held.await.unwrap().is_err(), "the held charge was never answered");
    sim.restart(&[]).await;

    let after = sim.ledger().await;
    assert_eq!(after, before, "every line, count and total as before the crash");
    assert_eq!(lines(&after, "pay-3").len(), 1, "the charge applied before the crash");
    // The keys are remembered with their answers: replays move nothing, a changed body is refused.
    assert_eq!(post(&sim, "/charges", "charge-pay-1", &body).await, (200, first.clone()));
    let (_, replayed) = post(&sim, "/charges", "charge-pay-3", &charge_body("pay-3", APPROVED_CARD, 70)).await;
    assert_eq!(replayed["ChargeID"], lines(&after, "pay-3")[0]["ChargeID"], "the held answer, given now");
    let (status, reused) = post(&sim, "/charges", "charge-pay-1", &charge_body("pay-1", APPROVED_CARD, 1001)).await;
    assert_eq!((status, reused["Error"]["Code"].as_str()), (422, Some("idempotency_key_reused")));
    // What the first refund took still counts.
    let (_, over) = post(&sim, "/refunds", "refund-r2", &refund("r2", 401)).await;
    assert_eq!(over["Reason"], "exceeds_charged_amount");
    let (_, rest) = post(&sim, "/refunds", "refund-r3", &refund("r3", 400)).await;
    assert_eq!(rest["Status"], "succeeded");
    // Inquiry by reference, and the line of a key.
    let inquiry: Value =
        reqwest::get(format!("{}/charges?reference=pay-1", sim.url)).await.unwrap().json().await.unwrap();
    assert_eq!(inquiry["Charges"].as_array().map(Vec::len), Some(1));
    assert_eq!(inquiry["Charges"][0]["ChargeID"], first["ChargeID"]);
    let line: Value = reqwest::get(format!("{}/ledger/charge-pay-1", sim.url)).await.unwrap().json().await.unwrap();
    assert_eq!(line["Requests"], 3, "the first request, the replay and the refused one");
    let ledger = sim.ledger().await;
    assert_eq!((ledger["Charged"].as_u64(), ledger["RefundedAmount"].as_u64()), (Some(2), Some(1000)));
}

#[tokio::test]
async fn a_second_simulator_on_the_same_books_refuses_to_start() {
    let sim = BankSim::start("books-locked", &[]).await;
    let log = log_dir().join("bank-sim-books-locked-second.log");
    let _ = std::fs::remove_file(&log);
    let vars = [
        ("BANK_PORT".to_owned(), free_port().to_string()),
        ("BANK_DB_PATH".to_owned(), sim.db_path.display().to_string()),
    ];
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_bank-simulator"));
    let mut second = Child::spawn(bin, &[], "bank-simulator", &log, &vars, &[]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = second.exited() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the second simulator still runs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let printed = std::fs::read_to_string(&log).unwrap();
    assert!(printed.contains("open in another bank simulator"), "{printed}");
    assert_eq!(sim.ledger().await["Entries"], json!([]), "the first still serves");
}
