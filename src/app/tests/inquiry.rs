//! The decision table of `domain::inquiry` through the use cases, on the in-memory ports: what
//! happens to a charge or refund whose answer was lost, inside and past the bank's key window.
use super::*;
use crate::app::Step;
use crate::app::settle::{NOTHING_CHARGED, NOTHING_REFUNDED};
use crate::domain::bank::{BankError, BankRefundOutcome, ChargeOutcome};
use crate::domain::inquiry::BankWindow;
use crate::domain::status::{PaymentStatus, RefundStatus};

const DAY: u64 = 86_400_000;

fn lost() -> BankError {
    BankError::Transient("timeout".into())
}

fn approved(id: PaymentId) -> ChargeOutcome {
    ChargeOutcome::Approved { bank_charge_id: format!("ch_{id}") }
}

/// A payment whose first charge attempt got no answer, and every re-send in that job either.
async fn unanswered(w: &World) -> PaymentId {
    let id = w.payment(500).await;
    for _ in 0..3 {
        w.bank.then_charge(Err(lost()));
    }
    assert!(matches!(w.charge(id).await, Step::Retry(_)));
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Processing);
    id
}

#[tokio::test]
async fn a_lost_answer_is_found_by_inquiry_and_the_charge_is_not_sent_again() {
    let w = World::new();
    let id = w.payment(500).await;
    w.bank.then_charge_lost(approved(id));
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    assert_eq!((p.status, p.bank_charge_id), (PaymentStatus::Succeeded, Some(format!("ch_{id}"))));
    assert_eq!(w.bank.charges.lock().unwrap().len(), 1, "sent once, found by asking");
}

#[tokio::test]
async fn a_charge_applied_after_the_bank_forgot_its_key_is_found_not_repeated() {
    let w = World::new();
    let id = w.payment(500).await;
    w.bank.then_charge_lost(approved(id));
    for _ in 0..2 {
        w.bank.then_inquiry_fails(BankError::Transient("http 503".into()));
    }
    assert!(matches!(w.charge(id).await, Step::Retry(_)), "the bank cannot be asked yet");
    // Days later the bank has forgotten the key: a blind re-send would charge again.
    w.clock.advance(2 * DAY);
    w.bank.forget_keys();
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Succeeded);
    assert_eq!(w.bank.charged.lock().unwrap()[&id].len(), 1, "charged once");
    assert_eq!(w.bank.charges.lock().unwrap().len(), 1, "never sent again");
}

#[tokio::test]
async fn past_the_key_window_nothing_is_sent_and_nothing_applied_ends_it_once_that_is_definitive() {
    let w = World::new();
    let id = unanswered(&w).await;
    let sent = w.bank.charges.lock().unwrap().len();
    assert_eq!(sent, 3, "re-sent within the job while the key is well inside the window");
    let window = BankWindow::default();
    // Past the window, with the last attempt still recent: nothing sent, wait.
    w.clock.advance(window.key_ttl_ms - window.margin_ms);
    let first = w.view(id).await.payment.bank_attempts.unwrap().first_ms;
    let noted = crate::domain::inquiry::Attempts { first_ms: first, last_ms: w.services.clock.now_ms() };
    w.services.store.payments.record_attempt(id, None, noted).await.unwrap();
    assert!(matches!(w.charge(id).await, Step::Retry(_)));
    assert_eq!(w.bank.charges.lock().unwrap().len(), sent, "nothing sent past the window");
    // Past the window and the late-application bound: nothing was applied, for good.
    w.clock.advance(window.late_apply_ms);
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    assert_eq!((p.status, p.reason.as_deref()), (PaymentStatus::Failed, Some(NOTHING_CHARGED)));
    assert_eq!(w.bank.charges.lock().unwrap().len(), sent);
    assert!(!w.bank.charged.lock().unwrap().contains_key(&id));
}

#[tokio::test]
async fn past_the_key_window_an_unreachable_bank_leaves_the_payment_in_flight() {
    let w = World::new();
    let id = unanswered(&w).await;
    w.clock.advance(DAY);
    w.bank.then_inquiry_fails(BankError::Unsent("connect".into()));
    assert!(matches!(w.charge(id).await, Step::Retry(why) if why.contains("key window")));
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Processing, "reported, never guessed");
    assert_eq!(w.bank.charges.lock().unwrap().len(), 3);
    // The bank answers again: nothing applied, definitive, the payment fails without a charge.
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Failed);
}

#[tokio::test]
async fn a_worker_that_picks_up_a_payment_left_processing_asks_before_it_charges() {
    let w = World::new();
    let id = w.payment(500).await;
    w.bank.then_charge_lost(approved(id));
    for _ in 0..2 {
        w.bank.then_inquiry_fails(BankError::Transient("http 503".into()));
    }
    assert!(matches!(w.charge(id).await, Step::Retry(_)));
    // A second worker (a redelivered message, or the repair path) finds it PROCESSING.
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.bank.charges.lock().unwrap().len(), 1);
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn refunds_follow_the_same_table() {
    let w = World::new();
    let id = w.payment(1000).await;
    assert_eq!(w.charge(id).await, Step::Done);
    w.services.request_refund(&merchant(), id, Some(amount(300)), Default::default(), None).await.unwrap();
    w.clock.advance(1);
    w.services.request_refund(&merchant(), id, Some(amount(200)), Default::default(), None).await.unwrap();
    let ids: Vec<_> = w.view(id).await.refunds.iter().map(|r| r.id).collect();
    // Applied, answer lost: found by inquiry, not sent again.
    let done = BankRefundOutcome::Succeeded { bank_refund_id: "re_1".into() };
    w.bank.refund_script.lock().unwrap().push_back(crate::testing::fakes::Scripted::Lost(done));
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, ids[0]).await, Step::Done);
    // Never answered, and past the window: ends FAILED, its amount given back.
    for _ in 0..3 {
        w.bank.then_refund(Err(lost()));
    }
    assert!(matches!(w.services.process_refund(w.bank.as_ref(), id, ids[1]).await, Step::Retry(_)));
    w.clock.advance(DAY);
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, ids[1]).await, Step::Done);
    let view = w.view(id).await;
    let states: Vec<_> = view.refunds.iter().map(|r| (r.status, r.reason.clone())).collect();
    assert_eq!(states, [(RefundStatus::Succeeded, None), (RefundStatus::Failed, Some(NOTHING_REFUNDED.into()))]);
    assert_eq!((view.payment.refunded_amount, view.payment.refundable_left), (300, 700));
    assert_eq!(w.bank.refunds.lock().unwrap().len(), 1 + 3);
}

#[tokio::test]
async fn a_card_that_no_longer_opens_fails_a_started_charge_only_once_the_bank_applied_nothing() {
    let w = World::new();
    // Started by a worker that died after sending (its attempt noted), with a card this vault
    // cannot open (a key rotation gone wrong).
    let id = PaymentId::new();
    w.write(&new_payment(id, "sealed under another key", w.services.clock.now_ms()), None).await;
    let started = w.view(id).await.apply(
        crate::domain::change::Transition::PaymentProcessing,
        w.services.clock.now_ms(),
        crate::domain::events::Cause::new(crate::domain::events::Actor::PaymentWorker, None),
    );
    w.services.store.payments.commit(&started.unwrap(), None).await.unwrap();
    assert!(matches!(w.charge(id).await, Step::Retry(_)), "a late application is still possible");
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Processing);
    w.clock.advance(BankWindow::default().late_apply_ms);
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    assert_eq!((p.status, p.reason.as_deref()), (PaymentStatus::Failed, Some("card_data_unavailable")));
    assert!(w.bank.charges.lock().unwrap().is_empty(), "nothing was ever sent with an unopened card");
}
