//! `repair`: stale records are re-enqueued once; a refund waiting for its payment is not stale.
use super::*;
use crate::app::settle::Stale;
use crate::domain::ports::Job;

const AGE: u64 = 60_000;

#[tokio::test]
async fn a_stale_payment_is_re_enqueued_once_however_many_repairers_run() {
    let w = World::new();
    let id = w.payment(100).await;
    w.queue.sent.lock().unwrap().clear();
    assert_eq!(w.services.repair(Stale::Payments, AGE, 100).await.unwrap(), 0, "not stale yet");
    w.clock.advance(AGE + 1);
    let passes = futures::future::join_all((0..3).map(|_| w.services.repair(Stale::Payments, AGE, 100))).await;
    assert_eq!(passes.into_iter().map(Result::unwrap).sum::<usize>(), 1);
    assert_eq!(w.queue.jobs(), [Job::Charge { payment_id: id }]);
    assert_eq!(w.services.repair(Stale::Payments, AGE, 100).await.unwrap(), 0, "the claim made it fresh again");
}

#[tokio::test]
async fn waiting_refunds_do_not_crowd_a_stale_one_out_of_a_pass() {
    let w = World::new();
    // Three refunds wait for a payment in flight; a fourth belongs to a settled payment.
    let waiting = w.payment(1000).await;
    for _ in 0..3 {
        w.services.request_refund(&merchant(), waiting, Some(amount(100)), Default::default(), None).await.unwrap();
    }
    w.clock.advance(1);
    let settled = w.payment(1000).await;
    w.services.request_refund(&merchant(), settled, None, Default::default(), None).await.unwrap();
    w.settle(settled).await;
    w.queue.sent.lock().unwrap().clear();
    w.clock.advance(AGE + 1);
    // A pass that reads only three records at a time still gets to the stale one.
    let mut repaired = 0;
    for _ in 0..3 {
        repaired += w.services.repair(Stale::Refunds, AGE, 3).await.unwrap();
    }
    assert_eq!(repaired, 1);
    assert!(matches!(w.queue.jobs()[..], [Job::Refund { payment_id, .. }] if payment_id == settled));
}

#[tokio::test]
async fn a_final_payment_is_never_repaired() {
    let w = World::new();
    let id = w.payment(100).await;
    w.charge(id).await;
    w.queue.sent.lock().unwrap().clear();
    w.clock.advance(AGE + 1);
    assert_eq!(w.services.repair(Stale::Payments, AGE, 100).await.unwrap(), 0);
    assert!(w.queue.jobs().is_empty());
}

#[tokio::test]
async fn a_refund_waiting_for_its_payment_is_left_alone_then_repaired_once_the_payment_is_final() {
    let w = World::new();
    let id = w.payment(1000).await;
    w.services.request_refund(&merchant(), id, None, Default::default(), None).await.unwrap();
    let refund = w.view(id).await.refunds[0].id;
    w.queue.sent.lock().unwrap().clear();
    w.clock.advance(AGE + 1);
    assert_eq!(w.services.repair(Stale::Refunds, AGE, 100).await.unwrap(), 0, "waiting is not stale");
    // The payment settles, but its worker dies before releasing the refund: once the refund is
    // older than the repair age again, it is re-enqueued.
    w.settle(id).await;
    assert_eq!(w.services.repair(Stale::Refunds, AGE, 100).await.unwrap(), 0, "the waiting pass moved it back");
    w.clock.advance(AGE + 1);
    assert_eq!(w.services.repair(Stale::Refunds, AGE, 100).await.unwrap(), 1);
    assert_eq!(w.queue.jobs(), [Job::Refund { payment_id: id, refund_id: refund }]);
}
