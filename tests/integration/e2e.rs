//! End to end, with every component a real process: API, payment-worker, refund-worker, bank simulator.
use std::collections::HashMap;
use std::time::Duration;

use payment_platform::domain::card::{CardDetails, Expiry};
use payment_platform::domain::change::Change;
use payment_platform::domain::events::{Actor, Cause};
use payment_platform::domain::ids::{MerchantId, PaymentId};
use payment_platform::domain::money::{Amount, Currency};
use payment_platform::domain::payment::NewPayment;
use payment_platform::domain::ports::{CardVault, Payments};
use payment_platform::dynamo::DynamoStore;
use payment_platform::vault::AeadVault;
use serde_json::{Value, json};

use crate::support::app::{CARD_KEY, card_request, eventually};
use crate::support::system::{System, Worker};

const SETTLE: Duration = Duration::from_secs(60);

fn fast_repair() -> Vec<(&'static str, &'static str)> {
    vec![("REPAIR_AFTER_SECS", "2"), ("REPAIR_INTERVAL_SECS", "1"), ("WORKER_WAIT_SECS", "1")]
}

/// Approved charges per payment id, from the bank's own ledger.
async fn charges(sys: &System) -> HashMap<String, u64> {
    let ledger = sys.bank.ledger().await;
    serde_json::from_value(ledger["ChargesByReference"].clone()).unwrap_or_default()
}

#[tokio::test]
async fn every_test_card_settles_as_the_bank_says_and_refunds_follow() {
    let sys = System::start("e2e-cards", &[], &fast_repair()).await;
    let cards = [
        ("1234123412341234", "SUCCEEDED", None),
        ("4242424242424242", "SUCCEEDED", None),
        ("4000000000000002", "DECLINED", Some("card_declined")),
        ("4000000000009995", "DECLINED", Some("insufficient_funds")),
        ("4000000000000069", "DECLINED", Some("expired_card")),
    ];
    let mut ids = Vec::new();
    for (card, _, _) in cards {
        ids.push(sys.app.create_ok(&card_request(card, 2500)).await);
    }
    for (id, (card, status, reason)) in ids.iter().zip(cards) {
        let p = sys.settled(id, SETTLE).await;
        assert_eq!(p["Status"], status, "{card}");
        assert_eq!(p["Reason"].as_str(), reason, "{card}");
        assert_eq!(p["CardLast4"], &card[12..]);
        let refundable = if status == "SUCCEEDED" { 2500 } else { 0 };
        assert_eq!(p["RefundableAmount"], refundable, "nothing to refund on a {status} payment");
    }
    let charged = charges(&sys).await;
    for (id, (card, status, _)) in ids.iter().zip(cards) {
        let expected = u64::from(status == "SUCCEEDED");
        assert_eq!(charged.get(id).copied().unwrap_or(0), expected, "bank charges for {card}");
    }
    // Partial then full refund of a succeeded payment.
    let paid = &ids[0];
    assert_eq!(sys.app.refund(paid, Some(json!({"Amount": 1000})), None).await.status(), 202);
    let p = sys.settled(paid, SETTLE).await;
    assert_eq!((p["RefundedAmount"].as_u64(), p["Refunded"].as_bool()), (Some(1000), Some(false)));
    assert_eq!(sys.app.refund(paid, None, None).await.status(), 202);
    let p = sys.settled(paid, SETTLE).await;
    assert_eq!((p["RefundedAmount"].as_u64(), p["Refunded"].as_bool()), (Some(2500), Some(true)));
    assert!(p["RefundTimestamp"].as_u64().unwrap() >= p["Timestamp"].as_u64().unwrap());
    let refunds = p["Refunds"].as_array().unwrap();
    assert!(refunds.iter().all(|r| r["Status"] == "SUCCEEDED"), "{refunds:?}");
    let ledger = sys.bank.ledger().await;
    assert_eq!(ledger["RefundedAmount"], 2500);
    // A declined payment cannot be refunded once final.
    let resp = sys.app.refund(&ids[2], None, None).await;
    assert_eq!(resp.status(), 409);
    // Card data is erased from every final record.
    let items = sys.app.scan().await;
    assert!(items.iter().all(|i| !i.contains_key("CardSealed")), "sealed card left on a final payment");
}

#[tokio::test]
async fn a_refund_asked_while_the_payment_is_in_flight_waits_for_it() {
    let sys = System::start("e2e-inflight", &[("BANK_LATENCY_MS", "1500")], &fast_repair()).await;
    let ok = sys.app.create_ok(&card_request("1234123412341234", 900)).await;
    let declined = sys.app.create_ok(&card_request("4000000000000002", 900)).await;
    assert_eq!(sys.app.refund(&ok, Some(json!({"Amount": 400})), None).await.status(), 202);
    assert_eq!(sys.app.refund(&declined, None, None).await.status(), 202);
    let p = sys.settled(&ok, SETTLE).await;
    assert_eq!(p["Status"], "SUCCEEDED");
    assert_eq!(p["Refunds"][0]["Status"], "SUCCEEDED");
    assert_eq!(p["RefundedAmount"], 400);
    let d = sys.settled(&declined, SETTLE).await;
    assert_eq!(d["Status"], "DECLINED");
    assert_eq!(d["Refunds"][0]["Status"], "FAILED");
    assert_eq!(d["Refunds"][0]["Reason"], "payment_declined");
    assert_eq!(d["RefundedAmount"], 0);
}

#[tokio::test]
async fn the_repair_path_completes_a_payment_whose_message_was_never_sent() {
    let sys = System::start("e2e-repair", &[], &fast_repair()).await;
    // Write a PENDING payment exactly as the API does, but send no message.
    let store = DynamoStore::new(sys.app.clients.dynamodb.clone(), sys.app.aws.table.clone());
    let vault = AeadVault::new(CARD_KEY, &[]).unwrap();
    let id = PaymentId::new();
    let card = CardDetails::new("1234123412341234".into(), "123".into(), Expiry::parse("12/39", (2026, 1)).unwrap());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let new = NewPayment {
        id,
        merchant_id: MerchantId::parse("test@merchant").unwrap(),
        customer_id: "lost-send".into(),
        customer_name: None,
        amount: Amount::parse(321).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        card_last4: card.last4(),
        sealed_card: vault.seal(&card, id).unwrap(),
        created_at_ms: now,
        tags: Default::default(),
        capture_method: Default::default(),
    };
    let cause = Cause::new(Actor::Merchant(new.merchant_id.clone()), None);
    store.commit(&Change::payment_created(&new, cause), None).await.unwrap();
    let p = sys.settled(&id.to_string(), SETTLE).await;
    assert_eq!(p["Status"], "SUCCEEDED");
    assert_eq!(charges(&sys).await.get(&id.to_string()), Some(&1));
}

#[tokio::test]
async fn poison_messages_go_to_the_dlq_without_blocking_others() {
    let sys = System::start("e2e-poison", &[], &fast_repair()).await;
    let url = sys.app.queue_url(&sys.app.aws.payments_queue).await;
    for body in ["not json", r#"{"Kind":"charge","PaymentID":"7b0c1f8e-1d3c-4a0e-9c38-3a8b4b1f2f10"}"#] {
        sys.app.clients.sqs.send_message().queue_url(&url).message_body(body).send().await.unwrap();
    }
    let id = sys.app.create_ok(&card_request("1234123412341234", 100)).await;
    assert_eq!(sys.settled(&id, SETTLE).await["Status"], "SUCCEEDED");
    let dlq = format!("{}-dlq", sys.app.aws.payments_queue);
    let parked = eventually(SETTLE, "two poison messages in the DLQ", || async {
        let n = sys.queue_depth(&dlq).await;
        (n >= 2).then_some(n)
    })
    .await;
    assert_eq!(parked, 2);
}

#[tokio::test]
async fn sigterm_during_a_batch_loses_nothing_and_charges_nothing_twice() {
    let mut sys = System::start(
        "e2e-sigterm",
        &[("BANK_LATENCY_MS", "800")],
        &[("REPAIR_AFTER_SECS", "30"), ("WORKER_WAIT_SECS", "1"), ("SHUTDOWN_GRACE_SECS", "20")],
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(sys.app.create_ok(&card_request("1234123412341234", 100 + i)).await);
    }
    // Wait until the worker is mid-batch: some payment PROCESSING.
    eventually(SETTLE, "a payment in PROCESSING", || async {
        for id in &ids {
            if sys.app.get_json(id).await["Status"] == "PROCESSING" {
                return Some(());
            }
        }
        None
    })
    .await;
    sys.worker(Worker::Payment).signal("TERM");
    let status = sys.worker(Worker::Payment).exited(Duration::from_secs(30)).await;
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    sys.restart(Worker::Payment).await;
    for id in &ids {
        assert_eq!(sys.settled(id, SETTLE).await["Status"], "SUCCEEDED", "{id}");
    }
    let charged = charges(&sys).await;
    for id in &ids {
        assert_eq!(charged.get(id), Some(&1), "{id} charged exactly once");
    }
    let ledger: Value = sys.bank.ledger().await;
    assert_eq!(ledger["Charged"], 20);
}
