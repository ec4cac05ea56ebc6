//! Webhooks with real processes: endpoints over HTTP, deliveries by the `webhook-worker` to a
//! real receiver, signatures checked by the Standard Webhooks reference library, 410, rotation,
//! redelivery, and the refusal of private URLs in production mode.
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::app::{TestApp, card_request, eventually};
use crate::support::receiver::{Behaviour, Receiver, Request, verify_with_reference};
use crate::support::system::{Proc, System, api_alone};

/// A short schedule and timeout, so retries are tested without waiting for the contract's.
pub const FAST: &[(&str, &str)] = &[
    ("WEBHOOK_RETRY_SCHEDULE", "100ms,200ms,400ms,800ms,1s,1s,1s"),
    ("WEBHOOK_TIMEOUT_MS", "1000"),
    ("REPAIR_INTERVAL_SECS", "1"),
    ("REPAIR_AFTER_SECS", "3"),
    ("WORKER_WAIT_SECS", "1"),
];

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.authed(self.http.post(format!("{}{path}", self.url))).json(body).send().await.unwrap()
    }

    /// Registers `url` for `types` (all when empty); the endpoint as created, with its secret.
    pub async fn endpoint(&self, url: &str, types: &[&str]) -> Value {
        let resp = self.post_json("/webhook-endpoints", &json!({"Url": url, "EventTypes": types})).await;
        assert_eq!(resp.status(), 201);
        resp.json().await.unwrap()
    }

    /// The attempts recorded for `event_id`, oldest first.
    pub async fn attempts(&self, event_id: &str) -> Vec<Value> {
        let body: Value = self.get_path(&format!("/events/{event_id}/attempts")).await.json().await.unwrap();
        body["Attempts"].as_array().unwrap().clone()
    }
}

/// The deliveries of `event_id` the receiver took (2xx).
fn of(requests: &[Request], event_id: &str) -> Vec<Request> {
    requests.iter().filter(|r| r.id == event_id && r.delivered()).cloned().collect()
}

#[tokio::test]
async fn subscribed_events_are_delivered_signed_and_can_be_redelivered() {
    let mut sys = System::start("webhooks", &[], &[]).await;
    sys.with_webhooks(FAST).await;
    let receiver = Receiver::start(Behaviour::Ok).await;
    let created = sys.app.endpoint(&receiver.url, &["payment.succeeded", "refund.succeeded"]).await;
    let (endpoint_id, secret) = (created["WebhookEndpointID"].as_str().unwrap(), created["Secret"].as_str().unwrap());
    assert_eq!((created["Status"].as_str(), created["Url"].as_str()), (Some("enabled"), Some(receiver.url.as_str())));

    let id = sys.app.create_ok(&card_request("4242424242424242", 2500)).await;
    sys.settled(&id, Duration::from_secs(30)).await;
    assert_eq!(sys.app.refund(&id, Some(json!({"Amount": 1000})), None).await.status(), 202);
    let payment = sys.settled(&id, Duration::from_secs(30)).await;
    let trail = sys.app.checked_trail(&payment).await;
    let wanted: Vec<&Value> =
        trail.iter().filter(|e| matches!(e["Type"].as_str(), Some("payment.succeeded" | "refund.succeeded"))).collect();
    assert_eq!(wanted.len(), 2);

    let got = eventually(Duration::from_secs(30), "both subscribed events delivered", || async {
        let got = receiver.delivered();
        (got.len() >= 2).then_some(got)
    })
    .await;
    let ids: Vec<&str> = wanted.iter().map(|e| e["EventID"].as_str().unwrap()).collect();
    for (event, r) in wanted.iter().zip(ids.iter().map(|id| of(&got, id))) {
        assert_eq!(r.len(), 1, "{} delivered once", event["EventID"]);
        let body = r[0].json();
        assert_eq!(body["type"], event["Type"]);
        assert_eq!(body["data"], event["Data"], "the payment after the change, as the audit trail shows it");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'), "RFC 3339: {}", body["timestamp"]);
        assert_eq!(r[0].content_type, "application/json");
        assert!(!r[0].body.contains("4242424242424242"), "no card number in a webhook");
    }
    let deliveries: Vec<(&Request, &str)> = got.iter().map(|r| (r, secret)).collect();
    let forged = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert_eq!(verify_with_reference(&deliveries, &[(&got[0], forged)]), 3);
    // Nothing is left to send: each delivery is saved as made once (the save follows its POST by
    // milliseconds, and a saved delivery is never attempted again unasked), and the other types
    // planned none. A state to check, not a time to wait out.
    for id in &ids {
        eventually(Duration::from_secs(10), "the delivery saved", || async {
            (sys.app.attempts(id).await.len() == 1).then_some(())
        })
        .await;
    }
    for other in trail.iter().filter(|e| !wanted.contains(e)) {
        assert_eq!(
            sys.app.attempts(other["EventID"].as_str().unwrap()).await,
            Vec::<Value>::new(),
            "{}",
            other["Type"]
        );
    }
    assert_eq!(receiver.requests().len(), 2, "nothing of the unsubscribed types, nothing twice");
    // The workers' log lines name a status as it is, never as a debug `Some(..)`. (A log file
    // outlives a run: only this run's payment and events count.)
    let logged = |proc: &Proc, message: &str, of: &str| {
        let text = std::fs::read_to_string(&proc.log).unwrap();
        text.lines().filter(|l| l.contains(message) && l.contains(of)).map(str::to_owned).collect::<Vec<_>>()
    };
    for event in &ids {
        let lines = logged(sys.webhook_worker.as_ref().unwrap(), "webhook attempt", &format!("event_id={event} "));
        assert!(lines.len() == 1 && lines[0].contains(" status=200 ") && !lines[0].contains("Some("), "{lines:?}");
    }
    let lines = logged(&sys.refund_worker, "refund settled", &format!("payment_id={id}"));
    assert!(lines.len() == 1 && lines[0].ends_with(" status=SUCCEEDED") && !lines[0].contains("Some("), "{lines:?}");

    // The attempts, and a redelivery with the same webhook-id.
    let attempts = sys.app.attempts(ids[0]).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (
            attempts[0]["WebhookEndpointID"].as_str(),
            attempts[0]["StatusCode"].as_u64(),
            attempts[0]["Attempt"].as_u64()
        ),
        (Some(endpoint_id), Some(200), Some(1))
    );
    let resp = sys.app.post_json(&format!("/events/{}/redeliver", ids[0]), &json!({})).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.json::<Value>().await.unwrap()["Endpoints"], 1);
    eventually(Duration::from_secs(20), "the redelivery", || async {
        (of(&receiver.delivered(), ids[0]).len() == 2).then_some(())
    })
    .await;

    // The endpoint as listed: no secret, and out of another merchant's reach.
    let listed: Value = sys.app.get_path("/webhook-endpoints").await.json().await.unwrap();
    assert_eq!(listed["WebhookEndpoints"].as_array().unwrap().len(), 1);
    assert!(listed.to_string().find("whsec_").is_none(), "a secret is shown only once");
    let other = sys.app.token_for(Some("other@merchant")).await;
    let foreign = |path: String| sys.app.http.get(format!("{}{path}", sys.app.url)).bearer_auth(&other).send();
    assert_eq!(foreign(format!("/webhook-endpoints/{endpoint_id}")).await.unwrap().status(), 404);
    assert_eq!(foreign(format!("/events/{}/attempts", ids[0])).await.unwrap().status(), 404);
    let resp = sys
        .app
        .authed(sys.app.http.delete(format!("{}/webhook-endpoints/{endpoint_id}", sys.app.url)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(sys.app.get_path(&format!("/webhook-endpoints/{endpoint_id}")).await.status(), 404);
}

/// An endpoint gets the events of its first seconds too. The payment-worker read the merchant's
/// endpoints (none) while settling the first payment, and trusts that for a few seconds: it
/// records the second payment's success, just after the endpoint's creation, without announcing
/// it. The catch-up the API sent when it created the endpoint (30 s later) delivers it, once.
#[tokio::test]
async fn a_new_endpoint_gets_the_events_of_its_first_seconds() {
    let mut sys = System::start("webhooks-first", &[], &[]).await;
    sys.with_webhooks(FAST).await;
    let first = sys.app.create_ok(&card_request("4242424242424242", 100)).await;
    sys.settled(&first, Duration::from_secs(30)).await;
    let receiver = Receiver::start(Behaviour::Ok).await;
    sys.app.endpoint(&receiver.url, &["payment.succeeded"]).await;
    let id = sys.app.create_ok(&card_request("4242424242424242", 200)).await;
    let payment = sys.settled(&id, Duration::from_secs(30)).await;
    let trail = sys.app.checked_trail(&payment).await;
    let event = trail.iter().find(|e| e["Type"] == "payment.succeeded").expect("its success")["EventID"].clone();
    let event = event.as_str().unwrap();
    let got = eventually(Duration::from_secs(90), "the success of the endpoint's first seconds", || async {
        let got = of(&receiver.delivered(), event);
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(got[0].json()["data"]["PaymentID"], id.as_str());
    let attempts = sys.app.attempts(event).await;
    assert_eq!(attempts.len(), 1, "delivered once: {attempts:?}");
}

#[tokio::test]
async fn gone_disables_an_endpoint_and_a_rotation_signs_with_both_secrets() {
    let mut sys = System::start("webhooks-gone", &[], &[]).await;
    sys.with_webhooks(FAST).await;
    let (gone, rotated) = (Receiver::start(Behaviour::Status(410)).await, Receiver::start(Behaviour::Ok).await);
    let gone_endpoint = sys.app.endpoint(&gone.url, &["payment.created"]).await;
    let endpoint = sys.app.endpoint(&rotated.url, &["payment.created"]).await;
    let id = endpoint["WebhookEndpointID"].as_str().unwrap();
    let resp = sys.app.post_json(&format!("/webhook-endpoints/{id}/rotate-secret"), &json!({})).await;
    assert_eq!(resp.status(), 200);
    let new_secret = resp.json::<Value>().await.unwrap()["Secret"].as_str().unwrap().to_owned();
    let old_secret = endpoint["Secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);

    sys.app.create_ok(&card_request("4242424242424242", 100)).await;
    let got = eventually(Duration::from_secs(20), "a delivery to the rotated endpoint", || async {
        rotated.delivered().into_iter().next()
    })
    .await;
    assert_eq!(got.signature.split(' ').count(), 2, "two signatures: {}", got.signature);
    assert_eq!(verify_with_reference(&[(&got, &new_secret), (&got, old_secret)], &[]), 2);

    let gone_id = gone_endpoint["WebhookEndpointID"].as_str().unwrap();
    let disabled = eventually(Duration::from_secs(20), "the 410 endpoint disabled", || async {
        let e: Value = sys.app.get_path(&format!("/webhook-endpoints/{gone_id}")).await.json().await.ok()?;
        (e["Status"] == "disabled").then_some(e)
    })
    .await;
    assert_eq!(disabled["DisabledReason"], "gone");
    assert_eq!(gone.requests().len(), 1, "410 is not retried");
    sys.app.create_ok(&card_request("4242424242424242", 100)).await;
    eventually(Duration::from_secs(20), "the next event at the other endpoint", || async {
        (rotated.delivered().len() == 2).then_some(())
    })
    .await;
    assert_eq!(gone.requests().len(), 1, "nothing more to a disabled endpoint");
}

#[tokio::test]
async fn production_mode_accepts_only_https_to_public_hosts() {
    let (api, aws) = api_alone("webhooks-prod", &[("WEBHOOK_ALLOW_PRIVATE_URLS", "false")]).await;
    let app = TestApp::external(format!("http://127.0.0.1:{}", api.port), aws).await;
    for url in [
        "http://127.0.0.1:8080/hooks",
        "https://127.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/",
        "https://[::1]/",
        "https://localhost/",
        "http://hooks.example.com/",
    ] {
        let resp = app.post_json("/webhook-endpoints", &json!({"Url": url})).await;
        assert_eq!(resp.status(), 422, "{url}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["Error"]["Fields"][0]["Code"], "invalid_url", "{url}");
    }
    let resp = app
        .post_json("/webhook-endpoints", &json!({"Url": "https://hooks.example.com/p", "EventTypes": ["nope"]}))
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Fields"][0]["Code"], "unknown_event_type");
    let resp = app.post_json("/webhook-endpoints", &json!({"Url": "https://hooks.example.com/p"})).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["EventTypes"], json!([]));
    assert!(created["Secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(app.get_path("/webhook-endpoints/we_nope").await.status(), 400);
    assert_eq!(app.get_path("/events/evt_nope/attempts").await.status(), 400);
}

#[tokio::test]
async fn racing_creates_stop_at_sixteen_endpoints_and_a_burst_of_redeliveries_gets_429() {
    let (api, aws) = api_alone("webhooks-cap", &[]).await;
    let app = TestApp::external(format!("http://127.0.0.1:{}", api.port), aws).await;
    let creates = (0..20).map(|i| {
        let app = &app;
        async move {
            let body = json!({"Url": format!("https://hooks.example.com/{i}"), "EventTypes": ["payment.created"]});
            let resp = app.post_json("/webhook-endpoints", &body).await;
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    });
    let answers = futures::future::join_all(creates).await;
    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    let refused: Vec<&Value> = answers.iter().filter(|(status, _)| *status != 201).map(|(_, body)| body).collect();
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(created, 16, "{statuses:?}");
    assert_eq!(refused.len(), 4);
    assert!(statuses.iter().all(|status| [201, 409].contains(status)), "{statuses:?}");
    assert!(refused.iter().all(|body| body["Error"]["Code"] == "too_many_webhook_endpoints"), "{refused:?}");
    let listed: Value = app.get_path("/webhook-endpoints").await.json().await.unwrap();
    assert_eq!(listed["WebhookEndpoints"].as_array().unwrap().len(), 16);

    // Redeliveries: 20 at once per merchant, then 429 with Retry-After.
    let payment = app.create_ok(&card_request("4242424242424242", 100)).await;
    let events = app.all_events(&format!("/payments/{payment}/events"), 10).await;
    let event = events[0]["EventID"].as_str().unwrap();
    for i in 0..20 {
        let resp = app.post_json(&format!("/events/{event}/redeliver"), &json!({})).await;
        assert_eq!(resp.status(), 202, "redelivery {i}");
    }
    let resp = app.post_json(&format!("/events/{event}/redeliver"), &json!({})).await;
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3).contains(&wait), "one more every 3 s: {wait}");
    assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Code"], "rate_limited");
    let other = app.token_for(Some("other@merchant")).await;
    let resp = app
        .http
        .post(format!("{}/events/{event}/redeliver", app.url))
        .bearer_auth(&other)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "another merchant's budget is its own (and the event is not its)");
}

/// Endpoints written before the per-merchant count existed (here: the count item removed) are
/// counted when the count is first needed, and a count that drifted is corrected at its bounds.
#[tokio::test]
async fn endpoints_from_before_the_count_still_count_and_a_drifted_count_heals() {
    use payment_platform::domain::ports::{ConflictKind, StoreError, WebhookEndpoints};
    use payment_platform::domain::webhooks::{Endpoint, EndpointId, EndpointStatus, WebhookUrl};

    let aws = crate::support::app::unique_aws_args();
    let clients = payment_platform::aws::clients(&aws).await;
    payment_platform::setup::run(&clients, &aws).await.expect("SETUP");
    let store = payment_platform::dynamo::DynamoStore::new(clients.dynamodb.clone(), aws.table.clone());
    let m = payment_platform::domain::ids::MerchantId::parse("legacy@merchant").unwrap();
    let endpoint = |i: u64| Endpoint {
        id: EndpointId::new(),
        merchant_id: m.clone(),
        url: WebhookUrl::parse("https://hooks.example.com/", false).unwrap(),
        event_types: vec![],
        description: None,
        status: EndpointStatus::Enabled,
        disabled_reason: None,
        secrets: vec![],
        created_ms: 1_800_000_000_000 + i,
        failing_since_ms: None,
        revision: 0,
    };
    let count_key = || {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        let pk = payment_platform::dynamo::keys::merchant_pk(&m);
        std::collections::HashMap::from([("PK".to_owned(), S(pk)), ("SK".to_owned(), S("WEBHOOK_COUNT".into()))])
    };
    let set_count = |count: Option<u64>| {
        let (client, table, key) = (clients.dynamodb.clone(), aws.table.clone(), count_key());
        async move {
            let written = match count {
                None => client.delete_item().table_name(table).set_key(Some(key)).send().await.is_ok(),
                Some(c) => client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(key))
                    .update_expression("SET Endpoints = :c")
                    .expression_attribute_values(":c", aws_sdk_dynamodb::types::AttributeValue::N(c.to_string()))
                    .send()
                    .await
                    .is_ok(),
            };
            assert!(written, "the count item changed");
        }
    };
    let full = Err(StoreError::Conflict(ConflictKind::WrongState));

    for i in 0..15 {
        store.create_endpoint(&endpoint(i)).await.unwrap();
    }
    set_count(None).await;
    let two = [endpoint(20), endpoint(21)];
    let results = futures::future::join_all(two.iter().map(|e| store.create_endpoint(e))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "15 from before the count, one place: {results:?}");
    assert_eq!(store.create_endpoint(&endpoint(22)).await, full);
    assert_eq!(store.endpoints(&m).await.unwrap().len(), 16);

    // Counted too high (an old replica's delete): the recount lets the create in.
    let first = store.endpoints(&m).await.unwrap()[0].id;
    assert!(store.delete_endpoint(&m, first).await.unwrap());
    set_count(Some(16)).await;
    assert!(store.create_endpoint(&endpoint(23)).await.is_ok(), "16 counted, 15 there");
    assert_eq!(store.create_endpoint(&endpoint(24)).await, full);
    // Counted too low (an old replica's create): neither a 17th nor a stuck delete.
    set_count(Some(10)).await;
    assert_eq!(store.create_endpoint(&endpoint(25)).await, full, "10 counted, 16 there");
    set_count(Some(0)).await;
    let all = store.endpoints(&m).await.unwrap();
    assert!(store.delete_endpoint(&m, all[0].id).await.unwrap(), "0 counted, 16 there");
    assert!(store.create_endpoint(&endpoint(26)).await.is_ok());
    assert_eq!(store.create_endpoint(&endpoint(27)).await, full);
    assert_eq!(store.endpoints(&m).await.unwrap().len(), 16);
}
