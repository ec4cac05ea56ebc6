//! Webhook chaos: a receiver that fails half of the requests and hangs on a tenth, and a
//! webhook-worker SIGKILLed twice while payments and refunds keep coming. Every subscribed event
//! still arrives at least once, signed (checked by the Standard Webhooks reference library), and
//! nothing of an unsubscribed type arrives; `Version` restores each payment's order. `make chaos`
//! runs 200 payments and 50 refunds (CHAOS_PAYMENTS, CHAOS_REFUNDS); `make test` a smaller count.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::app::{card_request, eventually};
use crate::support::receiver::{Behaviour, Receiver, Request, verify_with_reference};
use crate::support::system::{System, Worker, count};

const CARDS: [&str; 3] = ["4242424242424242", "5555555555554444", "4000000000000002"];
const SUBSCRIBED: [&str; 6] =
    ["payment.created", "payment.succeeded", "payment.declined", "payment.failed", "refund.succeeded", "refund.failed"];

#[tokio::test]
async fn chaos_webhooks_every_subscribed_event_arrives_signed() {
    let payments = count("CHAOS_PAYMENTS", 40);
    let refunds = count("CHAOS_REFUNDS", 10);
    let mut sys = System::start("webhooks-chaos", &[], &[("WORKER_WAIT_SECS", "1"), ("RUST_LOG", "warn")]).await;
    // With half the requests failing, a delivery needs many attempts to be all but certain
    // (0.6^31 of failing them all): the schedule is long here, and short, so it runs in seconds.
    let schedule =
        ["100ms", "200ms", "400ms", "800ms"].iter().chain(&["1s"; 27]).copied().collect::<Vec<_>>().join(",");
    let worker_env = [
        ("WEBHOOK_RETRY_SCHEDULE", schedule.as_str()),
        ("WEBHOOK_TIMEOUT_MS", "1000"),
        ("WEBHOOK_ENDPOINT_CONCURRENCY", "16"),
        ("REPAIR_INTERVAL_SECS", "1"),
        ("REPAIR_AFTER_SECS", "3"),
    ];
    sys.with_webhooks(&worker_env).await;
    let receiver = Receiver::start(Behaviour::Flaky { fail: 0.5, hang: 0.1, hang_for: Duration::from_secs(3) }).await;
    let endpoint = sys.app.endpoint(&receiver.url, &SUBSCRIBED).await;
    let secret = endpoint["Secret"].as_str().unwrap().to_owned();

    let mut ids = Vec::with_capacity(payments);
    let kill_at = [payments / 3, 2 * payments / 3];
    for i in 0..payments {
        ids.push(sys.app.create_ok(&card_request(CARDS[i % CARDS.len()], 1000 + i as u64)).await);
        if kill_at.contains(&i) {
            sys.worker(Worker::Webhook).signal("KILL");
            sys.worker(Worker::Webhook).exited(Duration::from_secs(10)).await;
            sys.restart(Worker::Webhook).await;
        }
        if i < refunds * 2 && i % 2 == 0 {
            let resp = sys.app.refund(&ids[i], Some(json!({"Amount": 300})), None).await;
            assert!(resp.status() == 202 || resp.status() == 409, "{}", resp.status());
        }
    }
    let finals = sys.all_settled(&ids, Duration::from_secs(240)).await;

    // What must arrive: every event of a subscribed type, from the audit trails.
    let mut expected: HashMap<String, Value> = HashMap::new();
    let mut unsubscribed = HashSet::new();
    for p in &finals {
        for e in sys.app.checked_trail(p).await {
            let id = e["EventID"].as_str().unwrap().to_owned();
            if SUBSCRIBED.contains(&e["Type"].as_str().unwrap()) {
                expected.insert(id, e);
            } else {
                unsubscribed.insert(id);
            }
        }
    }
    let delivered = eventually(Duration::from_secs(240), "every subscribed event delivered", || async {
        let got = receiver.delivered();
        let ids: HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
        expected.keys().all(|id| ids.contains(id.as_str())).then_some(got)
    })
    .await;

    let requests = receiver.requests();
    assert!(requests.iter().all(|r| !unsubscribed.contains(&r.id)), "an event of an unsubscribed type was sent");
    assert!(requests.iter().all(|r| expected.contains_key(&r.id)), "something was sent that is no event of ours");
    let mut by_payment: HashMap<String, BTreeMap<u64, &Request>> = HashMap::new();
    for r in &delivered {
        let (body, event) = (r.json(), &expected[&r.id]);
        assert_eq!(body["type"], event["Type"], "{}", r.id);
        assert_eq!(body["data"], event["Data"], "{}", r.id);
        let version = body["data"]["Version"].as_u64().unwrap();
        assert_eq!(version, event["Version"].as_u64().unwrap());
        by_payment.entry(body["data"]["PaymentID"].as_str().unwrap().to_owned()).or_default().insert(version, r);
    }
    // `Version` restores each payment's order, whatever order the deliveries came in.
    for p in &finals {
        let id = p["PaymentID"].as_str().unwrap();
        let restored: Vec<&str> = by_payment[id].values().map(|r| r.id.as_str()).collect();
        let mut trail: Vec<&Value> = expected.values().filter(|e| e["PaymentID"] == id).collect();
        trail.sort_by_key(|e| e["Version"].as_u64());
        assert_eq!(restored, trail.iter().map(|e| e["EventID"].as_str().unwrap()).collect::<Vec<_>>());
    }
    let signed: Vec<(&Request, &str)> = delivered.iter().map(|r| (r, secret.as_str())).collect();
    let verified = verify_with_reference(&signed, &[]);
    let hung = requests.iter().filter(|r| r.answered.is_none()).count();
    let failed = requests.iter().filter(|r| r.answered == Some(500)).count();
    println!(
        "webhooks: payments={} events={} requests={} delivered={} duplicates={} failed={failed} hung={hung} verified={verified}",
        finals.len(),
        expected.len(),
        requests.len(),
        delivered.len(),
        delivered.len() - expected.len(),
    );
    assert!(failed > 0 && hung > 0, "the receiver misbehaved as asked");
}
