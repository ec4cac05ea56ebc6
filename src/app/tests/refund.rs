//! `request_refund` and `process_refund`: the cap, races, waiting for the payment, every `Step`.
use super::flaky::{Fault, Flaky};
use super::*;
use crate::app::AppError;
use crate::app::Step;
use crate::domain::bank::{BankError, BankRefundOutcome};
use crate::domain::ports::Job;
use crate::domain::status::{PaymentStatus, RefundStatus};

/// A payment of `price` the bank approved.
async fn succeeded(w: &World, price: u64) -> PaymentId {
    let id = w.payment(price).await;
    assert_eq!(w.charge(id).await, Step::Done);
    id
}

#[tokio::test]
async fn no_amount_refunds_all_that_is_left_and_more_than_left_is_refused() {
    let w = World::new();
    let id = succeeded(&w, 1000).await;
    w.services.request_refund(&merchant(), id, Some(amount(300)), Default::default(), None).await.unwrap();
    let over = w.services.request_refund(&merchant(), id, Some(amount(701)), Default::default(), None).await;
    assert!(matches!(over, Err(AppError::RefundExceedsRemaining { left: 700 })));
    let rest = w.services.request_refund(&merchant(), id, None, Default::default(), None).await.unwrap();
    assert!(matches!(rest, crate::domain::idempotency::Accepted::Refund { amount, .. } if amount.get() == 700));
    let none = w.services.request_refund(&merchant(), id, None, Default::default(), None).await;
    assert!(matches!(none, Err(AppError::NothingLeftToRefund)));
}

#[tokio::test]
async fn concurrent_refunds_never_add_up_to_more_than_the_price() {
    let w = World::new();
    let id = succeeded(&w, 1000).await;
    let m = merchant();
    let asks = (0..10).map(|_| w.services.request_refund(&m, id, Some(amount(300)), Default::default(), None));
    let answers = futures::future::join_all(asks).await;
    assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 3);
    let view = w.view(id).await;
    assert_eq!((view.refunds.len(), view.payment.refundable_left), (3, 100));
}

#[tokio::test]
async fn a_declined_payment_cannot_be_refunded_and_another_merchant_cannot_see_it() {
    let w = World::new();
    let id = w.payment(100).await;
    w.bank.then_charge(Ok(crate::domain::bank::ChargeOutcome::Declined { reason: "card_declined".into() }));
    w.charge(id).await;
    let refused = w.services.request_refund(&merchant(), id, None, Default::default(), None).await;
    assert!(matches!(refused, Err(AppError::NotRefundable(PaymentStatus::Declined))));
    let foreign = w.services.request_refund(&other_merchant(), id, None, Default::default(), None).await;
    assert!(matches!(foreign, Err(AppError::NotFound)));
}

#[tokio::test]
async fn a_replay_gets_its_first_answer_even_once_nothing_is_left() {
    let w = World::new();
    let id = succeeded(&w, 1000).await;
    let key = keyed("refund-1", "h1");
    let first = w.services.request_refund(&merchant(), id, None, Default::default(), Some(&key)).await.unwrap();
    let replay = w.services.request_refund(&merchant(), id, None, Default::default(), Some(&key)).await.unwrap();
    assert_eq!(first, replay);
    assert_eq!(w.view(id).await.refunds.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refund_whose_answer_was_lost_is_carried_through_once() {
    for key in [None, Some(keyed("refund-lost", "h1"))] {
        let mut w = World::new();
        let id = succeeded(&w, 1000).await;
        Flaky::install(&mut w, Fault::AppliedButLost, 1);
        w.queue.sent.lock().unwrap().clear();
        w.services.request_refund(&merchant(), id, Some(amount(400)), Default::default(), key.as_ref()).await.unwrap();
        let view = w.view(id).await;
        assert_eq!((view.refunds.len(), view.payment.refundable_left), (1, 600), "one refund reserved once");
        assert_eq!(w.queue.jobs(), [Job::Refund { payment_id: id, refund_id: view.refunds[0].id }]);
    }
}

#[tokio::test]
async fn a_refund_waits_for_its_payment_then_is_carried_out_with_its_own_key() {
    let w = World::new();
    let id = w.payment(1000).await;
    w.services.request_refund(&merchant(), id, Some(amount(250)), Default::default(), None).await.unwrap();
    let refund = w.view(id).await.refunds[0].id;
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, refund).await, Step::NotReady);
    w.charge(id).await;
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, refund).await, Step::Done);
    let view = w.view(id).await;
    assert_eq!(view.refunds[0].status, RefundStatus::Succeeded);
    assert_eq!((view.payment.refunded_amount, view.payment.refundable_left), (250, 750));
    assert_eq!(*w.bank.refunds.lock().unwrap(), [format!("refund-{refund}")]);
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, refund).await, Step::Done, "a duplicate is a no-op");
    assert_eq!(w.bank.refunds.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refund_of_a_payment_that_did_not_succeed_fails_and_gives_its_amount_back() {
    let w = World::new();
    let id = w.payment(1000).await;
    w.services.request_refund(&merchant(), id, None, Default::default(), None).await.unwrap();
    w.bank.then_charge(Ok(crate::domain::bank::ChargeOutcome::Declined { reason: "card_declined".into() }));
    w.charge(id).await;
    let refund = w.view(id).await.refunds[0].id;
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, refund).await, Step::Done);
    let view = w.view(id).await;
    assert_eq!(
        (view.refunds[0].status, view.refunds[0].reason.as_deref()),
        (RefundStatus::Failed, Some("payment_declined"))
    );
    assert!(w.bank.refunds.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bank_answers_map_to_steps() {
    let w = World::new();
    let id = succeeded(&w, 1000).await;
    for _ in 0..3 {
        w.services.request_refund(&merchant(), id, Some(amount(100)), Default::default(), None).await.unwrap();
    }
    let ids: Vec<_> = w.view(id).await.refunds.iter().map(|r| r.id).collect();
    w.bank.then_refund(Err(BankError::Transient("reset".into())));
    for _ in 0..3 {
        w.bank.then_inquiry_fails(BankError::Transient("http 503".into()));
    }
    assert!(matches!(w.services.process_refund(w.bank.as_ref(), id, ids[0]).await, Step::Retry(_)));
    w.bank.then_refund(Ok(BankRefundOutcome::Rejected { reason: "charge_refunded".into() }));
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, ids[1]).await, Step::Done);
    w.bank.then_refund(Err(BankError::Permanent("bad".into())));
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, ids[2]).await, Step::Done);
    let view = w.view(id).await;
    let states: Vec<_> = view.refunds.iter().map(|r| (r.status, r.reason.clone())).collect();
    assert_eq!(states[0], (RefundStatus::Processing, None), "an unknown outcome stays in flight");
    assert_eq!(states[1], (RefundStatus::Failed, Some("charge_refunded".into())));
    assert_eq!(states[2], (RefundStatus::Failed, Some("bank_rejected:bad".into())));
    assert_eq!(view.payment.refundable_left, 1000 - 100, "failed refunds give their amount back");
    let unknown = crate::domain::ids::RefundId::new();
    assert!(matches!(w.services.process_refund(w.bank.as_ref(), id, unknown).await, Step::Poison(_)));
    assert!(matches!(w.services.process_refund(w.bank.as_ref(), PaymentId::new(), unknown).await, Step::Poison(_)));
}
