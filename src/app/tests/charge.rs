//! `process_charge`: every `Step`, and the bank called with one key per payment.
use super::*;
use crate::app::Step;
use crate::domain::bank::{BankError, ChargeOutcome};
use crate::domain::ports::Job;
use crate::domain::status::{PaymentStatus, RefundStatus};

#[tokio::test]
async fn an_approved_charge_succeeds_and_erases_the_card() {
    let w = World::new();
    let id = w.payment(500).await;
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    assert_eq!(
        (p.status, p.bank_charge_id.clone(), p.sealed_card),
        (PaymentStatus::Succeeded, Some(format!("ch_{id}")), None)
    );
    assert_eq!(*w.bank.charges.lock().unwrap(), [format!("charge-{id}")]);
}

#[tokio::test]
async fn a_decline_is_final_with_its_reason() {
    let w = World::new();
    let id = w.payment(500).await;
    w.bank.then_charge(Ok(ChargeOutcome::Declined { reason: "insufficient_funds".into() }));
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    assert_eq!((p.status, p.reason.as_deref()), (PaymentStatus::Declined, Some("insufficient_funds")));
}

#[tokio::test]
async fn an_unknown_outcome_is_asked_about_then_sent_again_with_the_same_key() {
    let w = World::new();
    let id = w.payment(500).await;
    w.bank.then_charge(Err(BankError::Transient("timeout".into())));
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Succeeded);
    let keys = w.bank.charges.lock().unwrap().clone();
    assert_eq!(keys, [format!("charge-{id}"), format!("charge-{id}")]);
    assert_eq!(w.bank.inquiries.lock().unwrap().len(), 1, "the bank was asked before the second send");
}

#[tokio::test]
async fn while_the_bank_cannot_be_asked_the_payment_stays_in_flight() {
    let w = World::new();
    let id = w.payment(500).await;
    w.bank.then_charge(Err(BankError::Transient("timeout".into())));
    for _ in 0..3 {
        w.bank.then_inquiry_fails(BankError::Transient("http 503".into()));
    }
    assert!(matches!(w.charge(id).await, Step::Retry(_)));
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Processing, "never FAILED on an unknown outcome");
    assert_eq!(w.bank.charges.lock().unwrap().len(), 1, "nothing sent again without asking");
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn a_refused_request_fails_the_payment() {
    let w = World::new();
    let id = w.payment(500).await;
    w.bank.then_charge(Err(BankError::Permanent("invalid_request".into())));
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    assert_eq!((p.status, p.reason.as_deref()), (PaymentStatus::Failed, Some("bank_rejected:invalid_request")));
}

#[tokio::test]
async fn a_duplicate_message_after_the_final_state_changes_nothing() {
    let w = World::new();
    let id = w.payment(500).await;
    assert_eq!(w.charge(id).await, Step::Done);
    let before = w.view(id).await.payment;
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.view(id).await.payment, before);
    assert_eq!(w.bank.charges.lock().unwrap().len(), 1, "the bank is not called for a final payment");
}

#[tokio::test]
async fn a_message_for_an_unknown_payment_is_poison() {
    let w = World::new();
    assert!(matches!(w.charge(PaymentId::new()).await, Step::Poison(_)));
    assert!(w.bank.charges.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_card_that_cannot_be_opened_fails_the_payment_without_calling_the_bank() {
    let w = World::new();
    let id = PaymentId::new();
    let new = new_payment(id, "sealed under another key", 1);
    w.write(&new, None).await;
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    assert_eq!((p.status, p.reason.as_deref()), (PaymentStatus::Failed, Some("card_data_unavailable")));
    assert!(w.bank.charges.lock().unwrap().is_empty());
}

#[tokio::test]
async fn settling_releases_the_refunds_that_waited_for_it() {
    let w = World::new();
    let id = w.payment(500).await;
    w.services.request_refund(&merchant(), id, Some(amount(200)), Default::default(), None).await.unwrap();
    let refund = w.view(id).await.refunds[0].id;
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, refund).await, Step::NotReady);
    w.queue.sent.lock().unwrap().clear();
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.queue.jobs(), [Job::Refund { payment_id: id, refund_id: refund }]);
    assert_eq!(w.view(id).await.refunds[0].status, RefundStatus::Pending);
}

#[tokio::test]
async fn a_payment_without_refunds_settles_without_reading_for_them() {
    let w = World::new();
    let id = w.payment(500).await;
    w.queue.sent.lock().unwrap().clear();
    assert_eq!(w.charge(id).await, Step::Done);
    assert!(w.queue.jobs().is_empty());
}
