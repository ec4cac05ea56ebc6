//! Chaos: payments and refunds while the bank fails 20% and hangs on 10% of requests, and
//! workers are SIGKILLed mid-flight and restarted. Every payment ends final, charged once, with
//! an audit trail that matches it. `make chaos` runs 200 payments and 50
//! refunds (CHAOS_PAYMENTS, CHAOS_REFUNDS); `make test` runs a smaller count.
use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::app::card_request;
use crate::support::system::{System, Worker, count};

const CARDS: [&str; 4] = ["1234123412341234", "4242424242424242", "5555555555554444", "4000000000000002"];
/// A CVV no id or timestamp is likely to hold as a value of its own, for the scan at the end.
const CVV: &str = "7391";

#[tokio::test]
async fn chaos_every_payment_final_none_charged_twice() {
    let payments = count("CHAOS_PAYMENTS", 40);
    let refunds = count("CHAOS_REFUNDS", 10);
    let mut sys = System::start(
        "chaos",
        &[("BANK_FAIL_RATE", "0.2"), ("BANK_HANG_RATE", "0.1"), ("BANK_HANG_MS", "1500"), ("BANK_LATENCY_MS", "20")],
        &[
            ("BANK_TIMEOUT_MS", "500"),
            ("BANK_RETRY_MIN_DELAY_MS", "20"),
            ("BANK_RETRY_MAX_DELAY_MS", "200"),
            ("REPAIR_AFTER_SECS", "5"),
            ("REPAIR_INTERVAL_SECS", "2"),
            ("WORKER_WAIT_SECS", "1"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;

    let mut ids = Vec::with_capacity(payments);
    let mut bodies = Vec::with_capacity(payments);
    let kill_every = payments / 4;
    let mut kills = 0;
    for i in 0..payments {
        let mut body = card_request(CARDS[i % CARDS.len()], 1000 + i as u64);
        body["CardCVV"] = json!(CVV);
        // Half of them with a key, so fingerprints are scanned too.
        let key = (i % 2 == 0).then(|| format!("chaos-{i}"));
        let resp = sys.app.create(&body, key.as_deref()).await;
        assert_eq!(resp.status(), 202);
        ids.push(resp.json::<Value>().await.unwrap()["paymentID"].as_str().unwrap().to_owned());
        bodies.push(body);
        if i > 0 && i % kill_every == 0 {
            // Alternate workers, so refunds in flight die too.
            let which = if kills % 2 == 0 { Worker::Payment } else { Worker::Refund };
            sys.worker(which).signal("KILL");
            sys.worker(which).exited(Duration::from_secs(10)).await;
            sys.restart(which).await;
            kills += 1;
        }
        if i < refunds * 2 && i % 2 == 0 {
            // Refunds asked while the payment is still in flight, some of them on declines.
            let resp = sys.app.refund(&ids[i], Some(json!({"Amount": 300})), None).await;
            assert!(resp.status() == 202 || resp.status() == 409, "{}", resp.status());
        }
    }
    // One more kill of the payment worker, mid-flight.
    sys.worker(Worker::Payment).signal("KILL");
    sys.worker(Worker::Payment).exited(Duration::from_secs(10)).await;
    sys.restart(Worker::Payment).await;
    kills += 1;
    assert!(kills >= 3);

    // Wait until everything is final, then heal the bank so the last retries go through.
    let deadline = Duration::from_secs(240);
    let finals = sys.all_settled(&ids, deadline).await;

    let ledger = sys.bank.ledger().await;
    let charged: HashMap<String, u64> = serde_json::from_value(ledger["ChargesByReference"].clone()).unwrap();
    let refunded: HashMap<String, u64> = serde_json::from_value(ledger["RefundsByReference"].clone()).unwrap();
    let mut double_charges = charged.values().filter(|n| **n > 1).count();
    let mut non_final = 0;
    let mut refund_count = 0;
    for p in &finals {
        let id = p["PaymentID"].as_str().unwrap();
        // Its events match its final state and its refunds, whatever was killed mid-write.
        sys.app.checked_trail(p).await;
        let n = charged.get(id).copied().unwrap_or(0);
        match p["Status"].as_str().unwrap() {
            "SUCCEEDED" => assert_eq!(n, 1, "SUCCEEDED {id} charged exactly once"),
            "DECLINED" | "FAILED" => assert_eq!(n, 0, "{id} ended {} but was charged", p["Status"]),
            _ => non_final += 1,
        }
        let rs = p["Refunds"].as_array().unwrap();
        refund_count += rs.len();
        let refunded_sum: u64 =
            rs.iter().filter(|r| r["Status"] == "SUCCEEDED").map(|r| r["Amount"].as_u64().unwrap()).sum();
        assert!(refunded_sum <= p["Price"].as_u64().unwrap(), "{id} refunded more than its price");
        assert_eq!(p["RefundedAmount"].as_u64(), Some(refunded_sum));
        for r in rs {
            let rid = r["RefundID"].as_str().unwrap();
            let times = refunded.get(rid).copied().unwrap_or(0);
            double_charges += usize::from(times > 1);
            if r["Status"] == "SUCCEEDED" {
                assert_eq!(times, 1, "refund {rid} carried out once at the bank");
            }
            non_final += usize::from(!matches!(r["Status"].as_str(), Some("SUCCEEDED" | "FAILED")));
        }
    }
    let dlq = sys.queue_depth(&format!("{}-dlq", sys.app.aws.payments_queue)).await
        + sys.queue_depth(&format!("{}-dlq", sys.app.aws.refunds_queue)).await;
    let (reconciled, printed) = sys.reconcile().await;
    println!(
        "payments={} refunds={} double_charges={double_charges} non_final={non_final} dlq={dlq}\n{}",
        finals.len(),
        refund_count,
        printed.lines().last().unwrap_or_default()
    );
    assert!(reconciled, "reconciliation found mismatches:\n{printed}");
    assert_eq!((double_charges, non_final, dlq), (0, 0, 0));
    assert!(refund_count >= refunds, "asked for {refunds} refunds, {refund_count} accepted");

    // Nothing a card can be recovered from: table, indexes, queues and every service's log.
    let cards: Vec<(&str, &str)> = CARDS.iter().map(|c| (*c, CVV)).collect();
    let bodies: Vec<(&str, &str, &Value)> = bodies.iter().map(|b| ("POST", "/payments", b)).collect();
    let (mut all, _) = crate::security::everything_at_rest(&sys.app).await;
    let logs = crate::security::service_logs(&sys.name);
    assert!(logs.len() >= 6, "the api's and every worker's logs, restarted ones too: {}", logs.len());
    all.extend(logs.into_iter().flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>()));
    crate::security::assert_no_card_data(&all, &cards, &bodies);
}
