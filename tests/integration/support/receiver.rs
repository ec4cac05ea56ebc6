//! A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that records every request
//! and answers as told (always 2xx, a fixed status, or failing and hanging at random), and the
//! check of what it received with the Standard Webhooks reference library (Python
//! `standardwebhooks`, installed by `make webhook-verifier`).
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// How the receiver answers.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    Ok,
    Status(u16),
    /// `fail` of requests get a 500, `hang` of them no answer for `hang_for`, the rest 200.
    Flaky {
        fail: f64,
        hang: f64,
        hang_for: Duration,
    },
}

/// One request as it came in, with what was answered (`None`: it hung).
#[derive(Clone, Debug)]
pub struct Request {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
    pub answered: Option<u16>,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn delivered(&self) -> bool {
        self.answered.is_some_and(|s| (200..300).contains(&s))
    }
}

#[derive(Clone)]
struct Shared {
    behaviour: Arc<Mutex<Behaviour>>,
    got: Arc<Mutex<Vec<Request>>>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Self {
        let shared = Shared { behaviour: Arc::new(Mutex::new(behaviour)), got: Arc::default() };
        let app = axum::Router::new().fallback(receive).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self { url, shared, stop: Some(stop) }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.got.lock().unwrap().clone()
    }

    pub fn delivered(&self) -> Vec<Request> {
        self.requests().into_iter().filter(Request::delivered).collect()
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut request = Request {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
        answered: None,
    };
    let behaviour = *shared.behaviour.lock().unwrap();
    let status = match behaviour {
        Behaviour::Ok => 200,
        Behaviour::Status(s) => s,
        Behaviour::Flaky { fail, hang, hang_for } => {
            let roll: f64 = rand::random();
            if roll < hang {
                shared.got.lock().unwrap().push(request);
                tokio::time::sleep(hang_for).await;
                return StatusCode::OK;
            }
            if roll < hang + fail { 500 } else { 200 }
        }
    };
    request.answered = Some(status);
    shared.got.lock().unwrap().push(request);
    StatusCode::from_u16(status).unwrap()
}

/// Verifies each request with its secret using the Python reference library; `wrong` secrets
/// are checked to be refused. Answers how many lines it verified.
pub fn verify_with_reference(requests: &[(&Request, &str)], wrong: &[(&Request, &str)]) -> usize {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/webhooks-venv/bin/python");
    assert!(
        std::path::Path::new(python).exists(),
        "the Standard Webhooks reference library is missing: run `make webhook-verifier` (make test does)"
    );
    let line = |r: &Request, secret: &str, expect_fail: bool| {
        json!({
            "secret": secret,
            "headers": {"webhook-id": r.id, "webhook-timestamp": r.timestamp, "webhook-signature": r.signature},
            "body": r.body,
            "expect_fail": expect_fail,
        })
        .to_string()
    };
    let lines: Vec<String> =
        requests.iter().map(|(r, s)| line(r, s, false)).chain(wrong.iter().map(|(r, s)| line(r, s, true))).collect();
    let file = super::bank::log_dir().join(format!("webhooks-{}.jsonl", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = std::process::Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/verify_webhooks.py"))
        .arg(&file)
        .output()
        .expect("run the reference verifier");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the reference verifier refused a delivery:\n{printed}");
    printed.trim().strip_prefix("verified ").and_then(|n| n.parse().ok()).expect("verified N")
}
