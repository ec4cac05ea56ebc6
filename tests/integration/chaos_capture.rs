//! Chaos with manual capture: authorizations, partial and final captures and cancels while the
//! bank fails 20% of requests and hangs on 10% (a hung request applied late, within its hang),
//! its keys expire after a few seconds, and the payment-worker is SIGKILLed mid-flight. At the
//! end every payment is final, `reconcile` finds nothing, the bank never captured more than it
//! authorized nor anything twice, and holds nothing for a final payment. `make chaos` runs 60
//! payments (CHAOS_CAPTURES); `make test` a smaller count.
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::app::{TestApp, card_request, eventually};
use crate::support::system::{System, Worker, count};

async fn post(app: &TestApp, path: &str, body: Value) -> u16 {
    let resp = app.authed(app.http.post(format!("{}{path}", app.url))).json(&body).send().await.unwrap();
    resp.status().as_u16()
}

#[tokio::test]
async fn chaos_captures_never_exceed_their_authorization_and_nothing_stays_held() {
    let payments = count("CHAOS_CAPTURES", 18);
    let mut sys = System::start(
        "chaos-capture",
        &[
            ("BANK_FAIL_RATE", "0.2"),
            ("BANK_HANG_RATE", "0.1"),
            ("BANK_HANG_MS", "1500"),
            ("BANK_LATENCY_MS", "20"),
            ("BANK_KEY_TTL_SECS", "20"),
        ],
        &[
            ("BANK_TIMEOUT_MS", "500"),
            ("BANK_RETRY_MIN_DELAY_MS", "20"),
            ("BANK_RETRY_MAX_DELAY_MS", "200"),
            // The bank forgets keys after 20 s and applies a hung request within 1.5 s.
            ("BANK_KEY_TTL_SECS", "20"),
            ("BANK_RESEND_MARGIN_SECS", "5"),
            ("BANK_LATE_APPLY_MS", "3000"),
            ("REPAIR_AFTER_SECS", "4"),
            ("REPAIR_INTERVAL_SECS", "1"),
            ("WORKER_WAIT_SECS", "1"),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let mut ids = Vec::with_capacity(payments);
    for i in 0..payments {
        let mut body = card_request("4242424242424242", 1000 + i as u64);
        body["CaptureMethod"] = json!("manual");
        ids.push(sys.app.create_ok(&body).await);
    }
    let authorized = eventually(Duration::from_secs(120), "every payment authorized or ended", || async {
        let mut all = Vec::new();
        for id in &ids {
            let p: Value = sys.app.get_json(id).await;
            if matches!(p["Status"].as_str(), Some("PENDING" | "PROCESSING")) {
                return None;
            }
            all.push(p);
        }
        Some(all)
    })
    .await;
    let mut kills = 0;
    for (i, p) in authorized.iter().enumerate() {
        if p["Status"] != "AUTHORIZED" {
            continue;
        }
        let id = p["PaymentID"].as_str().unwrap();
        let price = p["Price"].as_u64().unwrap();
        let path = format!("/payments/{id}/capture");
        match i % 3 {
            // Captured in two parts, the second final.
            0 => {
                post(&sys.app, &path, json!({"Amount": price / 2, "FinalCapture": false})).await;
                post(&sys.app, &path, json!({"Amount": price - price / 2})).await;
            }
            // Part captured, then canceled: the rest is released.
            1 => {
                post(&sys.app, &path, json!({"Amount": 100, "FinalCapture": false})).await;
            }
            // Canceled outright.
            _ => {
                post(&sys.app, &format!("/payments/{id}/cancel"), json!({})).await;
            }
        }
        if i % 6 == 5 {
            sys.worker(Worker::Payment).signal("KILL");
            sys.worker(Worker::Payment).exited(Duration::from_secs(10)).await;
            sys.restart(Worker::Payment).await;
            kills += 1;
        }
    }
    assert!(kills >= 1 || payments < 6);
    // Whatever is still AUTHORIZED once its captures settled (a part captured, or a capture that
    // failed) is canceled, so every payment ends.
    let finals = eventually(Duration::from_secs(240), "every payment final", || async {
        let mut all = Vec::new();
        for id in &ids {
            let resp = sys.app.get(id).await;
            let busy = resp.headers().contains_key("retry-after");
            let p: Value = resp.json().await.ok()?;
            match p["Status"].as_str() {
                Some("AUTHORIZED") if !busy => {
                    post(&sys.app, &format!("/payments/{id}/cancel"), json!({})).await;
                    return None;
                }
                Some("SUCCEEDED" | "CANCELED" | "DECLINED" | "FAILED") if !busy => all.push(p),
                _ => return None,
            }
        }
        Some(all)
    })
    .await;
    assert_eq!(finals.len(), payments);

    let ledger = sys.bank.ledger().await;
    let holds = &ledger["Holds"];
    assert_eq!(holds["OverCaptured"], json!([]), "{holds}");
    assert_eq!(holds["HeldAmount"], 0, "no authorization left held once its payment is final: {holds}");
    let twice =
        |field: &str| ledger[field].as_object().map_or(0, |m| m.values().filter(|n| n.as_u64() > Some(1)).count());
    assert_eq!((twice("AuthorizationsByReference"), twice("CapturesByReference")), (0, 0), "nothing applied twice");
    let captured: u64 = finals.iter().map(|p| p["CapturedAmount"].as_u64().unwrap_or(0)).sum();
    assert_eq!(
        holds["CapturedAmount"].as_u64(),
        Some(captured),
        "the platform and the bank agree on what was captured"
    );
    assert!(captured > 0, "something was captured: {holds}");
    let (clean, printed) = sys.reconcile().await;
    assert!(clean, "reconcile found mismatches:\n{printed}");
}
