//! The bank simulator's behaviour (`bin/bank-simulator`), and the HTTP bank client against it.
use std::time::Duration;

use payment_platform::bank_client::{BankClientConfig, HttpBank, RetryingBank};
use payment_platform::domain::bank::{Bank, BankError, ChargeOutcome, ChargeRequest};
use payment_platform::domain::card::{CardDetails, Expiry};
use payment_platform::domain::ids::PaymentId;
use payment_platform::domain::money::{Amount, Currency};
use serde_json::{Value, json};

use crate::support::app::eventually;
use crate::support::bank::BankSim;

const APPROVED_CARD: &str = "1234123412341234";

fn charge_body(reference: &str, card: &str, amount: u64) -> Value {
    json!({
        "Reference": reference, "Amount": amount, "Currency": "EUR",
        "CardNumber": card, "CardCVV": "123", "CardExpiryDate": "12/30",
    })
}

/// POSTs `body` to `path` with an optional key; returns the status and the JSON answer.
async fn post(sim: &BankSim, path: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{}{path}", sim.url)).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("request to the simulator");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

fn entry<'a>(ledger: &'a Value, key: &str) -> &'a Value {
    let entries = ledger["Entries"].as_array().expect("Entries");
    entries.iter().find(|e| e["IdempotencyKey"] == key).expect("an entry for the key")
}

fn charge_request(card: &str) -> ChargeRequest {
    ChargeRequest {
        payment_id: PaymentId::new(),
        amount: Amount::parse(2500).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        card: CardDetails::new(card.into(), "123".into(), Expiry::parse("12/30", (2026, 1)).unwrap()),
    }
}

fn client_config(sim: &BankSim, attempt_timeout_ms: u64, max_attempts: usize) -> BankClientConfig {
    BankClientConfig {
        url: sim.url.clone(),
        attempt_timeout: Duration::from_millis(attempt_timeout_ms),
        retry_min_delay: Duration::from_millis(10),
        retry_max_delay: Duration::from_millis(50),
        max_attempts,
        allow_loopback_http: true,
    }
}

#[tokio::test]
async fn outcomes_follow_the_test_cards() {
    let sim = BankSim::start("outcomes", &[]).await;
    let cases = [
        ("4000000000000002", "declined", Some("card_declined")),
        ("4000000000009995", "declined", Some("insufficient_funds")),
        ("4000000000000069", "declined", Some("expired_card")),
        (APPROVED_CARD, "approved", None),
        ("4111111111111111", "approved", None),
    ];
    for (i, (card, status, code)) in cases.into_iter().enumerate() {
        let key = format!("charge-{i}");
        let (http, body) = post(&sim, "/charges", Some(&key), &charge_body("p", card, 100)).await;
        assert_eq!(http, 200, "{card}");
        assert_eq!(body["Status"], status, "{card}");
        assert_eq!(body["DeclineCode"].as_str(), code, "{card}");
        assert!(body["ChargeID"].as_str().is_some_and(|id| !id.is_empty()));
    }
    assert_eq!(sim.ledger().await["Charged"], 2);
}

#[tokio::test]
async fn a_missing_key_is_400_and_a_malformed_body_422() {
    let sim = BankSim::start("bad-requests", &[]).await;
    let (status, body) = post(&sim, "/charges", None, &charge_body("p", APPROVED_CARD, 1)).await;
    assert_eq!((status, body["Error"]["Code"].as_str()), (400, Some("idempotency_key_missing")));
    let (status, body) = post(&sim, "/refunds", None, &json!({})).await;
    assert_eq!((status, body["Error"]["Code"].as_str()), (400, Some("idempotency_key_missing")));
    let bad_card = charge_body("p", "1234", 1);
    let (status, body) = post(&sim, "/charges", Some("k"), &bad_card).await;
    assert_eq!((status, body["Error"]["Code"].as_str()), (422, Some("invalid_request")));
    assert!(!body.to_string().contains("1234\""), "the card is not echoed: {body}");
    assert_eq!(sim.ledger().await["Entries"], json!([]));
}

#[tokio::test]
async fn a_replay_returns_the_first_answer_and_moves_no_money() {
    let sim = BankSim::start("replay", &[]).await;
    let body = charge_body("pay-1", APPROVED_CARD, 1234);
    let first = post(&sim, "/charges", Some("charge-pay-1"), &body).await;
    let second = post(&sim, "/charges", Some("charge-pay-1"), &body).await;
    assert_eq!(first.0, 200);
    assert_eq!(first, second);

    let ledger = sim.ledger().await;
    assert_eq!(entry(&ledger, "charge-pay-1")["Requests"], 2);
    assert_eq!(ledger["Charged"], 1);
    assert_eq!(ledger["ChargedAmount"], 1234);
    assert_eq!(ledger["ChargesByReference"]["pay-1"], 1);
    let one: Value = reqwest::get(format!("{}/ledger/charge-pay-1", sim.url)).await.unwrap().json().await.unwrap();
    assert_eq!(one["ChargeID"], first.1["ChargeID"]);
    let unknown = reqwest::get(format!("{}/ledger/nope", sim.url)).await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let sim = BankSim::start("key-reused", &[]).await;
    let (status, _) = post(&sim, "/charges", Some("k"), &charge_body("p", APPROVED_CARD, 100)).await;
    assert_eq!(status, 200);
    let (status, body) = post(&sim, "/charges", Some("k"), &charge_body("p", APPROVED_CARD, 101)).await;
    assert_eq!((status, body["Error"]["Code"].as_str()), (422, Some("idempotency_key_reused")));
    assert_eq!(sim.ledger().await["Charged"], 1);
}

#[tokio::test]
async fn the_same_key_while_in_flight_is_409() {
    let sim = BankSim::start("in-flight", &[("BANK_LATENCY_MS", "700")]).await;
    let body = charge_body("p", APPROVED_CARD, 100);
    let (a, b) = tokio::join!(post(&sim, "/charges", Some("k"), &body), post(&sim, "/charges", Some("k"), &body));
    let (ok, conflict) = if a.0 == 200 { (a, b) } else { (b, a) };
    assert_eq!(ok.1["Status"], "approved");
    assert_eq!(conflict.0, 409);
    assert_eq!(conflict.1["Error"]["Code"], "idempotency_key_in_flight");
    // Once answered, the key replays.
    assert_eq!(post(&sim, "/charges", Some("k"), &body).await, ok);
    assert_eq!(sim.ledger().await["Charged"], 1);
}

#[tokio::test]
async fn refunds_never_exceed_the_charged_amount() {
    let sim = BankSim::start("refunds", &[]).await;
    let (_, charge) = post(&sim, "/charges", Some("c"), &charge_body("p", APPROVED_CARD, 1000)).await;
    let refund = |reference: &str, amount: u64| {
        json!({ "Reference": reference, "ChargeID": charge["ChargeID"], "Amount": amount,
                "Currency": "EUR" })
    };
    let (_, body) = post(&sim, "/refunds", Some("r1"), &refund("f1", 600)).await;
    assert_eq!(body["Status"], "succeeded");
    let (_, body) = post(&sim, "/refunds", Some("r2"), &refund("f2", 401)).await;
    assert_eq!((body["Status"].as_str(), body["Reason"].as_str()), (Some("rejected"), Some("exceeds_charged_amount")));
    let (_, body) = post(&sim, "/refunds", Some("r3"), &refund("f3", 400)).await;
    assert_eq!(body["Status"], "succeeded");
    let unknown = json!({ "Reference": "f4", "ChargeID": "nope", "Amount": 1, "Currency": "EUR" });
    let (_, body) = post(&sim, "/refunds", Some("r4"), &unknown).await;
    assert_eq!(body["Reason"], "unknown_charge");
    assert_eq!(sim.ledger().await["RefundedAmount"], 1000);
}

#[tokio::test]
async fn a_hung_request_is_applied_late_found_by_inquiry_and_its_key_forgotten_after_the_ttl() {
    let env = [("BANK_HANG_RATE", "1.0"), ("BANK_HANG_MS", "1500"), ("BANK_KEY_TTL_SECS", "1")];
    let sim = BankSim::start("hang", &env).await;
    let req = charge_request(APPROVED_CARD);
    let bank = HttpBank::new(&client_config(&sim, 200, 1)).unwrap();
    assert_eq!(bank.charge(&req).await, Err(BankError::Transient("timeout".into())));
    // The ambiguous case: the client saw nothing; the bank applies it late, and says so when asked
    // (inquiries hang like any request, so the hangs stop first; the hung charge goes on).
    sim.set_faults(json!({ "HangRate": 0.0 })).await;
    let found = eventually(Duration::from_secs(10), "the late charge", || async {
        bank.charges_for(req.payment_id).await.ok().filter(|f| !f.is_empty())
    })
    .await;
    let ledger = sim.ledger().await;
    let charge_id = ledger["Entries"][0]["ChargeID"].as_str().unwrap().to_owned();
    assert_eq!(found, [ChargeOutcome::Approved { bank_charge_id: charge_id }]);
    let other = charge_request(APPROVED_CARD);
    assert_eq!(bank.charges_for(other.payment_id).await, Ok(vec![]), "nothing under another reference");

    // Once the key's TTL has passed, the same request is a new charge: the books keep both, and
    // the inquiry shows both. This is what a blind re-send after an outage does.
    let reference = req.payment_id.to_string();
    eventually(Duration::from_secs(10), "the key to be forgotten", || async {
        bank.charge(&req).await.ok()?;
        (sim.ledger().await["ChargesByReference"][&reference] == 2).then_some(())
    })
    .await;
    assert_eq!(bank.charges_for(req.payment_id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_fail_rate_of_one_is_transient_and_applies_nothing() {
    let sim = BankSim::start("fail-rate", &[("BANK_FAIL_RATE", "1.0")]).await;
    let req = charge_request(APPROVED_CARD);
    let bank = HttpBank::new(&client_config(&sim, 2000, 1)).unwrap();
    let expected = BankError::Transient("http 503 bank_unavailable".into());
    assert_eq!(bank.charge(&req).await, Err(expected.clone()));
    let retrying = RetryingBank::new(bank.clone(), &client_config(&sim, 2000, 3));
    assert_eq!(retrying.charge(&req).await, Err(expected));
    assert_eq!(sim.ledger().await["Entries"], json!([]));

    sim.set_faults(json!({ "FailRate": 0.0 })).await;
    assert!(matches!(bank.charge(&req).await, Ok(ChargeOutcome::Approved { .. })));
}

#[tokio::test]
async fn card_numbers_and_cvvs_never_reach_the_ledger_or_the_log() {
    let sim = BankSim::start("no-card-data", &[("RUST_LOG", "debug")]).await;
    let cards = ["4000000000000002", "4000000000009995", "4000000000000069", APPROVED_CARD];
    let bank = HttpBank::new(&client_config(&sim, 2000, 1)).unwrap();
    for card in cards {
        bank.charge(&charge_request(card)).await.expect("an outcome");
    }
    let ledger = sim.ledger().await.to_string();
    let log = std::fs::read_to_string(&sim.log_path).unwrap();
    for card in cards {
        assert!(!ledger.contains(card), "ledger shows {card}");
        assert!(!log.contains(card), "log shows {card}");
    }
    assert!(!ledger.to_lowercase().contains("cvv"), "{ledger}");
}
