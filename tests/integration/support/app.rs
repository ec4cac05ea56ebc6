//! `spawn_app` (zero2prod style): the API in-process on a free port, against the emulator's
//! real DynamoDB and SQS, with a table and queues of its own so tests never share state.
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use payment_platform::aws::{self, Clients};
use payment_platform::config::{ApiConfig, AwsArgs, VaultArgs};
use payment_platform::http::Api;
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const MERCHANT: &str = "test@merchant";
pub const OTHER_MERCHANT: &str = "other@merchant";
pub const JWT_SECRET: &str = "integration-test-secret";
pub const CARD_KEY: &str = "dGVzdC1jYXJkLWtleS0zMi1ieXRlcy1sb25nLi4uLi4=";
pub const WEBHOOK_SECRET_KEY: &str = "dGVzdC13ZWJob29rLXNlY3JldHMta2V5LTMyLWJ5dGU=";
pub const FINGERPRINT_KEY: &str = "dGVzdC1pZGVtcG90ZW5jeS1maW5nZXJwcmludC1rZXk=";

/// The emulator `make test` started (its `AWS_ENDPOINT_URL`).
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL must point at the emulator: run the tests with `make test`")
}

/// Names no other test uses: `t<uuid>` prefixes for the table and queues.
pub fn unique_aws_args() -> AwsArgs {
    let id = uuid::Uuid::new_v4().simple().to_string();
    AwsArgs {
        region: "us-east-1".into(),
        endpoint_url: Some(endpoint()),
        dynamodb_endpoint_url: None,
        table: format!("t{id}-table"),
        payments_queue: format!("t{id}-payments"),
        refunds_queue: format!("t{id}-refunds"),
        webhooks_queue: format!("t{id}-webhooks"),
        setup: true,
    }
}

pub fn api_config(aws: AwsArgs) -> ApiConfig {
    ApiConfig {
        aws,
        vault: VaultArgs {
            card_encryption_key: Some(CARD_KEY.into()),
            card_encryption_old_keys: vec![],
            webhook_secret_key: Some(WEBHOOK_SECRET_KEY.into()),
            webhook_secret_old_keys: vec![],
        },
        fingerprints: payment_platform::config::FingerprintArgs {
            idempotency_fingerprint_key: Some(FINGERPRINT_KEY.into()),
            idempotency_fingerprint_old_keys: vec![],
        },
        webhook_urls: payment_platform::config::WebhookUrlArgs { webhook_allow_private_urls: None },
        http_host: [127, 0, 0, 1].into(),
        http_port: 0,
        base_url: "http://127.0.0.1".into(),
        jwt_secret_key: Some(JWT_SECRET.into()),
        jwt_old_secret_keys: Vec::new(),
        jwt_issuer: "payment-platform".into(),
        jwt_audience: "payment-platform-api".into(),
        token_ttl_secs: 3600,
        merchant_id: MERCHANT.into(),
        token_issuance: None,
        token_issuance_acknowledged: false,
        api_docs: None,
        jwt_jwks_url: None,
        jwt_merchant_claim: "sub".into(),
        // No limits but where a test sets them: tests burst on purpose.
        rate_limit_reads_per_sec: 0,
        rate_limit_writes_per_sec: 0,
        merchant_cache_secs: 60,
        request_timeout_ms: 10_000,
        max_body_bytes: 16 * 1024,
        max_header_bytes: 16 * 1024,
        header_read_timeout_secs: 10,
        idle_timeout_secs: 65,
        max_connections: 1024,
        admin_host: [127, 0, 0, 1].into(),
        admin_port: 0,
    }
}

pub struct TestApp {
    pub url: String,
    pub aws: AwsArgs,
    pub clients: Clients,
    pub http: reqwest::Client,
    pub token: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(api_config(unique_aws_args())).await
}

pub async fn spawn_app_with(config: ApiConfig) -> TestApp {
    let state = payment_platform::wiring::api(&config).await.expect("api state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    // The API as the binary runs it: both listeners, the rate limits' upkeep, the drain.
    tokio::spawn(Api::new(state).run(listener, admin, async move {
        let _ = stopped.await;
    }));
    let clients = aws::clients(&config.aws).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let issues_tokens = config.token_issuance_on();
    let mut app = TestApp { url, aws: config.aws, clients, http, token: String::new(), stop: Some(stop) };
    if issues_tokens {
        app.token = app.token_for(None).await;
    }
    app
}

pub fn card_request(card: &str, price: u64) -> Value {
    json!({
        "CustomerID": "cust-1", "CustomerName": "Ann Example", "CardNumber": card, "CardCVV": 123,
        "CardExpiryDate": "12/39", "Price": price, "Currency": "EUR"
    })
}

impl TestApp {
    /// Another client of the same API (its token to be replaced); dropping it stops nothing.
    pub fn clone_client(&self) -> TestApp {
        TestApp {
            url: self.url.clone(),
            aws: self.aws.clone(),
            clients: self.clients.clone(),
            http: self.http.clone(),
            token: self.token.clone(),
            stop: None,
        }
    }

    /// A client for an API that runs elsewhere (a real `api` process).
    pub async fn external(url: String, aws: AwsArgs) -> Self {
        let clients = aws::clients(&aws).await;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let mut app = TestApp { url, aws, clients, http, token: String::new(), stop: None };
        app.token = app.token_for(None).await;
        app
    }

    pub async fn token_for(&self, merchant: Option<&str>) -> String {
        let mut req = self.http.get(format!("{}/token", self.url));
        if let Some(m) = merchant {
            req = req.query(&[("merchant", m)]);
        }
        let body: Value = req.send().await.unwrap().json().await.unwrap();
        body["AuthenticationToken"].as_str().expect("token").to_owned()
    }

    pub fn authed(&self, req: RequestBuilder) -> RequestBuilder {
        req.bearer_auth(&self.token)
    }

    pub async fn create(&self, body: &Value, key: Option<&str>) -> Response {
        let mut req = self.authed(self.http.post(format!("{}/payments", self.url))).json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send().await.unwrap()
    }

    /// Creates a payment and returns its id, asserting the 202.
    pub async fn create_ok(&self, body: &Value) -> String {
        let resp = self.create(body, None).await;
        assert_eq!(resp.status(), 202);
        let v: Value = resp.json().await.unwrap();
        v["paymentID"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, id: &str) -> Response {
        self.authed(self.http.get(format!("{}/payments/{id}", self.url))).send().await.unwrap()
    }

    pub async fn get_json(&self, id: &str) -> Value {
        let resp = self.get(id).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    pub async fn refund(&self, id: &str, body: Option<Value>, key: Option<&str>) -> Response {
        let mut req = self.authed(self.http.patch(format!("{}/payments/{id}/refund", self.url)));
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send().await.unwrap()
    }

    pub async fn queue_url(&self, name: &str) -> String {
        payment_platform::sqs::queue_url(&self.clients.sqs, name).await.expect("queue url")
    }

    /// Drains a queue (the tests own it), returning every body.
    pub async fn drain(&self, queue: &str) -> Vec<String> {
        let url = self.queue_url(queue).await;
        receive_all(&self.clients.sqs, &url).await.into_iter().filter_map(|m| m.body).collect()
    }

    /// Every item of the test's table.
    pub async fn scan(&self) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let out = self.clients.dynamodb.scan().table_name(&self.aws.table).send().await.expect("scan");
        out.items.unwrap_or_default()
    }
}

/// Every message on a queue the test owns, with its attributes. Stops after a receive that
/// comes back empty twice in a row.
pub async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut got = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        let msgs = out.messages.unwrap_or_default();
        empty = if msgs.is_empty() { empty + 1 } else { 0 };
        got.extend(msgs);
    }
    got
}

/// Polls `check` until it returns `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
