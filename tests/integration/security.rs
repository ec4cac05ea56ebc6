//! Safe to deploy as it ships (issue 22), with real processes: nothing at rest from which a card
//! can be recovered, keys only where needed and rotated end to end, development conveniences
//! only on this machine's emulator, the bank reached without redirects, scopes, and the headers
//! every answer carries.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use payment_platform::http::payments::payload::legacy_request_hash;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::app::{TestApp, card_request, eventually};
use crate::support::bank::free_port;
use crate::support::receiver::{Behaviour, Receiver, verify_with_reference};
use crate::support::system::{Proc, System, Worker, api_alone, keys_of, service_bin};
use crate::webhooks::FAST;

/// Every stored string of `items`, flattened (maps and lists walked).
fn strings(items: &[HashMap<String, AttributeValue>]) -> Vec<String> {
    fn walk(v: &AttributeValue, out: &mut Vec<String>) {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => out.push(s.clone()),
            AttributeValue::M(m) => m.values().for_each(|v| walk(v, out)),
            AttributeValue::L(l) => l.iter().for_each(|v| walk(v, out)),
            AttributeValue::Ss(l) | AttributeValue::Ns(l) => out.extend(l.iter().cloned()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for item in items {
        for (k, v) in item {
            out.push(k.clone());
            walk(v, &mut out);
        }
    }
    out
}

/// What an attacker with a table export would try: unkeyed SHA-256 digests (hex and base64) of
/// each card field, of the number with its CVV, and of each request body that held a card, as
/// the idempotency record used to store them.
fn unkeyed_digests(cards: &[(&str, &str)], bodies: &[(&str, &str, &Value)]) -> Vec<String> {
    let mut plain: Vec<String> = Vec::new();
    for (number, cvv) in cards {
        plain.extend([(*number).to_owned(), (*cvv).to_owned(), format!("{number}{cvv}"), format!("{number}|{cvv}")]);
    }
    plain.push("12/39".into());
    let mut out = Vec::new();
    for p in &plain {
        let d = Sha256::digest(p.as_bytes());
        out.push(payment_platform::util::hex(&d));
        out.push(base64::engine::general_purpose::STANDARD.encode(d));
        out.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d));
    }
    for (method, path, body) in bodies {
        out.push(legacy_request_hash(method, path, body.as_object().unwrap()));
        out.push(payment_platform::util::sha256_hex(&[body.to_string().as_bytes()]));
    }
    out
}

/// The logs of every service process (not the bank's: it is the bank) of the system `name`.
pub fn service_logs(name: &str) -> Vec<String> {
    let dir = crate::support::bank::log_dir();
    let prefix = format!("{name}-");
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

/// Everything at rest for `app`: the table, each of its indexes, and the queues' messages.
pub async fn everything_at_rest(app: &TestApp) -> (Vec<String>, Vec<HashMap<String, AttributeValue>>) {
    let mut all = strings(&scan_all(app, None).await);
    let mut indexed = Vec::new();
    for index in ["GSI1", "GSI2", "GSI3"] {
        indexed.extend(scan_all(app, Some(index)).await);
    }
    all.extend(strings(&indexed));
    for queue in [&app.aws.payments_queue, &app.aws.refunds_queue, &app.aws.webhooks_queue] {
        all.extend(app.drain(queue).await);
    }
    (all, indexed)
}

/// Every item of the table, or of one of its indexes, page by page.
async fn scan_all(app: &TestApp, index: Option<&str>) -> Vec<HashMap<String, AttributeValue>> {
    let (mut items, mut start) = (Vec::new(), None);
    loop {
        let out = app
            .clients
            .dynamodb
            .scan()
            .table_name(&app.aws.table)
            .set_index_name(index.map(str::to_owned))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(out.items().iter().cloned());
        start = out.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// Asserts that nothing in `all` (stored values, messages, log lines) holds a card number or
/// CVV in clear or an unkeyed digest from which either could be brute-forced.
pub fn assert_no_card_data(all: &[String], cards: &[(&str, &str)], bodies: &[(&str, &str, &Value)]) {
    let digests = unkeyed_digests(cards, bodies);
    for value in all {
        for (number, cvv) in cards {
            assert!(!value.contains(number), "card number in clear: {value}");
            // As a value of its own: a few digits alone turn up inside timestamps and ids.
            assert!(value != cvv && !value.contains(&format!("\"{cvv}\"")), "CVV in clear: {value}");
        }
        for d in &digests {
            assert!(!value.contains(d.as_str()), "an unkeyed digest of card data is stored: {value}");
        }
    }
}

#[tokio::test]
async fn nothing_at_rest_is_a_card_in_clear_or_an_unkeyed_digest_of_one_and_no_index_holds_a_sealed_card() {
    // The API as shipped, a process of its own (so `SERVICES_BIN_DIR` can run an older build).
    let (api, aws) = api_alone("at-rest", &[]).await;
    let app = TestApp::external(format!("http://127.0.0.1:{}", api.port), aws).await;
    let cards = [("4000000000009995", "9876"), ("1234123412341234", "5432"), ("4242424242424242", "7531")];
    let mut bodies = Vec::new();
    for (i, (number, cvv)) in cards.iter().enumerate() {
        let mut body = card_request(number, 1234);
        body["CardCVV"] = json!(cvv);
        let resp = app.create(&body, Some(&format!("order-{i}"))).await;
        assert_eq!(resp.status(), 202);
        let id = resp.json::<Value>().await.unwrap()["paymentID"].as_str().unwrap().to_owned();
        let refund = json!({"Amount": 100});
        assert_eq!(app.refund(&id, Some(refund.clone()), Some(&format!("refund-{i}"))).await.status(), 202);
        bodies.push(("POST", "/payments".to_owned(), body));
        bodies.push(("PATCH", format!("/payments/{id}/refund"), refund));
    }
    let bodies: Vec<(&str, &str, &Value)> = bodies.iter().map(|(m, p, b)| (*m, p.as_str(), b)).collect();
    let (all, indexed) = everything_at_rest(&app).await;
    assert!(all.iter().any(|v| v.starts_with("hmac-sha256.")), "keyed fingerprints are stored");
    assert!(all.iter().any(|v| v == "CardSealed"), "the sealed card is stored for the worker");
    assert_no_card_data(&all, &cards, &bodies);
    for item in &indexed {
        assert!(!item.contains_key("CardSealed"), "an index holds a sealed card: {:?}", item.get("SK"));
    }
    // The keyed fingerprints still tell a replay from a different request under the same key.
    let mut again = card_request(cards[0].0, 1234);
    again["CardCVV"] = json!(cards[0].1);
    assert_eq!(app.create(&again, Some("order-0")).await.status(), 202);
    again["Price"] = json!(999);
    assert_eq!(app.create(&again, Some("order-0")).await.status(), 422);
}

/// A service binary started outside development mode (`AWS_ENDPOINT_URL` on a name that is
/// not this machine: `.invalid` never resolves, so nothing leaves it) with `env`: it must exit
/// at once, saying `expected`.
async fn refuses(bin: &str, tag: &str, env: &[(&str, &str)], expected: &str) {
    let mut all: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", "https://vpce-0123.dynamodb.invalid"),
        ("AWS_REGION", "us-east-1"),
        ("RUST_LOG", "info"),
        ("BANK_URL", "https://bank.invalid"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    // Logs are appended to: start from an empty one, so only this run's words count.
    let _ = std::fs::remove_file(crate::support::bank::log_dir().join(format!("refuses-{tag}.log")));
    let mut p = Proc::spawn(bin, &format!("refuses-{tag}"), &all);
    let status = p.exited(Duration::from_secs(20)).await;
    assert!(!status.success(), "{tag}: started outside development mode");
    let log = std::fs::read_to_string(&p.log).unwrap();
    assert!(log.contains(expected), "{tag}: expected {expected:?} in:\n{log}");
}

const KEY_A: &str = "YS1wcm9kdWN0aW9uLWtleS0zMi1ieXRlcy1sb25nLi4=";
const KEY_B: &str = "Yi1wcm9kdWN0aW9uLWtleS0zMi1ieXRlcy1sb25nLi4=";
const KEY_C: &str = "Yy1wcm9kdWN0aW9uLWtleS0zMi1ieXRlcy1sb25nLi4=";
const LONG_JWT: &str = "a-jwt-secret-of-well-over-thirty-two-bytes-for-hs256";

#[tokio::test]
async fn outside_development_mode_the_development_defaults_and_weak_settings_refuse_to_start() {
    let api = &service_bin(env!("CARGO_BIN_EXE_api"), "api");
    refuses(api, "api-nothing", &[], "CARD_ENCRYPTION_KEY must be set outside development mode").await;
    let dev_card = payment_platform::config::DEV_CARD_KEY;
    let own = [
        ("CARD_ENCRYPTION_KEY", KEY_A),
        ("WEBHOOK_SECRET_KEY", KEY_B),
        ("IDEMPOTENCY_FINGERPRINT_KEY", KEY_C),
        ("JWT_SECRET_KEY", LONG_JWT),
    ];
    let with = |over: &[(&'static str, &'static str)]| {
        let mut env: Vec<(&str, &str)> =
            own.iter().filter(|(k, _)| !over.iter().any(|(o, _)| o == k)).copied().collect();
        env.extend(over);
        env
    };
    refuses(
        api,
        "api-dev-card",
        &with(&[("CARD_ENCRYPTION_KEY", dev_card)]),
        "CARD_ENCRYPTION_KEY is the published development default",
    )
    .await;
    let dev_jwt = payment_platform::config::DEV_JWT_SECRET;
    refuses(
        api,
        "api-dev-jwt",
        &with(&[("JWT_SECRET_KEY", dev_jwt)]),
        "JWT_SECRET_KEY is the published development default",
    )
    .await;
    refuses(
        api,
        "api-short-jwt",
        &with(&[("JWT_SECRET_KEY", "short-secret")]),
        "JWT_SECRET_KEY is shorter than 32 bytes",
    )
    .await;
    refuses(api, "api-token", &with(&[("TOKEN_ISSUANCE", "true")]), "TOKEN_ISSUANCE_ACKNOWLEDGED").await;
    let payment = &service_bin(env!("CARGO_BIN_EXE_payment-worker"), "payment-worker");
    refuses(payment, "payment-no-key", &[], "CARD_ENCRYPTION_KEY must be set").await;
    let plain_bank = [("CARD_ENCRYPTION_KEY", KEY_A), ("BANK_URL", "http://127.0.0.1:4445")];
    refuses(payment, "payment-http-bank", &plain_bank, "BANK_URL must be an absolute https URL").await;
    let webhook = &service_bin(env!("CARGO_BIN_EXE_webhook-worker"), "webhook-worker");
    refuses(webhook, "webhook-card-key-only", &[("CARD_ENCRYPTION_KEY", KEY_A)], "WEBHOOK_SECRET_KEY must be set")
        .await;
    let refund = &service_bin(env!("CARGO_BIN_EXE_refund-worker"), "refund-worker");
    refuses(
        refund,
        "refund-http-bank",
        &[("BANK_URL", "http://127.0.0.1:4445")],
        "BANK_URL must be an absolute https URL",
    )
    .await;
}

/// Answers every request with a 307 to the same path and query at `target`, and counts them.
async fn redirector(target: String) -> (String, Arc<Mutex<u32>>) {
    let seen = Arc::new(Mutex::new(0u32));
    let counter = Arc::clone(&seen);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (target, counter) = (target.clone(), Arc::clone(&counter));
        async move {
            *counter.lock().unwrap() += 1;
            let to = format!("{target}{}", uri.path_and_query().map_or("/", |p| p.as_str()));
            (axum::http::StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, to)])
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", free_port())).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_redirect_from_the_bank_is_never_followed_so_the_card_goes_nowhere_else() {
    let fast = [
        ("VISIBILITY_EXTEND_SECS", "3"),
        ("REPAIR_AFTER_SECS", "3"),
        ("REPAIR_INTERVAL_SECS", "1"),
        ("BANK_MAX_ATTEMPTS", "2"),
        ("WORKER_WAIT_SECS", "1"),
    ];
    let mut sys = System::start("bank-redirect", &[], &fast).await;
    let (url, seen) = redirector(sys.bank.url.clone()).await;
    sys.set_env(&[("BANK_URL", url.as_str())]);
    sys.worker(Worker::Payment).signal("KILL");
    sys.worker(Worker::Payment).exited(Duration::from_secs(10)).await;
    sys.restart(Worker::Payment).await;
    let id = sys.app.create_ok(&card_request("4242424242424242", 4100)).await;
    // The charge and the inquiries after it all meet the redirect: the outcome stays unknown,
    // never FAILED on a say-so that is not the bank's, and nothing reaches the bank.
    eventually(Duration::from_secs(30), "the worker to meet the redirect several times", || async {
        (*seen.lock().unwrap() >= 3).then_some(())
    })
    .await;
    assert_eq!(sys.app.get_json(&id).await["Status"], "PROCESSING");
    let ledger = sys.bank.ledger().await;
    assert!(ledger["ChargesByReference"].get(&id).is_none(), "the card reached the bank by a redirect: {ledger}");
    // BANK_URL put right: the payment settles, charged once.
    let bank = sys.bank.url.clone();
    sys.set_env(&[("BANK_URL", bank.as_str())]);
    sys.worker(Worker::Payment).signal("KILL");
    sys.worker(Worker::Payment).exited(Duration::from_secs(10)).await;
    sys.restart(Worker::Payment).await;
    assert_eq!(sys.settled(&id, Duration::from_secs(60)).await["Status"], "SUCCEEDED");
    let ledger = sys.bank.ledger().await;
    assert_eq!(ledger["ChargesByReference"][&id], 1, "{ledger}");
}

#[tokio::test]
async fn a_token_does_only_what_its_scopes_grant() {
    let (api, aws) = api_alone("scopes", &[]).await;
    let url = format!("http://127.0.0.1:{}", api.port);
    let app = TestApp::external(url.clone(), aws).await;
    let token = |scope: &'static str| {
        let (http, url) = (app.http.clone(), url.clone());
        async move {
            let body: Value =
                http.get(format!("{url}/token?scope={scope}")).send().await.unwrap().json().await.unwrap();
            body["AuthenticationToken"].as_str().unwrap().to_owned()
        }
    };
    let read = token("payments.read").await;
    let pay = app.http.post(format!("{url}/payments")).bearer_auth(&read).json(&card_request("4242424242424242", 100));
    let refused = pay.send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("insufficient_scope") && challenge.contains("payments.write"), "{challenge}");
    assert_eq!(refused.json::<Value>().await.unwrap()["Error"]["Code"], "insufficient_scope");
    let list = app.http.get(format!("{url}/payments")).bearer_auth(&read).send().await.unwrap();
    assert_eq!(list.status(), 200);
    let endpoints = app.http.get(format!("{url}/webhook-endpoints")).bearer_auth(&read).send().await.unwrap();
    assert_eq!(endpoints.status(), 403, "webhook endpoints need their own scope");
    let write = token("payments.write").await;
    let created =
        app.http.post(format!("{url}/payments")).bearer_auth(&write).json(&card_request("4242424242424242", 100));
    assert_eq!(created.send().await.unwrap().status(), 202);
    let hooks = token("webhooks.manage").await;
    let endpoints = app.http.get(format!("{url}/webhook-endpoints")).bearer_auth(&hooks).send().await.unwrap();
    assert_eq!(endpoints.status(), 200);
    let bad = app.http.get(format!("{url}/token?scope=payments.everything")).send().await.unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn answers_that_show_a_token_or_a_secret_are_never_cached_and_the_docs_can_be_switched_off() {
    let (api, aws) = api_alone("headers", &[("API_DOCS", "false")]).await;
    let url = format!("http://127.0.0.1:{}", api.port);
    let app = TestApp::external(url.clone(), aws).await;
    let token = app.http.get(format!("{url}/token")).send().await.unwrap();
    assert_eq!(token.headers()["cache-control"], "no-store");
    assert_eq!(token.headers()["x-content-type-options"], "nosniff");
    let endpoint = app.post_json("/webhook-endpoints", &json!({"Url": "http://127.0.0.1:9/hook"})).await;
    assert_eq!(endpoint.status(), 201);
    assert_eq!(endpoint.headers()["cache-control"], "no-store");
    assert!(endpoint.json::<Value>().await.unwrap()["Secret"].is_string());
    for path in ["/openapi.json", "/docs", "/docs/ui/"] {
        assert_eq!(app.http.get(format!("{url}{path}")).send().await.unwrap().status(), 404, "{path}");
    }
}

/// docs/OPERATIONS.md, "Rotating the keys", step by step: a payment sealed, a key claimed and an
/// endpoint's secret sealed under the old keys all keep working across the rotation, and what is
/// sealed after it opens once the old keys are gone.
#[tokio::test]
async fn the_key_rotation_runbook_works_end_to_end() {
    let mut sys = System::start("rotation", &[], FAST).await;
    sys.with_webhooks(FAST).await;
    let receiver = Receiver::start(Behaviour::Ok).await;
    let created = sys.app.endpoint(&receiver.url, &["payment.succeeded"]).await;
    let secret = created["Secret"].as_str().unwrap().to_owned();
    // A payment sealed under the old card key that no worker has charged yet.
    sys.worker(Worker::Payment).signal("KILL");
    sys.worker(Worker::Payment).exited(Duration::from_secs(10)).await;
    let body = card_request("4242424242424242", 2600);
    let first = sys.app.create(&body, Some("rotation-1")).await;
    assert_eq!(first.status(), 202);
    let old_id = first.json::<Value>().await.unwrap()["paymentID"].as_str().unwrap().to_owned();

    // Steps 1 and 2 at once for the test: new keys current, the old ones still accepted.
    let old = keys_of("api").into_iter().collect::<HashMap<_, _>>();
    let (card, hooks, prints) =
        (&old["CARD_ENCRYPTION_KEY"], &old["WEBHOOK_SECRET_KEY"], &old["IDEMPOTENCY_FINGERPRINT_KEY"]);
    sys.set_env(&[
        ("CARD_ENCRYPTION_KEY", KEY_A),
        ("CARD_ENCRYPTION_OLD_KEYS", card),
        ("WEBHOOK_SECRET_KEY", KEY_B),
        ("WEBHOOK_SECRET_OLD_KEYS", hooks),
        ("IDEMPOTENCY_FINGERPRINT_KEY", KEY_C),
        ("IDEMPOTENCY_FINGERPRINT_OLD_KEYS", prints),
    ]);
    sys.restart_api().await;
    sys.worker(Worker::Webhook).signal("TERM");
    sys.worker(Worker::Webhook).exited(Duration::from_secs(30)).await;
    sys.restart(Worker::Webhook).await;
    sys.restart(Worker::Payment).await;
    let replay = sys.app.create(&body, Some("rotation-1")).await;
    assert_eq!(replay.status(), 202, "a key claimed under the old fingerprint key still replays");
    assert_eq!(replay.json::<Value>().await.unwrap()["paymentID"], old_id.as_str());
    let settled = sys.settled(&old_id, Duration::from_secs(60)).await;
    assert_eq!(settled["Status"], "SUCCEEDED", "a card sealed under the old key opens: {settled}");
    let about = |id: String| {
        let receiver = &receiver;
        async move {
            eventually(Duration::from_secs(60), "the payment reported", || async {
                receiver.delivered().into_iter().find(|r| r.json()["data"]["PaymentID"] == id.as_str())
            })
            .await
        }
    };
    // Signed with the endpoint's secret sealed under the old key, opened through the old keys.
    let old_delivery = about(old_id.clone()).await;
    assert_eq!(verify_with_reference(&[(&old_delivery, secret.as_str())], &[]), 1);
    let rotated = sys
        .app
        .post_json(
            &format!("/webhook-endpoints/{}/rotate-secret", created["WebhookEndpointID"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let new_secret = rotated.json::<Value>().await.unwrap()["Secret"].as_str().unwrap().to_owned();

    // Step 3: the old keys gone. A new payment is sealed, opened and reported under the new ones.
    sys.set_env(&[
        ("CARD_ENCRYPTION_OLD_KEYS", ""),
        ("WEBHOOK_SECRET_OLD_KEYS", ""),
        ("IDEMPOTENCY_FINGERPRINT_OLD_KEYS", ""),
    ]);
    sys.restart_api().await;
    for kind in [Worker::Payment, Worker::Webhook] {
        sys.worker(kind).signal("TERM");
        sys.worker(kind).exited(Duration::from_secs(30)).await;
        sys.restart(kind).await;
    }
    let new_id = sys.app.create_ok(&card_request("4242424242424242", 2700)).await;
    assert_eq!(sys.settled(&new_id, Duration::from_secs(60)).await["Status"], "SUCCEEDED");
    // The secret sealed under the old key cannot sign any more; the rotated one, under the new key, does.
    let new_delivery = about(new_id).await;
    // Two lines checked: the new secret verifies, the old one is refused.
    assert_eq!(verify_with_reference(&[(&new_delivery, new_secret.as_str())], &[(&new_delivery, secret.as_str())]), 2);
}
