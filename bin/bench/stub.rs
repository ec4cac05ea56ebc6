//! A quiet AWS: DynamoDB and SQS that answer after a fixed delay and keep nothing, for the quiet run
//! (`quiet`). The bench runs it as a process of its own (this binary, with [`MODE_VAR`] set), so
//! that its CPU is neither the load generator's nor the measured processes'.
//!
//! It answers just enough for `POST /payments` and the floor's calls: `GetItem` finds every
//! merchant's profile (the API's token check reads it) and nothing else, `TransactWriteItems`
//! and `PutItem` succeed, `Query` and `Scan` find nothing (no webhook endpoint), `GetQueueUrl`
//! names a queue on this server, `SendMessageBatch` accepts every entry. Anything else gets an
//! empty answer, which the SDK reads as success with no fields.
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Parser;
use serde_json::{Value, json};

use super::error::BenchError;

/// How long each answer takes, about an AWS call's round trip from inside a region. Answered at
/// once, the sides ran as fast as the 2 cores let them (4,000-9,000 payments a second), the
/// load generator, the stub and the measured process fought for those cores, and the same API
/// code measured 67 and 95 µs over the bare server in one run. At this pace no side is short of
/// CPU, as in the emulator runs.
const LATENCY: std::time::Duration = std::time::Duration::from_millis(5);

/// Set in the environment of the process the bench starts as the quiet AWS.
pub const MODE_VAR: &str = "BENCH_SERVE_AWS_STUB";

/// Whether this process was started as the quiet AWS.
pub fn asked() -> bool {
    std::env::var(MODE_VAR).is_ok_and(|v| v == "1")
}

#[derive(Parser)]
struct StubArgs {
    #[arg(long, env = "HTTP_PORT")]
    port: u16,
}

/// Serves until killed (the bench stops it by its pid).
pub fn serve() -> Result<(), BenchError> {
    let port = StubArgs::parse().port;
    let base = format!("http://127.0.0.1:{port}");
    let app = axum::Router::new().route("/status", get(|| async { "OK" })).fallback(
        move |headers: HeaderMap, body: Bytes| {
            let base = base.clone();
            async move {
                tokio::time::sleep(LATENCY).await;
                answer(&base, &headers, &body)
            }
        },
    );
    super::bare::serve_app(port, async { Ok(app) })
}

/// The answer to one AWS JSON-protocol request (`X-Amz-Target: <service>.<operation>`).
fn answer(base: &str, headers: &HeaderMap, body: &[u8]) -> impl IntoResponse + use<> {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default();
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let out = reply(base, operation, &request);
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-amz-json-1.0")], out.to_string())
}

fn reply(base: &str, operation: &str, request: &Value) -> Value {
    match operation {
        "GetItem" => {
            let (pk, sk) = (&request["Key"]["PK"]["S"], &request["Key"]["SK"]["S"]);
            let profile = pk.as_str().is_some_and(|pk| pk.starts_with("MERCHANT#")) && sk == "PROFILE";
            if profile { json!({ "Item": { "PK": { "S": pk }, "SK": { "S": sk } } }) } else { json!({}) }
        }
        "Query" | "Scan" => json!({ "Items": [], "Count": 0, "ScannedCount": 0 }),
        "GetQueueUrl" => {
            let name = request["QueueName"].as_str().unwrap_or("queue");
            json!({ "QueueUrl": format!("{base}/000000000000/{name}") })
        }
        "SendMessageBatch" => {
            let entries = request["Entries"].as_array().map(Vec::as_slice).unwrap_or_default();
            let ok: Vec<Value> = entries
                .iter()
                .map(|e| json!({ "Id": e["Id"], "MessageId": uuid::Uuid::new_v4().to_string() }))
                .collect();
            json!({ "Successful": ok, "Failed": [] })
        }
        "SendMessage" => json!({ "MessageId": uuid::Uuid::new_v4().to_string() }),
        "ReceiveMessage" => json!({ "Messages": [] }),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchants_are_found_and_nothing_else() {
        let found = reply("b", "GetItem", &json!({ "Key": { "PK": { "S": "MERCHANT#m" }, "SK": { "S": "PROFILE" } } }));
        assert_eq!(found["Item"]["PK"]["S"], "MERCHANT#m");
        for key in [
            json!({ "PK": { "S": "PAY#1" }, "SK": { "S": "PAYMENT" } }),
            json!({ "PK": { "S": "MERCHANT#m" }, "SK": { "S": "WEBHOOK_COUNT" } }),
        ] {
            assert!(reply("b", "GetItem", &json!({ "Key": key })).get("Item").is_none(), "{key}");
        }
    }

    #[test]
    fn every_entry_of_a_batch_is_accepted_under_its_own_id() {
        let out = reply("b", "SendMessageBatch", &json!({ "Entries": [{ "Id": "0" }, { "Id": "1" }] }));
        let ids: Vec<&str> = out["Successful"].as_array().unwrap().iter().map(|e| e["Id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["0", "1"]);
        assert_eq!(out["Failed"], json!([]));
        assert_eq!(
            reply("http://h", "GetQueueUrl", &json!({ "QueueName": "q" }))["QueueUrl"],
            "http://h/000000000000/q"
        );
    }
}
