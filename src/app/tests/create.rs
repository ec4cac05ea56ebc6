//! `create_payment`: one payment and one charge per request or per key, whatever the retries.
use super::flaky::{Fault, Flaky};
use super::*;
use crate::app::AppError;
use crate::domain::idempotency::{IdempotencyClaim, IdempotencyState};
use crate::domain::ports::{Job, QueueError};
use crate::domain::status::PaymentStatus;

#[tokio::test(start_paused = true)]
async fn a_payment_is_stored_pending_with_its_card_sealed_and_its_charge_enqueued() {
    let w = World::new();
    let resp = w.services.create_payment(&merchant(), request("4242424242424242", 1000), None).await.unwrap();
    let id = id_of(&resp);
    assert_eq!(resp, crate::domain::idempotency::Accepted::Payment { payment_id: id });
    let view = w.view(id).await;
    assert_eq!((view.payment.status, view.payment.card_last4.as_str()), (PaymentStatus::Pending, "4242"));
    let sealed = view.payment.sealed_card.expect("the card travels sealed");
    assert!(!sealed.0.contains("4242424242424242"));
    assert_eq!(w.queue.jobs(), [Job::Charge { payment_id: id }]);
}

#[tokio::test(start_paused = true)]
async fn a_replay_gets_the_first_answer_and_creates_nothing() {
    let w = World::new();
    let key = keyed("order-1", "h1");
    let first = w.services.create_payment(&merchant(), request("4242424242424242", 1000), Some(&key)).await.unwrap();
    let again = w.services.create_payment(&merchant(), request("4242424242424242", 1000), Some(&key)).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(w.queue.jobs().len(), 1, "one payment, one charge");
    let page = w.services.list_payments(&merchant(), &Default::default(), 10, None).await.unwrap();
    assert_eq!(page.payments.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_same_key_with_another_body_is_refused() {
    let w = World::new();
    w.services.create_payment(&merchant(), request("4242424242424242", 1000), Some(&keyed("k", "h1"))).await.unwrap();
    let reused =
        w.services.create_payment(&merchant(), request("4242424242424242", 999), Some(&keyed("k", "h2"))).await;
    assert!(matches!(reused, Err(AppError::IdempotencyKeyReused)));
}

/// A claim left by a first request that stopped before its answer was stored.
async fn unfinished_claim(w: &World, key: &KeyedRequest, locked_until_ms: u64) -> PaymentId {
    let id = PaymentId::new();
    let now = w.services.clock.now_ms();
    let new = new_payment(id, "x", now);
    let claim = IdempotencyClaim {
        key: key.key.clone(),
        request_hash: key.request_hash.clone(),
        resource_id: id.to_string(),
        locked_until_ms,
        expires_at_secs: now / 1000 + 3600,
        response: None,
    };
    w.write(&new, Some(&claim)).await;
    id
}

#[tokio::test(start_paused = true)]
async fn while_the_first_request_holds_its_key_a_replay_is_told_it_is_in_flight() {
    let w = World::new();
    let key = keyed("held", "h1");
    unfinished_claim(&w, &key, w.services.clock.now_ms() + 5_000).await;
    let replay = w.services.create_payment(&merchant(), request("4242424242424242", 100), Some(&key)).await;
    assert!(matches!(replay, Err(AppError::IdempotencyInFlight)));
    assert!(w.queue.jobs().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_replay_after_the_lock_takes_over_and_finishes_the_first_requests_work() {
    let w = World::new();
    let key = keyed("abandoned", "h1");
    let id = unfinished_claim(&w, &key, w.services.clock.now_ms() + 5_000).await;
    w.clock.advance(6_000);
    let resp = w.services.create_payment(&merchant(), request("4242424242424242", 100), Some(&key)).await.unwrap();
    assert_eq!(id_of(&resp), id, "the first request's payment, not a second one");
    assert_eq!(w.queue.jobs(), [Job::Charge { payment_id: id }]);
    let record = w.services.store.keys.get_idempotency(&key.key).await.unwrap().unwrap();
    assert_eq!(record.state, IdempotencyState::Done(resp));
}

#[tokio::test(start_paused = true)]
async fn a_write_whose_answer_was_lost_is_carried_through_once() {
    for key in [None, Some(keyed("lost", "h1"))] {
        let mut w = World::new();
        Flaky::install(&mut w, Fault::AppliedButLost, 2);
        let resp = w.services.create_payment(&merchant(), request("4242424242424242", 100), key.as_ref()).await;
        let id = id_of(&resp.expect("the landed write is answered 202"));
        assert_eq!(w.queue.jobs(), [Job::Charge { payment_id: id }], "enqueued once, for the payment that landed");
        assert_eq!(
            w.services.list_payments(&merchant(), &Default::default(), 10, None).await.unwrap().payments.len(),
            1
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_write_never_confirmed_is_an_unknown_outcome_not_a_retry() {
    let mut w = World::new();
    Flaky::install(&mut w, Fault::NotApplied, 100);
    let resp = w.services.create_payment(&merchant(), request("4242424242424242", 100), None).await;
    assert!(matches!(resp, Err(AppError::OutcomeUnknown)));
    assert!(w.queue.jobs().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_write_that_lands_after_a_few_refusals_is_accepted() {
    let mut w = World::new();
    Flaky::install(&mut w, Fault::NotApplied, 2);
    let resp = w.services.create_payment(&merchant(), request("4242424242424242", 100), None).await.unwrap();
    assert_eq!(w.queue.jobs(), [Job::Charge { payment_id: id_of(&resp) }]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_send_still_answers_202_and_leaves_the_payment_to_the_repair_path() {
    let w = World::new();
    *w.queue.failing.lock().unwrap() = Some(QueueError::Permanent("down".into()));
    let resp = w.services.create_payment(&merchant(), request("4242424242424242", 100), None).await.unwrap();
    assert_eq!(w.view(id_of(&resp)).await.payment.status, PaymentStatus::Pending);
    assert!(w.queue.jobs().is_empty());
}

#[tokio::test(start_paused = true)]
async fn another_merchants_payment_reads_as_missing() {
    let w = World::new();
    let id = w.payment(100).await;
    assert!(matches!(w.services.get_payment(&other_merchant(), id).await, Err(AppError::NotFound)));
    assert!(
        w.services.list_payments(&other_merchant(), &Default::default(), 10, None).await.unwrap().payments.is_empty()
    );
}
