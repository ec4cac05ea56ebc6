//! The event log through the use cases: one event per change, none for what changes nothing,
//! versions without gaps whatever races, and another merchant's events out of reach.
use super::flaky::{Fault, Flaky};
use super::*;
use crate::app::AppError;
use crate::app::Step;
use crate::domain::events::{Event, EventId, EventType};
use crate::testing::fakes::FixedTrace;

async fn trail(w: &World, id: PaymentId) -> Vec<Event> {
    w.services.payment_events(&merchant(), id, 100, None).await.unwrap().events
}

fn kinds(events: &[Event]) -> Vec<(u64, EventType)> {
    events.iter().map(|e| (e.version, e.kind)).collect()
}

#[tokio::test]
async fn a_charged_and_refunded_payment_has_one_event_per_change_in_order() {
    use EventType::*;
    let w = World::new();
    let key = keyed("order-9", "h9");
    let resp = w.services.create_payment(&merchant(), request("4242424242424242", 1000), Some(&key)).await.unwrap();
    let id = id_of(&resp);
    assert_eq!(w.charge(id).await, Step::Done);
    w.services.request_refund(&merchant(), id, Some(amount(400)), Default::default(), None).await.unwrap();
    let refund = w.view(id).await.refunds[0].id;
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, refund).await, Step::Done);
    let events = trail(&w, id).await;
    assert_eq!(
        kinds(&events),
        [
            (1, PaymentCreated),
            (2, PaymentProcessing),
            (3, PaymentSucceeded),
            (4, RefundCreated),
            (5, RefundProcessing),
            (6, RefundSucceeded)
        ]
    );
    let actors: Vec<String> = events.iter().map(|e| e.cause.actor.to_string()).collect();
    assert_eq!(actors[0], "merchant:test@merchant");
    assert_eq!(actors[1..3], ["payment-worker", "payment-worker"]);
    assert_eq!(actors[5], "refund-worker");
    assert!(events[0].cause.idempotency_key && !events[3].cause.idempotency_key);
    assert!(events.iter().all(|e| e.cause.trace_id.as_deref() == Some(FixedTrace::ID)));
    assert!(events.iter().all(|e| e.data.payment.sealed_card.is_none()), "no card data in any event");
    let last = events.last().unwrap();
    let mut now = w.view(id).await;
    now.payment.sealed_card = None;
    assert_eq!(last.data, now, "the last event shows the payment as it is");
    assert_eq!(last.refund_id, Some(refund));
}

#[tokio::test]
async fn duplicate_messages_and_late_results_record_nothing() {
    let w = World::new();
    let id = w.payment(500).await;
    assert_eq!(w.charge(id).await, Step::Done);
    w.services.request_refund(&merchant(), id, None, Default::default(), None).await.unwrap();
    let refund = w.view(id).await.refunds[0].id;
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, refund).await, Step::Done);
    let before = trail(&w, id).await;
    for _ in 0..3 {
        assert_eq!(w.charge(id).await, Step::Done);
        assert_eq!(w.services.process_refund(w.bank.as_ref(), id, refund).await, Step::Done);
    }
    assert_eq!(trail(&w, id).await, before);
    assert_eq!(w.view(id).await.payment.version, before.len() as u64);
}

#[tokio::test]
async fn concurrent_refunds_record_consecutive_versions_and_one_event_each() {
    let w = World::new();
    let id = w.payment(1000).await;
    assert_eq!(w.charge(id).await, Step::Done);
    let m = merchant();
    let asks = (0..12).map(|_| w.services.request_refund(&m, id, Some(amount(100)), Default::default(), None));
    let answers = futures::future::join_all(asks).await;
    assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 10);
    assert!(answers.iter().filter_map(|a| a.as_ref().err()).all(|e| matches!(e, AppError::NothingLeftToRefund)));
    let events = trail(&w, id).await;
    let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=13).collect::<Vec<_>>());
    let refunds: std::collections::HashSet<_> = events.iter().filter_map(|e| e.refund_id).collect();
    assert_eq!(refunds.len(), 10, "one refund.created per refund");
}

#[tokio::test(start_paused = true)]
async fn a_write_whose_answer_was_lost_is_recorded_once() {
    let mut w = World::new();
    Flaky::install(&mut w, Fault::AppliedButLost, 1);
    let id = w.payment(100).await;
    assert_eq!(kinds(&trail(&w, id).await), [(1, EventType::PaymentCreated)]);
}

#[tokio::test]
async fn another_merchants_events_are_not_found() {
    let w = World::new();
    let id = w.payment(100).await;
    let theirs = w.services.payment_events(&other_merchant(), id, 10, None).await;
    assert!(matches!(theirs, Err(AppError::NotFound)));
    let event = EventId { payment_id: id, version: 1 };
    assert!(matches!(w.services.get_event(&other_merchant(), event).await, Err(AppError::EventNotFound)));
    assert_eq!(w.services.get_event(&merchant(), event).await.unwrap().kind, EventType::PaymentCreated);
    let feed = w.services.list_events(&other_merchant(), &Default::default(), 10, None).await.unwrap();
    assert!(feed.events.is_empty());
    let unknown = w.services.payment_events(&merchant(), PaymentId::new(), 10, None).await;
    assert!(matches!(unknown, Err(AppError::NotFound)));
}
