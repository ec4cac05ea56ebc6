//! `webhook-inbox`: a receiver for `make dev`, so deliveries can be watched without writing a
//! server. At start it registers itself with the API as a webhook endpoint of the development
//! merchant (replacing the one an earlier start registered), keeps the secret it is given,
//! verifies every delivery's signature with it, prints one line per delivery, and lists the
//! latest ones at `GET /`. A development tool: it needs the API's `GET /token`.
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use clap::Parser;
use payment_platform::webhook_client::sign;
use serde_json::{Value, json};

/// What the inbox calls itself, so a restart finds and replaces its earlier registration.
const DESCRIPTION: &str = "make dev inbox";
/// Deliveries kept for `GET /`.
const KEPT: usize = 200;
/// Timestamps further than this from now are refused, as the Standard Webhooks libraries do.
const TOLERANCE_SECS: u64 = 300;

#[derive(Parser, Debug)]
#[command(name = "webhook-inbox", about = "Receives, verifies and prints webhooks for make dev")]
struct Args {
    #[arg(long, env = "INBOX_PORT", default_value_t = 4480)]
    port: u16,
    /// The API that it registers with.
    #[arg(long, env = "API_URL", default_value = "http://127.0.0.1:4444")]
    api_url: String,
    /// The merchant whose events it receives (its `GET /token?merchant=`); the API's default if unset.
    #[arg(long, env = "INBOX_MERCHANT")]
    merchant: Option<String>,
    /// Comma-separated event types to subscribe to; empty: every type.
    #[arg(long, env = "INBOX_EVENT_TYPES", default_value = "")]
    event_types: String,
}

#[derive(Clone)]
struct Inbox {
    key: Arc<Vec<u8>>,
    received: Arc<Mutex<VecDeque<Value>>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let url = format!("http://{addr}/");
    let secret = register(&args, &url).await?;
    let key = sign::secret_bytes(&secret).context("the API gave a secret that is not whsec_")?;
    let inbox = Inbox { key: Arc::new(key), received: Arc::default() };
    println!("webhook-inbox: receiving at {url}; GET {url} lists the latest deliveries");
    let app = axum::Router::new().route("/", axum::routing::get(list).post(receive)).with_state(inbox);
    axum::serve(listener, app).with_graceful_shutdown(payment_platform::shutdown::signal()).await?;
    Ok(())
}

/// Registers `url` for the merchant, replacing an earlier registration of this inbox.
async fn register(args: &Args, url: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let api = args.api_url.trim_end_matches('/');
    let mut token_req = http.get(format!("{api}/token"));
    if let Some(m) = &args.merchant {
        token_req = token_req.query(&[("merchant", m)]);
    }
    let token: Value =
        token_req.send().await?.error_for_status().context("GET /token (dev token issuance)")?.json().await?;
    let token = token["AuthenticationToken"].as_str().context("no AuthenticationToken")?.to_owned();
    let listed: Value = http
        .get(format!("{api}/webhook-endpoints"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    for e in listed["WebhookEndpoints"].as_array().into_iter().flatten() {
        if e["Description"] == DESCRIPTION && e["Url"] == url {
            let id = e["WebhookEndpointID"].as_str().unwrap_or_default();
            http.delete(format!("{api}/webhook-endpoints/{id}")).bearer_auth(&token).send().await?;
        }
    }
    let types: Vec<&str> = args.event_types.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    let resp = http
        .post(format!("{api}/webhook-endpoints"))
        .bearer_auth(&token)
        .json(&json!({"Url": url, "EventTypes": types, "Description": DESCRIPTION}))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("registering {url} failed: {} {}", resp.status(), resp.text().await.unwrap_or_default());
    }
    let created: Value = resp.json().await?;
    println!("webhook-inbox: registered as {}", created["WebhookEndpointID"].as_str().unwrap_or("?"));
    created["Secret"].as_str().map(str::to_owned).context("no Secret in the answer")
}

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (id, signature) = (header("webhook-id"), header("webhook-signature"));
    let timestamp = header("webhook-timestamp").parse::<u64>().unwrap_or(0);
    let body = String::from_utf8_lossy(&body);
    let now = payment_platform::util::now_ms() / 1000;
    let verdict = if now.abs_diff(timestamp) > TOLERANCE_SECS {
        "stale timestamp"
    } else if sign::verify(&inbox.key, id, timestamp, &body, signature) {
        "signature ok"
    } else {
        "BAD SIGNATURE"
    };
    let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let data = &event["data"];
    println!(
        "{:<18} {id}  v{}  payment {} {}  ({verdict})",
        event["type"].as_str().unwrap_or("?"),
        data["Version"],
        data["PaymentID"].as_str().unwrap_or("?"),
        data["Status"].as_str().unwrap_or("?"),
    );
    let mut received = inbox.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    received.push_front(json!({"WebhookID": id, "Verified": verdict == "signature ok", "Event": event}));
    received.truncate(KEPT);
    if verdict == "signature ok" { StatusCode::NO_CONTENT } else { StatusCode::BAD_REQUEST }
}

async fn list(State(inbox): State<Inbox>) -> Json<Value> {
    let received = inbox.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Json(json!({"Received": received.iter().collect::<Vec<_>>()}))
}
