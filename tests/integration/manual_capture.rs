//! Authorize now, capture later, cancel the rest: with every component a real process (API,
//! payment-worker, refund-worker, bank simulator) on the emulator.
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::app::{TestApp, card_request, eventually};
use crate::support::system::System;

const SETTLE: Duration = Duration::from_secs(60);

fn fast_repair() -> Vec<(&'static str, &'static str)> {
    vec![("REPAIR_AFTER_SECS", "2"), ("REPAIR_INTERVAL_SECS", "1"), ("WORKER_WAIT_SECS", "1")]
}

fn manual(price: u64) -> Value {
    let mut body = card_request("4242424242424242", price);
    body["CaptureMethod"] = json!("manual");
    body
}

async fn post(app: &TestApp, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.authed(app.http.post(format!("{}{path}", app.url)));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn capture(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    post(app, &format!("/payments/{id}/capture"), Some(body)).await
}

async fn cancel(app: &TestApp, id: &str) -> (u16, Value) {
    post(app, &format!("/payments/{id}/cancel"), None).await
}

/// Polls until the payment has `status` and nothing of it is under way (no `Retry-After`).
async fn reaches(app: &TestApp, id: &str, status: &str, within: Duration) -> Value {
    eventually(within, &format!("payment {id} {status} and at rest"), || async {
        let resp = app.get(id).await;
        let at_rest = resp.status() == 200 && !resp.headers().contains_key("retry-after");
        let body: Value = resp.json().await.ok()?;
        (at_rest && body["Status"] == status).then_some(body)
    })
    .await
}

#[tokio::test]
async fn twenty_concurrent_captures_never_exceed_the_authorization_and_refunds_take_only_what_was_captured() {
    let sys = System::start("capture-race", &[], &fast_repair()).await;
    let id = sys.app.create_ok(&manual(1000)).await;
    let authorized = reaches(&sys.app, &id, "AUTHORIZED", SETTLE).await;
    assert_eq!(authorized["CaptureMethod"], "manual");
    assert_eq!(
        (authorized["AuthorizedAmount"].as_u64(), authorized["CapturableAmount"].as_u64()),
        (Some(1000), Some(1000))
    );
    assert!(authorized["AuthorizationExpiresAt"].as_u64().is_some());
    let (status, refused) = post(&sys.app, &format!("/payments/{id}/refund"), None).await;
    assert_eq!(status, 405, "refunds are PATCH: {refused}");
    let refund = sys.app.refund(&id, Some(json!({"Amount": 1})), None).await;
    assert_eq!(refund.status(), 409, "nothing captured, nothing to refund");

    let asks = (0..20).map(|i| {
        capture(&sys.app, &id, json!({"Amount": 100, "FinalCapture": false, "Metadata": {"n": i.to_string()}}))
    });
    let answers = futures::future::join_all(asks).await;
    let accepted: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 202).map(|(_, b)| b).collect();
    assert_eq!(accepted.len(), 10, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 202) {
        // Refused for what is left, or (the ten captured and the payment ended meanwhile) for
        // being final: never accepted.
        let code = body["Error"]["Code"].as_str();
        assert!(*status == 409 && matches!(code, Some("capture_exceeds_capturable" | "not_capturable")), "{body}");
    }
    assert!(accepted.iter().all(|b| b["Status"] == "PENDING" && b["Amount"] == 100 && b["FinalCapture"] == false));
    let done = reaches(&sys.app, &id, "SUCCEEDED", SETTLE).await;
    assert_eq!((done["CapturedAmount"].as_u64(), done["CapturableAmount"].as_u64()), (Some(1000), Some(0)));
    let captures = done["Captures"].as_array().unwrap();
    assert_eq!(captures.len(), 10);
    assert!(captures.iter().all(|c| c["Status"] == "SUCCEEDED"), "{captures:?}");

    let ledger = sys.bank.ledger().await;
    let holds = &ledger["Holds"];
    assert_eq!((holds["AuthorizedAmount"].as_u64(), holds["CapturedAmount"].as_u64()), (Some(1000), Some(1000)));
    assert_eq!(holds["OverCaptured"], json!([]));
    assert_eq!(holds["HeldAmount"], 0, "nothing left held once the payment is final");
    let by_capture = ledger["CapturesByReference"].as_object().unwrap();
    assert_eq!(by_capture.len(), 10);
    assert!(by_capture.values().all(|n| n == 1), "nothing captured twice: {by_capture:?}");
    assert_eq!(ledger["AuthorizationsByReference"][&id], 1);

    assert_eq!(sys.app.refund(&id, Some(json!({"Amount": 1001})), None).await.status(), 409);
    assert_eq!(sys.app.refund(&id, Some(json!({"Amount": 600})), None).await.status(), 202);
    let refunded = eventually(SETTLE, "the refund of captured money", || async {
        let p = sys.app.get_json(&id).await;
        (p["Refunds"][0]["Status"] == "SUCCEEDED").then_some(p)
    })
    .await;
    assert_eq!(refunded["RefundedAmount"], 600);
    let trail: Value = sys
        .app
        .authed(sys.app.http.get(format!("{}/payments/{id}/events?limit=100", sys.app.url)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = trail["Events"].as_array().unwrap().iter().map(|e| e["Type"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "capture.succeeded").count(), 10);
    assert!(kinds.contains(&"payment.authorized") && kinds.last() == Some(&"refund.succeeded"), "{kinds:?}");
    let captured = trail["Events"].as_array().unwrap().iter().find(|e| e["Type"] == "capture.created").unwrap();
    assert!(captured["CaptureID"].as_str().is_some(), "a capture's event names it");
}

#[tokio::test]
async fn a_cancel_racing_a_capture_ends_in_one_consistent_outcome_and_the_bank_agrees() {
    let sys = System::start("capture-cancel", &[], &fast_repair()).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(sys.app.create_ok(&manual(500)).await);
    }
    for id in &ids {
        reaches(&sys.app, id, "AUTHORIZED", SETTLE).await;
    }
    for id in &ids {
        let (captured, canceled) = tokio::join!(capture(&sys.app, id, json!({})), cancel(&sys.app, id));
        assert!(captured.0 == 202 || canceled.0 == 202, "one of them is accepted: {captured:?} {canceled:?}");
        if captured.0 != 202 {
            assert_eq!(captured.1["Error"]["Code"], "not_capturable");
        }
        if canceled.0 != 202 {
            assert_eq!(canceled.1["Error"]["Code"], "not_cancelable");
        }
    }
    let final_ = sys.all_settled(&ids, SETTLE).await;
    let ledger = sys.bank.ledger().await;
    let by_capture = ledger["CapturesByReference"].as_object().cloned().unwrap_or_default();
    for p in &final_ {
        match p["Status"].as_str() {
            Some("SUCCEEDED") => assert_eq!(p["CapturedAmount"], 500, "{p}"),
            Some("CANCELED") => {
                assert_eq!(p["CapturedAmount"], 0, "{p}");
                let captures = p["Captures"].as_array().unwrap();
                assert!(captures.iter().all(|c| !by_capture.contains_key(c["CaptureID"].as_str().unwrap())));
            }
            other => panic!("{other:?}: {p}"),
        }
    }
    let holds = &ledger["Holds"];
    let succeeded = final_.iter().filter(|p| p["Status"] == "SUCCEEDED").count() as u64;
    assert_eq!(holds["CapturedAmount"].as_u64(), Some(500 * succeeded), "{holds}");
    assert_eq!(holds["HeldAmount"], 0, "no authorization left held once its payment is final: {holds}");
    assert_eq!(holds["OverCaptured"], json!([]));
}

#[tokio::test]
async fn a_capture_after_expiry_is_refused_and_the_repair_path_ends_authorizations_left_alone() {
    // Authorizations hold for 3 s; a stale record is looked at again 5 s after its last touch.
    let worker = [("REPAIR_AFTER_SECS", "5"), ("REPAIR_INTERVAL_SECS", "1"), ("WORKER_WAIT_SECS", "1")];
    let sys = System::start("capture-expiry", &[("BANK_AUTH_VALIDITY_SECS", "3")], &worker).await;
    let (part, alone) = (sys.app.create_ok(&manual(700)).await, sys.app.create_ok(&manual(300)).await);
    let held = reaches(&sys.app, &part, "AUTHORIZED", SETTLE).await;
    reaches(&sys.app, &alone, "AUTHORIZED", SETTLE).await;
    assert_eq!(capture(&sys.app, &part, json!({"Amount": 200, "FinalCapture": false})).await.0, 202);
    eventually(SETTLE, "the capture to succeed", || async {
        let p = sys.app.get_json(&part).await;
        (p["CapturedAmount"] == 200).then_some(())
    })
    .await;
    let expires = held["AuthorizationExpiresAt"].as_u64().unwrap();
    eventually(SETTLE, "the authorization's expiry", || async {
        (payment_platform::util::now_ms() > expires).then_some(())
    })
    .await;
    let (status, late) = capture(&sys.app, &part, json!({"Amount": 1})).await;
    assert_eq!((status, late["Error"]["Code"].as_str()), (409, Some("authorization_expired")), "{late}");
    let ended = reaches(&sys.app, &part, "SUCCEEDED", SETTLE).await;
    assert_eq!(ended["CapturedAmount"], 200, "what was captured");
    let canceled = reaches(&sys.app, &alone, "CANCELED", SETTLE).await;
    assert_eq!(
        (canceled["Reason"].as_str(), canceled["CapturedAmount"].as_u64()),
        (Some("authorization_expired"), Some(0))
    );
    let holds = sys.bank.ledger().await["Holds"].clone();
    assert_eq!((holds["ExpiredAmount"].as_u64(), holds["HeldAmount"].as_u64()), (Some(500 + 300), Some(0)), "{holds}");
}
