//! `BatchSender` against a stand-in for SQS that can hold its calls until told, and answers each
//! entry by its body: what the emulator cannot be made to do (stall a call, refuse one entry of
//! a batch). `tests/integration/queue_batching.rs` runs it against the emulator.
use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use futures::future::join_all;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::*;

struct StandIn {
    /// Calls are held until this turns true.
    open: watch::Sender<bool>,
    /// Entries per call, in the order the calls came.
    calls: Mutex<Vec<usize>>,
}

/// `SendMessageBatch`: each entry answered by its body's prefix (`sender:` refused with a
/// code known to repeat, `odd:` with one that is not, `server:` on SQS's side, `omit:` left out
/// of both lists); the rest sent.
async fn send_message_batch(State(stand_in): State<Arc<StandIn>>, body: axum::body::Bytes) -> Json<Value> {
    let request: Value = serde_json::from_slice(&body).unwrap();
    let entries = request["Entries"].as_array().unwrap().clone();
    stand_in.calls.lock().unwrap().push(entries.len());
    let _ = stand_in.open.subscribe().wait_for(|open| *open).await;
    let (mut sent, mut failed) = (Vec::new(), Vec::new());
    for e in entries {
        let (id, body) = (e["Id"].clone(), e["MessageBody"].as_str().unwrap().to_owned());
        let refused = |fault: bool, code: &str| json!({"Id": id, "SenderFault": fault, "Code": code});
        match body.split_once(':').map(|(kind, _)| kind) {
            Some("sender") => failed.push(refused(true, "InvalidMessageContents")),
            Some("odd") => failed.push(refused(true, "SomethingNew")),
            Some("server") => failed.push(refused(false, "InternalError")),
            Some("omit") => {}
            _ => sent.push(json!({"Id": id, "MessageId": "m", "MD5OfMessageBody": "0"})),
        }
    }
    Json(json!({"Successful": sent, "Failed": failed}))
}

/// A sender whose calls go to a stand-in, open (answering at once) or not.
async fn sender(open: bool) -> (BatchSender, Arc<StandIn>) {
    let stand_in = Arc::new(StandIn { open: watch::Sender::new(open), calls: Mutex::default() });
    let app = axum::Router::new().fallback(send_message_batch).with_state(Arc::clone(&stand_in));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("a", "b", None, None, "test"))
        .endpoint_url(&url)
        .build();
    (BatchSender::spawn(Client::from_conf(config), format!("{url}/000000000000/q")), stand_in)
}

fn entry(body: &str) -> SendMessageBatchRequestEntry {
    SendMessageBatchRequestEntry::builder().id("0").message_body(body).build().unwrap()
}

/// Polls until the stand-in has seen calls carrying `entries` in all; panics after 5 s.
async fn calls_once_carrying(stand_in: &StandIn, entries: usize) -> Vec<usize> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let calls = stand_in.calls.lock().unwrap().clone();
        if calls.iter().sum::<usize>() == entries {
            return calls;
        }
        assert!(tokio::time::Instant::now() < deadline, "calls so far: {calls:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn stalled_calls_hold_the_rest_up_by_max_wait_at_most_and_what_waits_goes_together() {
    let (sender, stand_in) = sender(false).await;
    let send = |body: String| {
        let sender = sender.clone();
        tokio::spawn(async move { sender.send(entry(&body)).await })
    };
    // Two messages, one after the other: each finds a call free and goes alone; both stall.
    let mut sends = vec![send("m0".into())];
    calls_once_carrying(&stand_in, 1).await;
    sends.push(send("m1".into()));
    calls_once_carrying(&stand_in, 2).await;
    // Eighteen more while both are held: they wait `MAX_WAIT` for a call to come back, then go
    // over the limit, ten to a call. Waiting for a stalled call instead, they would never go.
    sends.extend((2..20).map(|i| send(format!("m{i}"))));
    assert_eq!(calls_once_carrying(&stand_in, 20).await, vec![1, 1, 10, 8]);

    stand_in.open.send_replace(true);
    for sent in join_all(sends).await {
        assert_eq!(sent.unwrap(), Ok(()));
    }
}

#[tokio::test]
async fn each_caller_gets_its_own_entry_s_answer() {
    let (sender, stand_in) = sender(true).await;
    let bodies = ["ok:a", "sender:b", "odd:c", "server:d", "omit:e", "ok:f"];
    // Handed over together (this test's runtime has one thread), so they share one call.
    let answers = join_all(bodies.map(|b| sender.send(entry(b)))).await;
    assert_eq!(*stand_in.calls.lock().unwrap(), vec![6]);
    let transient = |code: &str| Err(QueueError::Transient(code.into()));
    assert_eq!(
        answers,
        vec![
            Ok(()),
            Err(QueueError::Permanent("InvalidMessageContents".into())),
            // Refused for a reason not known to repeat: worth sending again.
            transient("SomethingNew"),
            transient("InternalError"),
            transient("no answer for the message"),
            Ok(()),
        ]
    );
}
