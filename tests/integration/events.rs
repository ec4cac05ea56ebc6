//! The event log with real processes on the emulator: the audit trail of a payment refunded
//! twice, each change recorded once under 50 identical requests and duplicate messages,
//! another merchant's events out of reach, and the feed paged through 250 events.
use std::collections::HashSet;
use std::time::Duration;

use payment_platform::domain::ids::{PaymentId, RefundId};
use payment_platform::domain::ports::Job;
use serde_json::{Value, json};

use crate::support::app::{TestApp, card_request, eventually};
use crate::support::metrics::sample;
use crate::support::system::{System, Worker, api_alone};

const SETTLE: Duration = Duration::from_secs(30);

fn types(trail: &[Value]) -> Vec<&str> {
    trail.iter().map(|e| e["Type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_payment_refunded_twice_has_every_change_in_order_and_only_for_its_merchant() {
    let sys = System::start("events-trail", &[("BANK_LATENCY_MS", "5")], &[]).await;
    let resp = sys.app.create(&card_request("4242424242424242", 1000), Some("trail-1")).await;
    assert_eq!(resp.status(), 202);
    let id = resp.json::<Value>().await.unwrap()["paymentID"].as_str().unwrap().to_owned();
    sys.settled(&id, SETTLE).await;
    for amount in [300, 700] {
        assert_eq!(sys.app.refund(&id, Some(json!({ "Amount": amount })), None).await.status(), 202);
        sys.settled(&id, SETTLE).await;
    }
    let payment = sys.app.get_json(&id).await;
    assert_eq!((payment["Status"].as_str(), payment["Refunded"].as_bool()), (Some("SUCCEEDED"), Some(true)));
    let trail = sys.app.checked_trail(&payment).await;
    assert_eq!(
        types(&trail),
        [
            "payment.created",
            "payment.processing",
            "payment.succeeded",
            "refund.created",
            "refund.processing",
            "refund.succeeded",
            "refund.created",
            "refund.processing",
            "refund.succeeded",
        ]
    );
    let actors: Vec<&str> = trail.iter().map(|e| e["Actor"].as_str().unwrap()).collect();
    assert_eq!(actors[..4], ["merchant:test@merchant", "payment-worker", "payment-worker", "merchant:test@merchant"]);
    assert_eq!(actors[5], "refund-worker");
    assert_eq!(trail.iter().map(|e| e["IdempotencyKey"].as_bool().unwrap()).filter(|k| *k).count(), 1);
    for e in &trail {
        let trace = e["TraceID"].as_str().expect("a trace id");
        assert!(trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()), "{trace}");
        let one = sys.app.get_path(&format!("/events/{}", e["EventID"].as_str().unwrap())).await;
        assert_eq!(one.status(), 200);
        assert_eq!(&one.json::<Value>().await.unwrap(), e, "GET /events/{{id}} answers the trail's event");
    }
    // The charge's events continue the trace the API started for the payment.
    assert_eq!(trail[1]["TraceID"], trail[0]["TraceID"]);

    // Another merchant sees none of it.
    let mut other = sys.app.clone_client();
    other.token = sys.app.token_for(Some("other@merchant")).await;
    let theirs = other.get_path(&format!("/payments/{id}/events")).await;
    assert_eq!(theirs.status(), 404);
    let event = other.get_path(&format!("/events/{}", trail[0]["EventID"].as_str().unwrap())).await;
    assert_eq!(event.status(), 404);
    assert_eq!(event.json::<Value>().await.unwrap()["Error"]["Code"], "event_not_found");
    assert!(other.all_events("/events", 100).await.is_empty(), "nothing in another merchant's feed");
    for (path, status) in [("/events/evt_nope", 400), ("/events?type=payment.refunded", 422), ("/events?limit=0", 422)]
    {
        assert_eq!(sys.app.get_path(path).await.status(), status, "{path}");
    }
    let succeeded = sys.app.all_events("/events?type=refund.succeeded", 1).await;
    assert_eq!(succeeded.len(), 2, "the feed filtered by type, a page of one at a time");
    assert!(succeeded[0]["Timestamp"].as_u64() >= succeeded[1]["Timestamp"].as_u64(), "newest first");
}

/// Sends `job` to `queue` as the API would, `times` times.
async fn send_twins(app: &TestApp, queue: &str, job: &Job, times: usize) {
    let url = app.queue_url(queue).await;
    for _ in 0..times {
        let body = payment_platform::sqs::message::encode(job);
        app.clients.sqs.send_message().queue_url(&url).message_body(body).send().await.expect("send");
    }
}

/// Waits until the worker has finished `n` more messages than `before` ("done").
async fn handled(sys: &mut System, kind: Worker, before: f64, n: usize) {
    let worker = &*sys.worker(kind);
    eventually(SETTLE, "the duplicate messages handled", || async {
        let done = sample(&worker.metrics().await, "worker_messages_total", &["outcome=\"done\""]);
        (done.unwrap_or(0.0) >= before + n as f64).then_some(())
    })
    .await;
}

#[tokio::test]
async fn fifty_identical_requests_and_duplicate_messages_record_each_change_once() {
    let mut sys = System::start("events-once", &[("BANK_LATENCY_MS", "5")], &[]).await;
    let body = card_request("4242424242424242", 2500);
    let asks = (0..50).map(|_| sys.app.create(&body, Some("fifty-1")));
    let answers = futures::future::join_all(asks).await;
    let mut ids = HashSet::new();
    for resp in answers {
        if resp.status() == 202 {
            ids.insert(resp.json::<Value>().await.unwrap()["paymentID"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(resp.status(), 409, "a twin still in flight is told so");
        }
    }
    assert_eq!(ids.len(), 1, "one payment for one key");
    let id = ids.into_iter().next().unwrap();
    sys.settled(&id, SETTLE).await;
    assert_eq!(sys.app.refund(&id, Some(json!({ "Amount": 500 })), Some("fifty-r")).await.status(), 202);
    let payment = sys.settled(&id, SETTLE).await;
    let trail = sys.app.checked_trail(&payment).await;
    assert_eq!(trail.len(), 6, "{:?}", types(&trail));

    // The same messages again, three times each: nothing changes, nothing is recorded.
    let pid = PaymentId::parse(&id).unwrap();
    let rid = RefundId::parse(payment["Refunds"][0]["RefundID"].as_str().unwrap()).unwrap();
    let metric = |text: &str| sample(text, "worker_messages_total", &["outcome=\"done\""]).unwrap_or(0.0);
    let charges_before = metric(&sys.worker(Worker::Payment).metrics().await);
    let refunds_before = metric(&sys.worker(Worker::Refund).metrics().await);
    let (payments_q, refunds_q) = (sys.app.aws.payments_queue.clone(), sys.app.aws.refunds_queue.clone());
    send_twins(&sys.app, &payments_q, &Job::Charge { payment_id: pid }, 3).await;
    send_twins(&sys.app, &refunds_q, &Job::Refund { payment_id: pid, refund_id: rid }, 3).await;
    handled(&mut sys, Worker::Payment, charges_before, 3).await;
    handled(&mut sys, Worker::Refund, refunds_before, 3).await;
    assert_eq!(sys.app.get_json(&id).await, payment, "the payment did not change");
    assert_eq!(sys.app.checked_trail(&payment).await, trail, "and nothing was recorded");
}

#[tokio::test]
async fn the_feed_pages_through_250_events_without_duplicates_or_gaps() {
    let (_api, aws) = api_alone("events-feed", &[("RATE_LIMIT_WRITES_PER_SEC", "10000")]).await;
    let app = TestApp::external(format!("http://127.0.0.1:{}", _api.port), aws).await;
    let mut created = HashSet::new();
    for batch in 0..25 {
        let bodies: Vec<Value> = (0..10).map(|i| card_request("4242424242424242", 100 + batch * 10 + i)).collect();
        let asks = bodies.iter().map(|b| app.create(b, None));
        for resp in futures::future::join_all(asks).await {
            assert_eq!(resp.status(), 202);
            let id = resp.json::<Value>().await.unwrap()["paymentID"].as_str().unwrap().replace('-', "");
            created.insert(format!("evt_{id}_1"));
        }
    }
    // The feed's index may lag the writes a moment on real DynamoDB: poll until all are there.
    let feed = eventually(SETTLE, "250 events in the feed", || async {
        let feed = app.all_events("/events", 17).await;
        (feed.len() >= 250).then_some(feed)
    })
    .await;
    let ids: Vec<String> = feed.iter().map(|e| e["EventID"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 250, "no event twice");
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), created, "every event, and only these");
    let at: Vec<u64> = feed.iter().map(|e| e["Timestamp"].as_u64().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(app.all_events("/events?type=payment.created", 100).await.len(), 250);
    assert!(app.all_events("/events?type=payment.succeeded", 100).await.is_empty());
    assert_eq!(app.get_path("/events?cursor=bm9wZQ").await.status(), 400);
}
