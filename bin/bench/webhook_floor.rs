//! The webhook-worker's floor: what delivering one event needs, made directly with the SDK and a
//! plain HTTP client, on the events the webhook run just delivered (its services stopped). Per
//! event, the webhook-worker's happy path (src/app/delivery, src/dynamo/deliveries.rs):
//! 1. its share of a `ReceiveMessage` on the webhooks queue, the announcement as the workers send
//!    it (`sqs::job_entry`);
//! 2. `UpdateItem` on the event item: the lease, conditional, returning the whole item (`ALL_NEW`,
//!    which the webhook-worker needs to render the body);
//! 3. the signed POST of a webhook-sized body to the bare server (`bare::post_hook`), which answers 204;
//! 4. `TransactWriteItems`: the deliveries saved and the lease removed, on the condition that the
//!    lease is still its own, and the attempt's item put (a copy of the run's, under a key of
//!    its own);
//! 5. its share of a `DeleteMessageBatch`.
//!
//! Each receive asks for as many messages, with the same attributes, as the webhook-worker's
//! receives carried on average in the run; the messages carry a trace as the services' do; the
//! receives start at the pace the webhook-worker delivered at; each event is a task of its own
//! on the runtime's worker threads, as the webhook-worker's jobs are. Its CPU is the bench's own
//! over the phase (nothing else of the bench runs then). What the floor leaves out is the
//! webhook-worker's own work: reading the event out of the item, opening the endpoint's secret,
//! rendering the body, its span, log lines and metrics, its sweeps (their requests are priced,
//! `WebhookFloor::priced_at`).
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName};
use payment_platform::config::AwsArgs;
use payment_platform::domain::events::EventId;
use payment_platform::domain::ids::PaymentId;
use payment_platform::domain::queue::Job;
use payment_platform::dynamo::keys::{ATTEMPT_SK_PREFIX, EVENT_SK_PREFIX, PK, SK};
use payment_platform::dynamo::{DELIVERIES, LEASE};
use payment_platform::sqs::{BatchSender, TRACE_ATTRIBUTES, job_entry};
use serde::Serialize;

use super::error::BenchError;
use super::procs::Role;
use super::stats::round;
use super::system::System;

type Item = HashMap<String, AttributeValue>;

/// What the floor measured.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookFloor {
    pub events: u64,
    /// Messages asked for per receive.
    pub per_receive: usize,
    /// The bench's CPU per delivered event, µs (its POST included).
    pub cpu_us_per_event: f64,
    /// AWS requests per event (the POST not counted).
    pub requests_per_event: f64,
    /// The webhook-worker's CPU per event delivering the same events again, at the same pace, on
    /// the same quiet machine (`webhook_replay`), µs.
    pub replay_cpu_us_per_event: Option<f64>,
    /// The turns the floor and the webhook-worker took on the events, a share each
    /// (`webhook_pairs`); the figures above are over all of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<super::webhook_pairs::ReplayPair>,
}

/// What a floor of `cpu` µs for `made` requests (and a POST) per event would have spent making
/// `requests` instead: the difference, either way, priced at its mean per operation.
pub fn priced(cpu: f64, made: f64, requests: f64) -> f64 {
    cpu + (requests - made) * cpu / (made + 1.0)
}

impl WebhookFloor {
    /// What the floor would have spent making `requests` AWS requests per event instead of its
    /// own (the webhook-worker's sweeps, or receives that carried fewer messages): the difference,
    /// either way, priced at its mean per operation (a POST counted as one).
    pub fn priced_at(&self, requests: f64) -> f64 {
        priced(self.cpu_us_per_event, self.requests_per_event, requests)
    }
}

/// One delivered event of the run: its item's key, its deliveries and an attempt's item.
#[derive(Clone)]
pub struct Delivered {
    pub key: Item,
    deliveries: AttributeValue,
    attempt: Item,
    pub event: EventId,
}

#[derive(Default)]
struct Counts {
    receives: AtomicU64,
    deletes: AtomicU64,
    updates: AtomicU64,
    transactions: AtomicU64,
}

/// The floor's side of the webhook pairs (`webhook_pairs`): the bare server it POSTs to and a
/// queue of its own (nothing else, a catch-up or a sweep's re-announcement, lands in it).
pub struct FloorSide {
    shared: Arc<Shared>,
    sqs: aws_sdk_sqs::Client,
    queue: String,
}

impl FloorSide {
    pub async fn start(sys: &mut System, stack: &AwsArgs) -> Result<Self, BenchError> {
        let hook = format!("{}/hook", super::bare::start(sys, "bare-hooks", stack).await?);
        let clients = payment_platform::aws::clients(stack).await;
        let name = format!("{}-floor", stack.webhooks_queue);
        match clients.sqs.create_queue().queue_name(&name).send().await {
            Ok(created) => {
                let shared =
                    Shared { dynamodb: clients.dynamodb, http: sys.http.clone(), hook, table: stack.table.clone() };
                Ok(Self { shared: Arc::new(shared), sqs: clients.sqs, queue: created.queue_url.unwrap_or_default() })
            }
            Err(e) => {
                sys.stop_one(Role::BareHttp, stack).await;
                Err(BenchError::Unexpected(format!("creating its queue: {e}")))
            }
        }
    }

    pub async fn stop(self, sys: &mut System, stack: &AwsArgs) {
        let _ = self.sqs.delete_queue().queue_url(&self.queue).send().await;
        sys.stop_one(Role::BareHttp, stack).await;
    }

    /// One turn: `events` delivered at `rate` a second, `per_receive` asked for at a time.
    pub async fn turn(&self, events: &[Delivered], rate: f64, per_receive: usize) -> Result<WebhookFloor, BenchError> {
        run(&self.shared, self.sqs.clone(), self.queue.clone(), events, (rate, per_receive.clamp(1, 10))).await
    }
}

/// What every event's delivery uses.
struct Shared {
    dynamodb: aws_sdk_dynamodb::Client,
    http: reqwest::Client,
    hook: String,
    table: String,
}

async fn run(
    shared: &Arc<Shared>,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    events: &[Delivered],
    (rate, per_receive): (f64, usize),
) -> Result<WebhookFloor, BenchError> {
    if events.is_empty() || rate <= 0.0 {
        return Err(BenchError::Unexpected("the webhook run left no delivered event".into()));
    }
    // The announcements, sent before the measure, each with a trace as the services' carry.
    let sender = BatchSender::spawn(sqs.clone(), queue.clone());
    let sends = events.iter().map(|d| {
        let sender = sender.clone();
        let entry = job_entry(&Job::Deliver { event: d.event }, 0).map(|mut e| {
            let trace = format!("00-{}-{:016x}-01", uuid::Uuid::new_v4().simple(), rand::random::<u64>());
            let value = MessageAttributeValue::builder().data_type("String").string_value(trace).build();
            if let Ok(v) = value {
                e.message_attributes.get_or_insert_with(HashMap::new).insert(TRACE_ATTRIBUTES[0].to_owned(), v);
            }
            e
        });
        async move { sender.send(entry.map_err(|e| e.to_string())?).await.map_err(|e| e.to_string()) }
    });
    for sent in futures::future::join_all(sends).await {
        sent.map_err(|e| BenchError::Unexpected(format!("announcing for the floor: {e}")))?;
    }
    let n = events.len();
    let by_event: Arc<HashMap<EventId, Delivered>> = Arc::new(events.iter().map(|d| (d.event, d.clone())).collect());
    let (shared, counts) = (Arc::clone(shared), Arc::new(Counts::default()));

    let before = super::cpu::own_cpu_us();
    // On a worker thread of the runtime, each event a task of its own, as the webhook-worker
    // runs its jobs (not polled by the bench's main thread, whose wake-ups cost more).
    let replay = tokio::spawn({
        let (counts, by_event) = (counts.clone(), by_event.clone());
        async move {
            let (start, mut done) = (Instant::now(), 0usize);
            let deadline = start + Duration::from_secs_f64(n as f64 / rate * 3.0 + 60.0);
            while done < n && Instant::now() < deadline {
                // The next receive no earlier than the events so far take at the run's pace.
                tokio::time::sleep_until((start + Duration::from_secs_f64(done as f64 / rate)).into()).await;
                counts.receives.fetch_add(1, Ordering::Relaxed);
                let got = sqs
                    .receive_message()
                    .queue_url(&queue)
                    .max_number_of_messages(per_receive as i32)
                    .wait_time_seconds(1)
                    .visibility_timeout(30)
                    .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                    .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                    .set_message_attribute_names(Some(TRACE_ATTRIBUTES.map(String::from).to_vec()))
                    .send()
                    .await
                    .map_err(|e| format!("ReceiveMessage: {e}"))?;
                let messages = got.messages.unwrap_or_default();
                let tasks: Vec<_> = messages
                    .iter()
                    .map(|m| {
                        let job = m.body.as_deref().and_then(payment_platform::sqs::message::decode);
                        let (shared, counts, by_event) = (shared.clone(), counts.clone(), by_event.clone());
                        tokio::spawn(async move {
                            let found = match job {
                                Some(Job::Deliver { event }) => by_event.get(&event),
                                _ => None,
                            };
                            deliver(&shared, found, &counts).await
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.map_err(|e| e.to_string())??;
                }
                if !messages.is_empty() {
                    counts.deletes.fetch_add(1, Ordering::Relaxed);
                    let entries = messages.iter().enumerate().filter_map(|(i, m)| {
                        let receipt = m.receipt_handle.clone()?;
                        DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(receipt).build().ok()
                    });
                    sqs.delete_message_batch()
                        .queue_url(&queue)
                        .set_entries(Some(entries.collect()))
                        .send()
                        .await
                        .map_err(|e| format!("DeleteMessageBatch: {e}"))?;
                }
                done += messages.len();
            }
            Ok::<usize, String>(done)
        }
    });
    let done = replay.await.map_err(|e| BenchError::Unexpected(e.to_string()))?.map_err(BenchError::Unexpected)?;
    let used = before.zip(super::cpu::own_cpu_us()).map(|(b, a)| a.saturating_sub(b));
    if done < n {
        return Err(BenchError::Unexpected(format!("{done} of {n} events replayed in time")));
    }
    let used = used.ok_or_else(|| BenchError::Unexpected("the bench's own CPU is unreadable".into()))?;
    let requests = [&counts.receives, &counts.deletes, &counts.updates, &counts.transactions]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum::<u64>();
    Ok(WebhookFloor {
        events: done as u64,
        per_receive,
        cpu_us_per_event: round(used as f64 / done as f64, 1),
        requests_per_event: round(requests as f64 / done as f64, 2),
        replay_cpu_us_per_event: None,
        pairs: Vec::new(),
    })
}

/// Steps 2 to 4 for one event.
async fn deliver(shared: &Shared, found: Option<&Delivered>, counts: &Counts) -> Result<(), String> {
    let Shared { dynamodb, http, hook, table } = shared;
    let d = found.ok_or("a message the floor did not send")?;
    let now = super::load::now_ms();
    let lease = (now + 30_000).to_string();
    counts.updates.fetch_add(1, Ordering::Relaxed);
    let leased = dynamodb
        .update_item()
        .table_name(table)
        .set_key(Some(d.key.clone()))
        .update_expression(format!("SET {LEASE} = :lease"))
        .condition_expression(format!("attribute_exists(PK) AND (attribute_not_exists({LEASE}) OR {LEASE} < :now)"))
        .expression_attribute_values(":lease", AttributeValue::N(lease.clone()))
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .map_err(|e| format!("the lease: {e}"))?;
    let deliveries =
        leased.attributes.and_then(|mut item| item.remove(DELIVERIES)).unwrap_or_else(|| d.deliveries.clone());
    super::bare::post_hook(http, hook, &d.event.to_string()).await?;
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(d.key.clone()))
        .update_expression(format!("SET {DELIVERIES} = :d REMOVE {LEASE}, GSI2PK, GSI2SK"))
        .condition_expression(format!("{LEASE} = :lease"))
        .expression_attribute_values(":lease", AttributeValue::N(lease))
        .expression_attribute_values(":d", deliveries)
        .build()
        .map_err(|e| e.to_string())?;
    let mut attempt = d.attempt.clone();
    if let Some(AttributeValue::S(sk)) = attempt.get_mut(SK) {
        sk.push_str("#floor");
    }
    let put = Put::builder().table_name(table).set_item(Some(attempt)).build().map_err(|e| e.to_string())?;
    counts.transactions.fetch_add(1, Ordering::Relaxed);
    dynamodb
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().update(update).build())
        .transact_items(TransactWriteItem::builder().put(put).build())
        .send()
        .await
        .map_err(|e| format!("the save: {e}"))?;
    Ok(())
}

/// The events of the run that were delivered, each with one of its attempts' items (a scan,
/// before the measure).
pub async fn delivered(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<Vec<Delivered>, BenchError> {
    let (mut events, mut attempts): (Vec<Item>, HashMap<(String, String), Item>) = (Vec::new(), HashMap::new());
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .filter_expression("begins_with(SK, :e) OR begins_with(SK, :a)")
            .expression_attribute_values(":e", AttributeValue::S(EVENT_SK_PREFIX.into()))
            .expression_attribute_values(":a", AttributeValue::S(ATTEMPT_SK_PREFIX.into()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| BenchError::Unexpected(format!("scanning the run's events: {e}")))?;
        for item in page.items.unwrap_or_default() {
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let (pk, sk) = (text(PK), text(SK));
            if let Some(rest) = sk.strip_prefix(ATTEMPT_SK_PREFIX) {
                // `DELIVERY#<version>#<endpoint>#<number>`: one attempt per event is enough.
                let version = rest.split('#').next().unwrap_or_default().to_owned();
                attempts.entry((pk, version)).or_insert(item);
            } else if item.contains_key(DELIVERIES) {
                events.push(item);
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    Ok(events
        .into_iter()
        .filter_map(|item| {
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            let (pk, sk) = (text(PK)?, text(SK)?);
            let version = sk.strip_prefix(EVENT_SK_PREFIX)?.to_owned();
            let attempt = attempts.remove(&(pk.clone(), version.clone()))?;
            let payment_id = PaymentId::parse(pk.strip_prefix("PAY#")?).ok()?;
            let event = EventId { payment_id, version: version.parse().ok()? };
            let key = HashMap::from([(PK.to_owned(), AttributeValue::S(pk)), (SK.to_owned(), AttributeValue::S(sk))]);
            Some(Delivered { key, deliveries: item.get(DELIVERIES)?.clone(), attempt, event })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_the_floor_did_not_make_are_priced_at_its_mean_per_operation() {
        // 2.4 requests and a POST for 1,020 µs: 300 µs an operation.
        let floor = WebhookFloor {
            events: 100,
            per_receive: 5,
            cpu_us_per_event: 1020.0,
            requests_per_event: 2.4,
            replay_cpu_us_per_event: None,
            pairs: Vec::new(),
        };
        assert_eq!(floor.priced_at(2.4), 1020.0);
        assert!((floor.priced_at(2.5) - 1050.0).abs() < 1e-9);
        assert!((floor.priced_at(2.0) - 900.0).abs() < 1e-9);
    }
}
