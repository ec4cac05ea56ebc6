//! Webhooks through the use cases: endpoints and their secrets, and delivery on the memory
//! ports with a scripted receiver: the schedule, 410, disabling, leases, the sweep and
//! redelivery.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::flaky::{Fault, Flaky};
use super::*;
use crate::app::AppError;
use crate::app::Step;
use crate::app::delivery::{CATCH_UP_DELAY_SECS, Deliverer, DeliverySettings};
use crate::app::endpoints::NewEndpoint;
use crate::domain::events::{EventId, EventType};
use crate::domain::ports::{Clock, DeliveryClaim, Job, Outgoing, WebhookSender};
use crate::domain::webhooks::*;

/// A receiver that answers from a script (then 200) and records what it was sent.
#[derive(Default)]
struct Receiver {
    script: Mutex<VecDeque<AttemptOutcome>>,
    got: Mutex<Vec<(String, EventId, usize)>>,
}

impl Receiver {
    fn then(&self, outcome: AttemptOutcome) -> &Self {
        self.script.lock().unwrap().push_back(outcome);
        self
    }

    /// (url, event, number of signing secrets) of every request, in order.
    fn got(&self) -> Vec<(String, EventId, usize)> {
        self.got.lock().unwrap().clone()
    }
}

#[async_trait]
impl WebhookSender for Receiver {
    async fn send(&self, out: &Outgoing<'_>) -> AttemptOutcome {
        self.got.lock().unwrap().push((out.url.to_owned(), out.event.id(), out.secrets.len()));
        let next = self.script.lock().unwrap().pop_front();
        next.unwrap_or(AttemptOutcome::Answered { status: 200, retry_after_ms: None })
    }
}

fn status(code: u16) -> AttemptOutcome {
    AttemptOutcome::Answered { status: code, retry_after_ms: None }
}

fn hooks(w: &World, receiver: &Arc<Receiver>) -> Deliverer {
    let settings = DeliverySettings { disable_after_ms: 3_600_000, ..DeliverySettings::default() };
    Deliverer::new(w.services.clone(), Arc::clone(receiver) as Arc<dyn WebhookSender>, settings)
}

async fn endpoint(w: &World, url: &str, types: &[EventType]) -> (Endpoint, String) {
    let new = NewEndpoint {
        url: WebhookUrl::parse(url, false).unwrap(),
        event_types: types.to_vec(),
        description: Some("orders".into()),
    };
    w.services.create_endpoint(&merchant(), new).await.unwrap()
}

/// Delivers every announced event once, in order.
async fn deliver_announced(w: &World, hooks: &Deliverer) {
    for (event, _) in w.queue.deliveries() {
        assert_eq!(hooks.deliver(event).await, Step::Done);
    }
    w.queue.sent.lock().unwrap().clear();
}

#[tokio::test]
async fn an_endpoint_is_created_with_a_secret_shown_once_and_stored_sealed() {
    let w = World::new();
    let (created, secret) = endpoint(&w, "https://shop.example.com/hooks", &[]).await;
    assert!(secret.starts_with("whsec_") && crate::domain::webhooks::secret_bytes(&secret).unwrap().len() >= 24);
    let stored = w.services.endpoint(&merchant(), created.id).await.unwrap();
    assert_eq!(stored.secrets.len(), 1);
    assert!(!stored.secrets[0].sealed.contains(&secret[6..]), "the secret is sealed at rest");
    assert_eq!(w.services.secrets.open_secret(&stored.secrets[0].sealed, &created.id.to_string()).unwrap(), secret);
    assert_eq!(w.services.endpoints(&merchant()).await.unwrap().len(), 1);
    assert!(matches!(w.services.endpoint(&other_merchant(), created.id).await, Err(AppError::EndpointNotFound)));
    assert!(matches!(w.services.delete_endpoint(&other_merchant(), created.id).await, Err(AppError::EndpointNotFound)));
    w.services.delete_endpoint(&merchant(), created.id).await.unwrap();
    assert!(w.services.endpoints(&merchant()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_merchant_without_endpoints_pays_nothing_for_webhooks() {
    let w = World::new();
    let id = w.payment(500).await;
    assert_eq!(w.charge(id).await, Step::Done);
    assert!(w.queue.deliveries().is_empty(), "nothing announced");
    assert!(w.services.store.deliveries.outstanding(100).await.unwrap().is_empty(), "nothing indexed");
}

#[tokio::test]
async fn other_processes_learn_of_a_new_endpoint_within_the_discovery_time() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    // Another API replica that looked the merchant up just before the endpoint was created.
    let other = another_process(&w);
    let before = pay(&other).await;
    endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    let catch_up = w.queue.catch_ups();
    let here = w.payment(100).await;
    let stale = pay(&other).await;
    w.clock.advance(crate::app::DISCOVERY_MS);
    let fresh = pay(&other).await;
    let announced: Vec<_> = w.queue.deliveries().iter().map(|(e, _)| e.payment_id).collect();
    assert_eq!(announced, [here, fresh], "at once where it was created; elsewhere within 5 s");
    assert!(!announced.contains(&before) && !announced.contains(&stale));
    deliver_announced(&w, &hooks).await;
    assert_eq!(receiver.got().len(), 2);

    // Its catch-up, once every process knows it, gives it the two it missed: `stale`, and
    // `before`, recorded within the clock skew an endpoint's plan allows (`first_plan`).
    assert_eq!(catch_up.len(), 1, "sent by the process that created it");
    assert_eq!(catch_up[0].1, CATCH_UP_DELAY_SECS);
    w.clock.advance(u64::from(CATCH_UP_DELAY_SECS) * 1000);
    run_catch_ups(&hooks, &catch_up).await;
    deliver_announced(&w, &hooks).await;
    let mut got: Vec<_> = receiver.got().iter().map(|(_, e, _)| e.payment_id.to_string()).collect();
    got.sort();
    let mut every: Vec<_> = [before, here, stale, fresh].map(|p| p.to_string()).to_vec();
    every.sort();
    assert_eq!(got, every, "each once");
}

/// Another process of the same services, with its own knowledge of the merchants' endpoints.
fn another_process(w: &World) -> crate::app::Services {
    crate::app::Services { presence: Arc::default(), ..w.services.clone() }
}

/// A payment of 1.00 through `s`.
async fn pay(s: &crate::app::Services) -> crate::domain::ids::PaymentId {
    id_of(&s.create_payment(&merchant(), request("4242424242424242", 100), None).await.unwrap())
}

async fn run_catch_ups(hooks: &Deliverer, jobs: &[(Job, u32)]) {
    for (job, _) in jobs {
        let Job::CatchUp { merchant, endpoint } = job else { panic!("{job:?}") };
        assert_eq!(hooks.catch_up(merchant, *endpoint).await, Step::Done);
    }
}

/// The webhook-worker plans an event's first round from what it read of the merchant's endpoints
/// up to `DISCOVERY_MS` before: an event of a new endpoint's first second can be planned without
/// it, though its writer knew of it. The catch-up adds that delivery, and nothing else: no
/// endpoint gets an event twice, and a catch-up run again changes nothing.
#[tokio::test]
async fn a_new_endpoint_gets_the_events_of_its_first_seconds_that_a_round_planned_without_it() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    endpoint(&w, "https://first.example.com/", &[EventType::PaymentCreated]).await;
    let mut catch_ups = w.queue.catch_ups();
    w.payment(100).await;
    // Delivered (the worker reads the endpoints) more than the clock skew after it was recorded,
    // so that it is not the second endpoint's to get.
    w.clock.advance(5_500);
    deliver_announced(&w, &hooks).await;
    let (second, _) = endpoint(&w, "https://second.example.com/", &[EventType::PaymentCreated]).await;
    catch_ups.extend(w.queue.catch_ups());
    let early = w.payment(100).await;
    deliver_announced(&w, &hooks).await;
    let sent_to = |id: crate::domain::ids::PaymentId| -> Vec<String> {
        receiver.got().into_iter().filter(|(_, e, _)| e.payment_id == id).map(|(url, _, _)| url).collect()
    };
    assert_eq!(sent_to(early), ["https://first.example.com/"], "planned from the worker's older read");

    w.clock.advance(u64::from(CATCH_UP_DELAY_SECS) * 1000);
    assert_eq!(catch_ups.len(), 2);
    run_catch_ups(&hooks, &catch_ups).await;
    deliver_announced(&w, &hooks).await;
    assert_eq!(sent_to(early), ["https://first.example.com/", "https://second.example.com/"]);
    assert_eq!(receiver.got().len(), 3, "the first payment's event only to the first endpoint");
    let attempts = w.services.store.deliveries.attempts(early_event(&w, early).await).await.unwrap();
    assert_eq!(attempts.iter().filter(|a| a.endpoint == second.id).count(), 1);

    run_catch_ups(&hooks, &catch_ups).await;
    assert!(w.queue.deliveries().is_empty(), "nothing more to deliver");
    assert_eq!(receiver.got().len(), 3);
}

/// A round holding an event (another worker's) makes the catch-up pass it over and ask to be
/// tried again; the others are planned at once, and the held one on the next try.
#[tokio::test]
async fn a_catch_up_passes_over_an_event_a_round_holds_and_comes_back_for_it() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    let other = another_process(&w);
    pay(&other).await;
    endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    let catch_up = w.queue.catch_ups();
    let free = pay(&other).await;
    let held = pay(&other).await;
    w.clock.advance(u64::from(CATCH_UP_DELAY_SECS) * 1000);
    let now = w.clock.now_ms();
    let held_event = EventId { payment_id: held, version: 1 };
    let claim = w.services.store.deliveries.claim_delivery(held_event, now, now + 60_000, true).await.unwrap();
    assert!(matches!(claim, DeliveryClaim::Claimed { .. }));
    let Job::CatchUp { merchant, endpoint } = &catch_up[0].0 else { panic!("{catch_up:?}") };
    assert!(matches!(hooks.catch_up(merchant, *endpoint).await, Step::Retry(_)));
    deliver_announced(&w, &hooks).await;
    let got = || receiver.got().iter().map(|(_, e, _)| e.payment_id.to_string()).collect::<Vec<_>>();
    assert!(got().contains(&free.to_string()) && !got().contains(&held.to_string()), "{:?}", got());

    w.clock.advance(60_001);
    assert_eq!(hooks.catch_up(merchant, *endpoint).await, Step::Done);
    deliver_announced(&w, &hooks).await;
    assert_eq!(got().iter().filter(|p| **p == held.to_string()).count(), 1, "{:?}", got());
    assert_eq!(got().iter().filter(|p| **p == free.to_string()).count(), 1, "not twice: {:?}", got());
}

/// The first event (`payment.created`) of `payment`.
async fn early_event(w: &World, payment: crate::domain::ids::PaymentId) -> EventId {
    let trail = w.services.store.events.payment_events(payment, 10, None).await.unwrap();
    trail.events[0].id()
}

/// An endpoint deleted before its catch-up runs gets nothing.
#[tokio::test]
async fn a_catch_up_for_an_endpoint_deleted_since_does_nothing() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    let other = another_process(&w);
    pay(&other).await;
    let (gone, _) = endpoint(&w, "https://shop.example.com/", &[]).await;
    let catch_up = w.queue.catch_ups();
    pay(&other).await;
    w.services.delete_endpoint(&merchant(), gone.id).await.unwrap();
    w.clock.advance(u64::from(CATCH_UP_DELAY_SECS) * 1000);
    run_catch_ups(&hooks, &catch_up).await;
    assert!(w.queue.deliveries().is_empty());
    assert!(w.services.store.deliveries.outstanding(100).await.unwrap().is_empty(), "nothing indexed");
}

#[tokio::test]
async fn a_merchant_has_at_most_sixteen_endpoints() {
    let w = World::new();
    for _ in 0..MAX_ENDPOINTS {
        endpoint(&w, "https://shop.example.com/hooks", &[]).await;
    }
    let new = NewEndpoint {
        url: WebhookUrl::parse("https://a.example.com/", false).unwrap(),
        event_types: vec![],
        description: None,
    };
    assert!(matches!(w.services.create_endpoint(&merchant(), new).await, Err(AppError::TooManyEndpoints(16))));
}

#[tokio::test]
async fn every_subscribed_event_is_delivered_once_and_leaves_the_due_index() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    let (all, _) = endpoint(&w, "https://all.example.com/", &[]).await;
    endpoint(&w, "https://settled.example.com/", &[EventType::PaymentSucceeded]).await;
    let id = w.payment(500).await;
    assert_eq!(w.charge(id).await, Step::Done);
    let announced: Vec<u64> = w.queue.deliveries().iter().map(|(e, _)| e.version).collect();
    assert_eq!(announced, [1, 2, 3], "each change announces its event");
    deliver_announced(&w, &hooks).await;
    let got = receiver.got();
    let to = |url: &str| got.iter().filter(|g| g.0 == url).map(|g| g.1.version).collect::<Vec<_>>();
    assert_eq!(to("https://all.example.com/"), [1, 2, 3]);
    assert_eq!(to("https://settled.example.com/"), [3], "only the subscribed type");
    assert!(w.services.store.deliveries.outstanding(100).await.unwrap().is_empty());
    let attempts = w.services.delivery_attempts(&merchant(), EventId { payment_id: id, version: 3 }).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|a| a.status_code == Some(200) && a.number == 1));
    assert!(attempts.iter().any(|a| a.endpoint == all.id));
    // A second message for a delivered event sends nothing.
    assert_eq!(hooks.deliver(EventId { payment_id: id, version: 1 }).await, Step::Done);
    assert_eq!(receiver.got().len(), got.len());
    let foreign = w.services.delivery_attempts(&other_merchant(), EventId { payment_id: id, version: 3 }).await;
    assert!(matches!(foreign, Err(AppError::EventNotFound)));
}

#[tokio::test]
async fn a_failed_attempt_is_retried_on_the_schedule_and_carried_by_the_queue_or_the_sweep() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    receiver.then(status(500)).then(AttemptOutcome::Timeout).then(AttemptOutcome::Unreachable);
    let id = w.payment(500).await;
    let event = EventId { payment_id: id, version: 1 };
    w.queue.sent.lock().unwrap().clear();
    assert_eq!(hooks.deliver(event).await, Step::Done);
    let next = w.queue.deliveries();
    assert_eq!(next.len(), 1, "the next attempt is enqueued");
    assert!((4..=6).contains(&next[0].1), "after about 5 s: {}", next[0].1);
    assert_eq!(hooks.deliver(event).await, Step::Done);
    assert_eq!(receiver.got().len(), 1, "not due yet: nothing sent");
    w.clock.advance(6_000);
    w.queue.sent.lock().unwrap().clear();
    assert_eq!(hooks.deliver(event).await, Step::Done);
    let next = w.queue.deliveries();
    assert!((270..=330).contains(&next[0].1), "after about 5 min: {}", next[0].1);
    w.clock.advance(331_000);
    w.queue.sent.lock().unwrap().clear();
    assert_eq!(hooks.deliver(event).await, Step::Done);
    assert!(w.queue.deliveries().is_empty(), "30 min is longer than SQS holds a message: left to the sweep");
    assert_eq!(hooks.sweep(std::time::Duration::from_secs(60), 100).await.unwrap(), 0, "not due yet");
    w.clock.advance(33 * 60_000 + 61_000);
    assert_eq!(hooks.sweep(std::time::Duration::from_secs(60), 100).await.unwrap(), 1);
    assert_eq!(hooks.sweep(std::time::Duration::from_secs(60), 100).await.unwrap(), 0, "claimed once");
    assert_eq!(w.queue.deliveries().len(), 1);
    assert_eq!(hooks.deliver(event).await, Step::Done);
    let attempts = w.services.delivery_attempts(&merchant(), event).await.unwrap();
    let seen: Vec<_> = attempts.iter().map(|a| (a.number, a.status_code, a.error.as_deref())).collect();
    assert_eq!(
        seen,
        [(1, Some(500), None), (2, None, Some("timeout")), (3, None, Some("unreachable")), (4, Some(200), None)]
    );
    assert!(w.services.store.deliveries.outstanding(100).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_schedule_runs_out_and_the_delivery_fails() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let settings = DeliverySettings { schedule: RetrySchedule::parse("1s,1s").unwrap(), ..DeliverySettings::default() };
    let hooks = Deliverer::new(w.services.clone(), Arc::clone(&receiver) as Arc<dyn WebhookSender>, settings);
    let (e, _) = endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    receiver.then(status(500)).then(status(502)).then(status(503));
    let event = EventId { payment_id: w.payment(500).await, version: 1 };
    for _ in 0..3 {
        hooks.deliver(event).await;
        w.clock.advance(2_000);
    }
    assert_eq!(receiver.got().len(), 3);
    assert!(w.services.store.deliveries.outstanding(100).await.unwrap().is_empty(), "failed: out of the index");
    let stored = w.services.endpoint(&merchant(), e.id).await.unwrap();
    assert_eq!((stored.status, stored.failing_since_ms.is_some()), (EndpointStatus::Enabled, true));
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_days_of_failure_do_too() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    let (gone, _) = endpoint(&w, "https://gone.example.com/", &[EventType::PaymentCreated]).await;
    // Created later, so attempted second (deliveries follow the endpoints' creation order).
    w.clock.advance(1);
    let (flaky, _) = endpoint(&w, "https://flaky.example.com/", &[EventType::PaymentCreated]).await;
    receiver.then(status(410)).then(status(500));
    let first = EventId { payment_id: w.payment(500).await, version: 1 };
    hooks.deliver(first).await;
    let stored = w.services.endpoint(&merchant(), gone.id).await.unwrap();
    assert_eq!((stored.status, stored.disabled_reason.as_deref()), (EndpointStatus::Disabled, Some("gone")));
    // An hour of nothing but failures (this test's limit) disables the other one.
    w.clock.advance(3_600_001);
    receiver.then(status(500)).then(status(500));
    hooks.deliver(first).await;
    let stored = w.services.endpoint(&merchant(), flaky.id).await.unwrap();
    assert_eq!((stored.status, stored.disabled_reason.as_deref()), (EndpointStatus::Disabled, Some("failing")));
    let before = receiver.got().len();
    let later = EventId { payment_id: w.payment(500).await, version: 1 };
    hooks.deliver(later).await;
    assert_eq!(receiver.got().len(), before, "disabled endpoints get nothing");
}

#[tokio::test]
async fn an_endpoint_gets_the_events_recorded_once_it_exists() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    let before = EventId { payment_id: w.payment(500).await, version: 1 };
    // Past the allowance for clock skew between the hosts that stamped the two.
    w.clock.advance(5_001);
    endpoint(&w, "https://shop.example.com/", &[]).await;
    assert_eq!(hooks.deliver(before).await, Step::Done);
    assert!(receiver.got().is_empty(), "recorded before the endpoint existed");
    assert!(w.services.store.deliveries.outstanding(100).await.unwrap().is_empty(), "and out of the index");
    let after = EventId { payment_id: w.payment(500).await, version: 1 };
    hooks.deliver(after).await;
    assert_eq!(receiver.got().len(), 1);
    assert_eq!(w.services.redeliver(&merchant(), before).await.unwrap(), 1, "unless asked for");
    hooks.deliver(before).await;
    assert_eq!(receiver.got().len(), 2);
}

#[tokio::test]
async fn a_duplicate_message_that_finds_nothing_due_sends_nothing_and_enqueues_nothing() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    receiver.then(status(500));
    let event = EventId { payment_id: w.payment(500).await, version: 1 };
    hooks.deliver(event).await;
    w.queue.sent.lock().unwrap().clear();
    for _ in 0..3 {
        assert_eq!(hooks.deliver(event).await, Step::Done);
    }
    assert_eq!(receiver.got().len(), 1);
    assert!(w.queue.deliveries().is_empty(), "early copies do not multiply");
}

#[tokio::test]
async fn a_secret_that_no_key_opens_fails_attempts_on_the_schedule() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    let (mut e, _) = endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    e.secrets[0].sealed = "v1.00000000.c2VhbGVkIGJ5IGEgbG9zdCBrZXk=".into();
    w.services.store.endpoints.update_endpoint(&e).await.unwrap();
    let event = EventId { payment_id: w.payment(500).await, version: 1 };
    hooks.deliver(event).await;
    assert!(receiver.got().is_empty(), "nothing unsigned is sent");
    let attempts = w.services.delivery_attempts(&merchant(), event).await.unwrap();
    assert_eq!(attempts.iter().map(|a| a.error.as_deref()).collect::<Vec<_>>(), [Some("unsignable")]);
    let due = w.services.store.deliveries.outstanding(100).await.unwrap();
    assert!(due[0].due_ms >= w.clock.now_ms() + 4_500, "the next try waits its turn on the schedule");
}

#[tokio::test]
async fn redelivery_asked_twice_before_it_runs_sends_once() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    let event = EventId { payment_id: w.payment(500).await, version: 1 };
    hooks.deliver(event).await;
    assert_eq!(w.services.redeliver(&merchant(), event).await.unwrap(), 1);
    assert_eq!(w.services.redeliver(&merchant(), event).await.unwrap(), 1);
    for _ in 0..3 {
        hooks.deliver(event).await;
    }
    assert_eq!(receiver.got().len(), 2, "the first delivery and one redelivery");
}

#[tokio::test]
async fn a_deleted_endpoint_gets_no_more_attempts() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    let (e, _) = endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    receiver.then(status(500));
    let event = EventId { payment_id: w.payment(500).await, version: 1 };
    hooks.deliver(event).await;
    w.services.delete_endpoint(&merchant(), e.id).await.unwrap();
    w.clock.advance(10_000);
    hooks.deliver(event).await;
    assert_eq!(receiver.got().len(), 1);
    assert!(w.services.store.deliveries.outstanding(100).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_leased_event_is_left_to_its_holder() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    endpoint(&w, "https://shop.example.com/", &[]).await;
    let event = EventId { payment_id: w.payment(500).await, version: 1 };
    let now = w.clock.now_ms();
    let claim = w.services.store.deliveries.claim_delivery(event, now, now + 60_000, false).await.unwrap();
    assert!(matches!(claim, DeliveryClaim::Claimed { .. }));
    assert_eq!(hooks.deliver(event).await, Step::Done);
    assert!(receiver.got().is_empty(), "another worker holds it");
    w.clock.advance(60_001);
    assert_eq!(hooks.deliver(event).await, Step::Done);
    assert_eq!(receiver.got().len(), 1, "its lease ran out: taken over");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_and_redelivery_sends_again() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    let (e, first) = endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    let (rotated, second) = w.services.rotate_secret(&merchant(), e.id).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(rotated.secrets.len(), 2);
    let event = EventId { payment_id: w.payment(500).await, version: 1 };
    hooks.deliver(event).await;
    assert_eq!(receiver.got()[0].2, 2, "two signatures during the overlap");
    assert_eq!(w.services.redeliver(&merchant(), event).await.unwrap(), 1);
    assert!(matches!(w.services.redeliver(&other_merchant(), event).await, Err(AppError::EventNotFound)));
    w.clock.advance(ROTATION_OVERLAP_MS);
    hooks.deliver(event).await;
    assert_eq!(receiver.got().len(), 2, "sent again");
    assert_eq!(receiver.got()[1].2, 1, "the old secret no longer signs");
    let numbers: Vec<u32> =
        w.services.delivery_attempts(&merchant(), event).await.unwrap().iter().map(|a| a.number).collect();
    assert_eq!(numbers, [1, 2]);
}

/// One slot per endpoint, a wait of 100 ms for it, and a receiver held at the `Gate` until
/// released; with three events to deliver to it.
async fn one_slot_behind_a_gate() -> (World, Arc<Gate>, Arc<Deliverer>, [EventId; 3]) {
    let w = World::new();
    let gate = Arc::new(Gate::default());
    let settings = DeliverySettings {
        endpoint_concurrency: 1,
        slot_wait: Duration::from_millis(100),
        ..DeliverySettings::default()
    };
    let hooks = Arc::new(Deliverer::new(w.services.clone(), Arc::clone(&gate) as Arc<dyn WebhookSender>, settings));
    endpoint(&w, "https://slow.example.com/", &[EventType::PaymentCreated]).await;
    let events = [w.payment(500).await, w.payment(500).await, w.payment(500).await]
        .map(|payment_id| EventId { payment_id, version: 1 });
    (w, gate, hooks, events)
}

/// Starts `event`'s round and answers once its attempt is held at the gate.
async fn held_at_the_gate(hooks: &Arc<Deliverer>, gate: &Gate, event: EventId) -> tokio::task::JoinHandle<Step> {
    let round = tokio::spawn({
        let hooks = Arc::clone(hooks);
        async move { hooks.deliver(event).await }
    });
    gate.entered.acquire().await.unwrap().forget();
    round
}

/// Delivers `event` while the one slot is held: no attempt, and due again after how long.
async fn postponed_by(w: &World, hooks: &Deliverer, event: EventId) -> u64 {
    assert_eq!(hooks.deliver(event).await, Step::Done, "it waits for a slot no longer than slot_wait");
    assert!(w.services.delivery_attempts(&merchant(), event).await.unwrap().is_empty(), "no attempt counted");
    let due = w.services.store.deliveries.outstanding(100).await.unwrap();
    due.iter().find(|d| d.event == event).map(|d| d.due_ms - w.clock.now_ms()).unwrap()
}

/// Before any attempt to an endpoint has ended, a postponed delivery waits about twice as long
/// as the attempts have been in flight: a second or two at the start of a first burst, longer
/// and longer while a slow receiver still holds its slots, at most two timeouts. Paused time:
/// the clock moves only when the test advances it (or every task is idle).
#[tokio::test(start_paused = true)]
async fn a_busy_endpoint_is_postponed_without_counting_an_attempt() {
    let (w, gate, hooks, [a, b, c]) = one_slot_behind_a_gate().await;
    let first = held_at_the_gate(&hooks, &gate, a).await;
    let waits = postponed_by(&w, &hooks, b).await;
    assert!((1_000..2_000).contains(&waits), "nothing says the receiver is slow yet: {waits}");
    tokio::time::advance(Duration::from_secs(6)).await;
    let waits = postponed_by(&w, &hooks, c).await;
    // In flight for 6.2 s: the 6 s advanced, and b's and c's rounds' 100 ms waits for the slot.
    assert!((12_400..24_800).contains(&waits), "twice its attempt's time in flight, jittered: {waits}");
    tokio::time::advance(Duration::from_secs(20)).await;
    w.clock.advance(24_000);
    let waits = postponed_by(&w, &hooks, b).await;
    assert!((15_000..30_000).contains(&waits), "at most one to two timeouts, jittered: {waits}");
    gate.release.add_permits(1);
    assert_eq!(first.await.unwrap(), Step::Done);
    assert_eq!(w.services.delivery_attempts(&merchant(), a).await.unwrap().len(), 1);
}

/// A receiver that answered its last attempt at once is busy only for milliseconds: a round
/// that ran out of its wait in a burst comes back in 1-2 s, not one to two timeouts.
#[tokio::test]
async fn a_fast_receiver_s_postponed_delivery_comes_back_within_seconds() {
    let (w, gate, hooks, [a, b, c]) = one_slot_behind_a_gate().await;
    // a: answered as soon as it is sent.
    let first = held_at_the_gate(&hooks, &gate, a).await;
    gate.release.add_permits(1);
    assert_eq!(first.await.unwrap(), Step::Done);
    // b holds the one slot; c, behind it, runs out of its wait.
    let second = held_at_the_gate(&hooks, &gate, b).await;
    let waits = postponed_by(&w, &hooks, c).await;
    assert!((1_000..2_000).contains(&waits), "a second or two, jittered: {waits}");
    gate.release.add_permits(1);
    assert_eq!(second.await.unwrap(), Step::Done);
}

// Paused time: the runtime moves the clock only when every task is idle, so the short sleep
// below ends once b's round is waiting for the slot, whatever order the tasks run in.
#[tokio::test(start_paused = true)]
async fn an_event_waits_for_a_slot_that_frees_within_the_wait_and_is_not_postponed() {
    let w = World::new();
    let gate = Arc::new(Gate::default());
    let settings =
        DeliverySettings { endpoint_concurrency: 1, slot_wait: Duration::from_secs(30), ..DeliverySettings::default() };
    let hooks = Arc::new(Deliverer::new(w.services.clone(), Arc::clone(&gate) as Arc<dyn WebhookSender>, settings));
    endpoint(&w, "https://slow.example.com/", &[EventType::PaymentCreated]).await;
    let a = EventId { payment_id: w.payment(500).await, version: 1 };
    let b = EventId { payment_id: w.payment(500).await, version: 1 };
    let deliver = |e: EventId| {
        let hooks = Arc::clone(&hooks);
        tokio::spawn(async move { hooks.deliver(e).await })
    };
    let first = deliver(a);
    gate.entered.acquire().await.unwrap().forget();
    let second = deliver(b);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(gate.entered.try_acquire().is_err(), "b's attempt has not started: a holds the one slot");
    // Once a's attempt ends, b's is made in the same round.
    gate.release.add_permits(2);
    assert_eq!(first.await.unwrap(), Step::Done);
    assert_eq!(second.await.unwrap(), Step::Done);
    for e in [a, b] {
        assert_eq!(w.services.delivery_attempts(&merchant(), e).await.unwrap().len(), 1, "{e:?} delivered once");
    }
    let due = w.services.store.deliveries.outstanding(100).await.unwrap();
    assert!(due.iter().all(|d| d.event != b), "b delivered in its round, not postponed: {due:?}");
}

#[tokio::test]
async fn a_merchant_at_its_bound_does_not_block_another_merchants_deliveries() {
    let w = World::new();
    let gate = Arc::new(Gate::default());
    // Two slots in all: without a bound of its own, one merchant's two slow endpoints take both.
    let settings = DeliverySettings {
        concurrency: 2,
        merchant_concurrency: 1,
        slot_wait: Duration::ZERO,
        ..DeliverySettings::default()
    };
    let hooks = Arc::new(Deliverer::new(w.services.clone(), Arc::clone(&gate) as Arc<dyn WebhookSender>, settings));
    endpoint(&w, "https://slow.example.com/1", &[EventType::PaymentCreated]).await;
    endpoint(&w, "https://slow.example.com/2", &[EventType::PaymentCreated]).await;
    let new = NewEndpoint {
        url: WebhookUrl::parse("https://fast.example.com/", false).unwrap(),
        event_types: vec![EventType::PaymentCreated],
        description: None,
    };
    w.services.create_endpoint(&other_merchant(), new).await.unwrap();
    let slow = EventId { payment_id: w.payment(500).await, version: 1 };
    let theirs = w.services.create_payment(&other_merchant(), request("4242424242424242", 100), None).await.unwrap();
    let fast = EventId { payment_id: id_of(&theirs), version: 1 };
    let first = tokio::spawn({
        let hooks = Arc::clone(&hooks);
        async move { hooks.deliver(slow).await }
    });
    gate.entered.acquire().await.unwrap().forget();
    assert_eq!(hooks.deliver(fast).await, Step::Done, "the other merchant's round waits for no slot");
    let theirs = w.services.delivery_attempts(&other_merchant(), fast).await.unwrap();
    assert_eq!(theirs.iter().map(|a| a.status_code).collect::<Vec<_>>(), [Some(200)], "delivered at once");
    gate.release.add_permits(1);
    assert_eq!(first.await.unwrap(), Step::Done);
    let ours = w.services.delivery_attempts(&merchant(), slow).await.unwrap();
    assert_eq!(ours.len(), 1, "the merchant's second endpoint waited for its slot, no attempt counted");
    let due = w.services.store.deliveries.outstanding(100).await.unwrap();
    assert!(due.iter().any(|d| d.event == slow && d.due_ms > w.clock.now_ms()), "postponed, still due");
    assert_eq!(hooks.tracked_slots(), (3, 2), "the slots of each endpoint and merchant seen");
}

#[tokio::test]
async fn racing_creates_never_make_a_seventeenth_endpoint() {
    let w = World::new();
    let creates = (0..20).map(|i| {
        let services = w.services.clone();
        tokio::spawn(async move {
            let new = NewEndpoint {
                url: WebhookUrl::parse(&format!("https://shop.example.com/{i}"), false).unwrap(),
                event_types: vec![],
                description: None,
            };
            services.create_endpoint(&merchant(), new).await
        })
    });
    let results = futures::future::join_all(creates).await;
    let created = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let refused = results.iter().filter(|r| matches!(r, Ok(Err(AppError::TooManyEndpoints(16))))).count();
    assert_eq!((created, refused), (16, 4));
    assert_eq!(w.services.endpoints(&merchant()).await.unwrap().len(), MAX_ENDPOINTS);
    let one = w.services.endpoints(&merchant()).await.unwrap()[0].id;
    w.services.delete_endpoint(&merchant(), one).await.unwrap();
    endpoint(&w, "https://shop.example.com/again", &[]).await;
}

#[tokio::test]
async fn a_burst_of_redeliveries_is_limited_per_merchant() {
    let (w, receiver) = (World::new(), Arc::new(Receiver::default()));
    let hooks = hooks(&w, &receiver);
    endpoint(&w, "https://shop.example.com/", &[EventType::PaymentCreated]).await;
    let events = [w.payment(500).await, w.payment(600).await].map(|payment_id| EventId { payment_id, version: 1 });
    deliver_announced(&w, &hooks).await;
    for i in 0..crate::app::redelivery::REDELIVERY_BURST {
        let event = events[usize::try_from(i % 2).unwrap()];
        assert_eq!(w.services.redeliver(&merchant(), event).await.unwrap(), 1, "redelivery {i}");
    }
    let limited = w.services.redeliver(&merchant(), events[0]).await;
    assert!(matches!(limited, Err(AppError::RedeliveriesLimited { retry_after_secs: 3 })), "{limited:?}");
    // Another merchant's budget is its own (its event is not found, but it is not limited).
    assert!(matches!(w.services.redeliver(&other_merchant(), events[0]).await, Err(AppError::EventNotFound)));
    let resp = axum::response::IntoResponse::into_response(crate::http::error::ApiError::from(limited.unwrap_err()));
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    w.clock.advance(crate::app::redelivery::REDELIVERY_EVERY_MS);
    w.services.redeliver(&merchant(), events[1]).await.unwrap();
    assert!(w.services.redeliver(&merchant(), events[1]).await.is_err(), "one per 3 s after the burst");
}

/// A receiver that holds each request to a `slow` URL until the test releases it (and answers
/// the others at once).
struct Gate {
    entered: tokio::sync::Semaphore,
    release: tokio::sync::Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Self { entered: tokio::sync::Semaphore::new(0), release: tokio::sync::Semaphore::new(0) }
    }
}

#[async_trait]
impl WebhookSender for Gate {
    async fn send(&self, out: &Outgoing<'_>) -> AttemptOutcome {
        if !out.url.contains("slow") {
            return status(200);
        }
        self.entered.add_permits(1);
        self.release.acquire().await.unwrap().forget();
        status(200)
    }
}

/// A create whose write landed but was not confirmed (a stalled table) answers that the outcome
/// is unknown, and still queues the endpoint's catch-up: the events of its first seconds are
/// owed to it all the same. One that never landed queues it too; the catch-up finds nothing.
#[tokio::test]
async fn an_endpoint_whose_write_was_not_confirmed_still_gets_its_catch_up() {
    for fault in [Fault::AppliedButLost, Fault::NotApplied] {
        let mut w = World::new();
        Flaky::install_endpoints(&mut w, fault, 1);
        let receiver = Arc::new(Receiver::default());
        let hooks = hooks(&w, &receiver);
        let url = WebhookUrl::parse("https://shop.example.com/", false).unwrap();
        let new = NewEndpoint { url, event_types: vec![], description: None };
        let answer = w.services.create_endpoint(&merchant(), new).await;
        assert!(matches!(answer, Err(AppError::OutcomeUnknown)), "{answer:?}");
        let stored: Vec<_> = w.services.endpoints(&merchant()).await.unwrap().into_iter().map(|e| e.id).collect();
        let catch_ups = w.queue.catch_ups();
        assert_eq!(catch_ups.len(), 1, "{catch_ups:?}");
        let Job::CatchUp { endpoint, .. } = &catch_ups[0].0 else { panic!("{catch_ups:?}") };
        match fault {
            Fault::AppliedButLost => assert_eq!(stored, [*endpoint], "the catch-up names the endpoint that landed"),
            Fault::NotApplied => assert!(stored.is_empty(), "{stored:?}"),
        }
        w.clock.advance(u64::from(CATCH_UP_DELAY_SECS) * 1000);
        run_catch_ups(&hooks, &catch_ups).await;
    }
}
