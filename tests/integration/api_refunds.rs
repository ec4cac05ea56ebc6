//! Refund requests: defaults, caps, refusals, idempotency and concurrency.
use serde_json::{Value, json};

use crate::support::app::{card_request, spawn_app};

#[tokio::test]
async fn a_refund_is_accepted_pending_and_defaults_to_all_that_is_left() {
    let app = spawn_app().await;
    let id = app.create_ok(&card_request("1234123412341234", 1000)).await;
    let resp = app.refund(&id, Some(json!({"Amount": 300})), None).await;
    assert_eq!(resp.status(), 202);
    let r: Value = resp.json().await.unwrap();
    assert_eq!((r["Status"].as_str(), r["Amount"].as_u64()), (Some("PENDING"), Some(300)));
    let resp = app.refund(&id, None, None).await;
    assert_eq!(resp.status(), 202);
    let rest: Value = resp.json().await.unwrap();
    assert_eq!(rest["Amount"], 700);
    let p = app.get_json(&id).await;
    let refunds = p["Refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 2);
    assert!(refunds.iter().all(|r| r["Status"] == "PENDING" && r["RefundID"].is_string()));
    assert_eq!(p["RefundableAmount"], 0);
    assert_eq!(app.drain(&app.aws.refunds_queue).await.len(), 2);
}

#[tokio::test]
async fn over_refunds_and_refunds_of_nothing_left_are_refused_with_a_code() {
    let app = spawn_app().await;
    let id = app.create_ok(&card_request("1234123412341234", 1000)).await;
    let resp = app.refund(&id, Some(json!({"Amount": 1001})), None).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Code"], "refund_exceeds_remaining");
    assert_eq!(app.refund(&id, None, None).await.status(), 202);
    let resp = app.refund(&id, Some(json!({"Amount": 1})), None).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Code"], "nothing_left_to_refund");
    for bad in [json!({"Amount": 0}), json!({"Amount": "5"}), json!({"Amount": 1.5})] {
        let resp = app.refund(&id, Some(bad.clone()), None).await;
        assert_eq!(resp.status(), 422, "{bad}");
        assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Fields"][0]["Field"], "Amount");
    }
    let resp =
        app.authed(app.http.patch(format!("{}/payments/{id}/refund", app.url))).body("{oops").send().await.unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn concurrent_refunds_never_add_up_to_more_than_the_price() {
    let app = spawn_app().await;
    let id = app.create_ok(&card_request("1234123412341234", 1000)).await;
    let answers = futures::future::join_all(
        (0..20).map(|_| async { app.refund(&id, Some(json!({"Amount": 300})), None).await.status().as_u16() }),
    )
    .await;
    let accepted = answers.iter().filter(|s| **s == 202).count();
    assert_eq!(accepted, 3, "3 x 300 fit in 1000, a 4th does not: {answers:?}");
    assert!(answers.iter().all(|s| *s == 202 || *s == 409));
    let p = app.get_json(&id).await;
    let total: u64 = p["Refunds"].as_array().unwrap().iter().map(|r| r["Amount"].as_u64().unwrap()).sum();
    assert_eq!(total, 900);
    assert_eq!(p["RefundableAmount"], 100);

    // And full refunds raced against each other: exactly one wins.
    let id = app.create_ok(&card_request("1234123412341234", 500)).await;
    let answers =
        futures::future::join_all((0..10).map(|_| async { app.refund(&id, None, None).await.status().as_u16() })).await;
    assert_eq!(answers.iter().filter(|s| **s == 202).count(), 1, "{answers:?}");
}

#[tokio::test]
async fn refund_replays_return_the_first_answer_even_when_nothing_is_left() {
    let app = spawn_app().await;
    let id = app.create_ok(&card_request("1234123412341234", 1000)).await;
    let first = app.refund(&id, None, Some("refund-1")).await;
    assert_eq!(first.status(), 202);
    let first = first.text().await.unwrap();
    let again = app.refund(&id, None, Some("refund-1")).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.text().await.unwrap(), first);
    let misuse = app.refund(&id, Some(json!({"Amount": 5})), Some("refund-1")).await;
    assert_eq!(misuse.status(), 422);
    assert_eq!(app.get_json(&id).await["Refunds"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_partial_refund_replayed_while_money_is_left_refunds_once() {
    let app = spawn_app().await;
    let id = app.create_ok(&card_request("1234123412341234", 1000)).await;
    let body = json!({"Amount": 300});
    let first = app.refund(&id, Some(body.clone()), Some("partial-1")).await;
    assert_eq!(first.status(), 202);
    let first = first.text().await.unwrap();
    for _ in 0..3 {
        let again = app.refund(&id, Some(body.clone()), Some("partial-1")).await;
        assert_eq!(again.status(), 202);
        assert_eq!(again.text().await.unwrap(), first, "the first answer, byte for byte");
    }
    let p = app.get_json(&id).await;
    assert_eq!(p["Refunds"].as_array().unwrap().len(), 1, "{p}");
    assert_eq!(p["RefundableAmount"], 700, "the amount was reserved once: {p}");
}
