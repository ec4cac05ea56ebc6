//! The SQS adapter's batched sends (`payment_platform::sqs::BatchSender`) against the emulator:
//! a message alone goes at once, messages sent together share calls, each arrives once with its
//! own attributes, and a call SQS refuses is refused to every caller in it.
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::future::join_all;
use payment_platform::domain::queue::QueueError;
use payment_platform::sqs::{BatchSender, queue_url, string_attribute};

use super::support::app::{receive_all, unique_aws_args};

fn entry(body: &str) -> SendMessageBatchRequestEntry {
    SendMessageBatchRequestEntry::builder()
        .id("0")
        .message_body(body)
        .message_attributes("traceparent", string_attribute(&format!("trace-of-{body}")).unwrap())
        .build()
        .unwrap()
}

/// Every message on the queue, as (body, its `traceparent` attribute), sorted.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String)> {
    let mut got: Vec<(String, String)> = receive_all(sqs, url)
        .await
        .into_iter()
        .map(|m| {
            let trace = m.message_attributes.as_ref().and_then(|a| a.get("traceparent")?.string_value.clone());
            (m.body.unwrap_or_default(), trace.unwrap_or_default())
        })
        .collect();
    got.sort();
    got
}

/// A test's own queues on the emulator: the clients and the payments queue's URL.
async fn payments_queue() -> (payment_platform::aws::Clients, String) {
    let aws = unique_aws_args();
    let clients = payment_platform::aws::clients(&aws).await;
    payment_platform::setup::run(&clients, &aws).await.expect("SETUP");
    let url = queue_url(&clients.sqs, &aws.payments_queue).await.expect("queue url");
    (clients, url)
}

#[tokio::test]
async fn messages_sent_together_share_calls_and_each_arrives_once_with_its_attributes() {
    let (clients, url) = payments_queue().await;
    let sender = BatchSender::spawn(clients.sqs.clone(), url.clone());

    sender.send(entry("alone")).await.expect("a message alone");
    assert_eq!(sender.calls(), 1, "a message that finds a call free goes at once, in a call of its own");

    // Eight callers, each sending its next message once the last is answered, as an API's
    // requests do under load: messages that wait for a call go together. One call per message
    // would be 200. (The limit on calls out and a stalled call: `sqs::batch`'s unit tests.)
    let bodies: Vec<String> = (0..200).map(|i| format!("m{i:03}")).collect();
    let callers = bodies.chunks(25).map(|mine| {
        let (sender, mine) = (sender.clone(), mine.to_vec());
        async move {
            for body in mine {
                sender.send(entry(&body)).await.expect("sent");
            }
        }
    });
    join_all(callers).await;
    let calls = sender.calls() - 1;
    assert!(calls <= 100, "{calls} calls for 200 messages from eight callers");

    let mut wanted: Vec<(String, String)> =
        bodies.iter().chain([&"alone".to_owned()]).map(|b| (b.clone(), format!("trace-of-{b}"))).collect();
    wanted.sort();
    assert_eq!(drain(&clients.sqs, &url).await, wanted, "each message once, with its own attribute");
}

#[tokio::test]
async fn a_call_sqs_refuses_is_refused_to_every_message_in_it() {
    let (clients, url) = payments_queue().await;
    clients.sqs.delete_queue().queue_url(&url).send().await.expect("delete the queue");
    let sender = BatchSender::spawn(clients.sqs.clone(), url);

    let results = join_all(["a", "b", "c"].map(|b| sender.send(entry(b)))).await;
    assert_eq!(sender.calls(), 1, "handed over together, the three share a call");
    for result in results {
        // Not sent, and not worth sending again: the caller logs it and the repair path takes over.
        assert!(matches!(result, Err(QueueError::Permanent(_))), "{result:?}");
    }
}
