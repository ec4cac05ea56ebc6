//! Idempotency-Key: replay, misuse, in-flight, takeover, and 50 concurrent requests.
use payment_platform::domain::idempotency::{IdempotencyClaim, IdempotencyKey};
use payment_platform::domain::ids::{MerchantId, PaymentId};
use payment_platform::domain::ports::Payments;
use payment_platform::dynamo::DynamoStore;
use payment_platform::http::payments::payload::legacy_request_hash;
use serde_json::Value;

use crate::support::app::{MERCHANT, OTHER_MERCHANT, TestApp, card_request, spawn_app};

fn payments_in(items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]) -> usize {
    items.iter().filter(|i| i.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|s| s == "PAYMENT")).count()
}

#[tokio::test]
async fn a_replay_returns_the_first_answer_and_creates_nothing() {
    let app = spawn_app().await;
    let body = card_request("1234123412341234", 700);
    let first = app.create(&body, Some("order-1")).await;
    assert_eq!(first.status(), 202);
    let first_loc = first.headers()["location"].clone();
    let first_body = first.text().await.unwrap();
    let again = app.create(&body, Some("order-1")).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["location"], first_loc);
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(payments_in(&app.scan().await), 1);
    assert_eq!(app.drain(&app.aws.payments_queue).await.len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422_and_keys_are_per_merchant() {
    let app = spawn_app().await;
    assert_eq!(app.create(&card_request("1234123412341234", 700), Some("k")).await.status(), 202);
    let resp = app.create(&card_request("1234123412341234", 701), Some("k")).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Code"], "idempotency_key_reused");
    // Another merchant may use the same key for its own request.
    let other = app.token_for(Some(OTHER_MERCHANT)).await;
    let resp = app
        .http
        .post(format!("{}/payments", app.url))
        .bearer_auth(other)
        .header("Idempotency-Key", "k")
        .json(&card_request("1234123412341234", 701))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(payments_in(&app.scan().await), 2);
    let bad = app.create(&card_request("1234123412341234", 1), Some(&"x".repeat(300))).await;
    assert_eq!(bad.status(), 400);
}

/// Claims a key without its answer, as a first request of an earlier version did, as if that
/// request were still running (`locked_for_ms` > 0) or had died mid-way (< 0). Today's requests
/// write the answer with the claim; claims without one are still honoured.
async fn claim_key(app: &TestApp, key: &str, body: &Value, locked_for_ms: i64) -> PaymentId {
    let store = DynamoStore::new(app.clients.dynamodb.clone(), app.aws.table.clone());
    let id = PaymentId::new();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let claim = IdempotencyClaim {
        key: IdempotencyKey::parse(MerchantId::parse(MERCHANT).unwrap(), key).unwrap(),
        // As claims from before fingerprints were keyed hold it: such a key keeps working
        // until it expires.
        request_hash: legacy_request_hash("POST", "/payments", body.as_object().unwrap()),
        resource_id: id.to_string(),
        locked_until_ms: (now + locked_for_ms) as u64,
        expires_at_secs: (now / 1000 + 3600) as u64,
        response: None,
    };
    // Write the claim alone by creating a payment through the store, as the API does.
    let new = payment_platform::domain::payment::NewPayment {
        id,
        merchant_id: claim.key.merchant_id.clone(),
        customer_id: "cust-1".into(),
        customer_name: None,
        amount: payment_platform::domain::money::Amount::parse(100).unwrap(),
        currency: payment_platform::domain::money::Currency::parse("EUR").unwrap(),
        card_last4: "1234".into(),
        sealed_card: payment_platform::domain::card::SealedCard("v1.x.y".into()),
        created_at_ms: now as u64,
        tags: Default::default(),
        capture_method: Default::default(),
    };
    let created = payment_platform::domain::change::Change::payment_created(
        &new,
        payment_platform::domain::events::Cause::new(
            payment_platform::domain::events::Actor::Merchant(new.merchant_id.clone()),
            None,
        ),
    );
    store.commit(&created, Some(&claim)).await.unwrap();
    id
}

#[tokio::test]
async fn the_same_key_while_the_first_is_in_flight_is_409() {
    let app = spawn_app().await;
    let body = card_request("1234123412341234", 100);
    claim_key(&app, "busy", &body, 60_000).await;
    let resp = app.create(&body, Some("busy")).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Code"], "idempotency_key_in_flight");
}

#[tokio::test]
async fn a_first_request_that_died_mid_way_is_finished_by_its_replay() {
    let app = spawn_app().await;
    let body = card_request("1234123412341234", 100);
    let id = claim_key(&app, "orphan", &body, -1).await;
    assert!(app.drain(&app.aws.payments_queue).await.is_empty(), "the dead request never enqueued");
    let resp = app.create(&body, Some("orphan")).await;
    assert_eq!(resp.status(), 202);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["paymentID"], id.to_string(), "the replay answers with the payment the first one created");
    let msgs = app.drain(&app.aws.payments_queue).await;
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains(&id.to_string()));
    assert_eq!(payments_in(&app.scan().await), 1);
}

#[tokio::test]
async fn fifty_concurrent_requests_with_one_key_make_one_payment_and_one_message() {
    let app = spawn_app().await;
    let body = card_request("1234123412341234", 4200);
    let answers = futures::future::join_all((0..50).map(|_| async {
        let resp = app.create(&body, Some("burst")).await;
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap())
    }))
    .await;
    let accepted: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 202).map(|(_, b)| b).collect();
    assert!(!accepted.is_empty());
    assert!(answers.iter().all(|(s, _)| *s == 202 || *s == 409), "only replays and in-flight conflicts");
    let ids: std::collections::HashSet<_> = accepted.iter().map(|b| b["paymentID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "every 202 names the same payment");
    assert_eq!(payments_in(&app.scan().await), 1);
    assert_eq!(app.drain(&app.aws.payments_queue).await.len(), 1);
}
