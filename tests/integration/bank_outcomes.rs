//! The rows of docs/DESIGN.md's table ("When the bank's answer is lost") that need the real
//! processes: a charge applied late after its answer was lost is found, not repeated; an outage
//! past the key window leaves the payment in flight and reported, then FAILED with nothing
//! charged once the bank can say so.
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::app::{card_request, eventually};
use crate::support::metrics::sample;
use crate::support::system::{System, Worker};

const WORKERS: &[(&str, &str)] = &[
    ("BANK_KEY_TTL_SECS", "3"),
    ("BANK_RESEND_MARGIN_SECS", "1"),
    ("BANK_LATE_APPLY_MS", "1500"),
    ("BANK_TIMEOUT_MS", "300"),
    ("BANK_RETRY_MIN_DELAY_MS", "50"),
    ("BANK_RETRY_MAX_DELAY_MS", "200"),
    ("WORKER_WAIT_SECS", "1"),
];

fn charges(ledger: &Value, id: &str) -> u64 {
    ledger["ChargesByReference"][id].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_charge_applied_late_after_its_answer_was_lost_is_found_and_not_repeated() {
    let bank = [("BANK_KEY_TTL_SECS", "3"), ("BANK_HANG_MS", "1200"), ("BANK_HANG_RATE", "1.0")];
    let mut sys = System::start("bank-late", &bank, WORKERS).await;
    let id = sys.app.create_ok(&card_request("4242424242424242", 700)).await;
    // The first attempt hangs and is applied late; the worker's inquiries hang too, until healed.
    let payment_worker = sys.worker(Worker::Payment).port;
    eventually(Duration::from_secs(20), "an inquiry after the lost answer", || async {
        let text = crate::support::metrics::scrape(payment_worker).await;
        sample(&text, "bank_inquiries_total", &["found=\"unreachable\""]).filter(|n| *n >= 1.0)
    })
    .await;
    sys.bank.set_faults(json!({ "HangRate": 0.0 })).await;
    let p = sys.settled(&id, Duration::from_secs(30)).await;
    assert_eq!(p["Status"], "SUCCEEDED");
    let ledger = sys.bank.ledger().await;
    assert_eq!(charges(&ledger, &id), 1, "charged once, though the key was forgotten meanwhile");
    let text = crate::support::metrics::scrape(payment_worker).await;
    assert!(sample(&text, "bank_inquiries_total", &["found=\"applied\""]) >= Some(1.0), "{text}");
    let (ok, printed) = sys.reconcile().await;
    assert!(ok, "{printed}");
}

#[tokio::test]
async fn an_outage_past_the_key_window_is_reported_then_failed_with_nothing_charged() {
    let bank = [("BANK_KEY_TTL_SECS", "3"), ("BANK_FAIL_RATE", "1.0")];
    let mut sys = System::start("bank-outage", &bank, WORKERS).await;
    let id = sys.app.create_ok(&card_request("4242424242424242", 800)).await;
    let payment_worker = sys.worker(Worker::Payment).port;
    // Past the window (3 s − 1 s) with the bank still down: nothing sent, the record reported.
    eventually(Duration::from_secs(30), "the unresolved record to be reported", || async {
        let text = crate::support::metrics::scrape(payment_worker).await;
        sample(&text, "bank_unresolved_total", &["operation=\"charge\""]).filter(|n| *n >= 1.0)
    })
    .await;
    let p = sys.app.get_json(&id).await;
    assert_eq!(p["Status"], "PROCESSING", "never FAILED while the bank cannot say what it applied");
    sys.bank.set_faults(json!({ "FailRate": 0.0 })).await;
    let p = sys.settled(&id, Duration::from_secs(30)).await;
    assert_eq!((p["Status"].as_str(), p["Reason"].as_str()), (Some("FAILED"), Some("bank_unavailable")));
    assert_eq!(charges(&sys.bank.ledger().await, &id), 0, "nothing charged, and nothing sent past the window");
    let (ok, printed) = sys.reconcile().await;
    assert!(ok, "{printed}");
}
