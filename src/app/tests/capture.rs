//! Manual capture through the use cases: authorize, capture in parts, cancel, expiry, and every
//! answer of the bank (ambiguous ones included), on the memory ports and the fake bank.
use super::*;
use crate::app::{AppError, Step};
use crate::domain::bank::{AuthorizationOutcome, BankCaptureOutcome, BankError, VoidOutcome};
use crate::domain::capture::CaptureMethod;
use crate::domain::events::EventType;
use crate::domain::idempotency::Accepted;
use crate::domain::ids::CaptureId;
use crate::domain::status::{CaptureStatus, PaymentStatus};
use crate::testing::fakes::{FakeBank, Scripted};

impl World {
    /// A manual-capture payment of `price`, authorized by the payment-worker.
    async fn authorized(&self, price: u64) -> PaymentId {
        let mut req = request("4242424242424242", price);
        req.capture_method = CaptureMethod::Manual;
        let id = id_of(&self.services.create_payment(&merchant(), req, None).await.unwrap());
        assert_eq!(self.charge(id).await, Step::Done);
        assert_eq!(self.view(id).await.payment.status, PaymentStatus::Authorized);
        id
    }

    async fn capture(&self, id: PaymentId, amount_: Option<u64>, last: bool) -> Result<CaptureId, AppError> {
        let ask = (amount_.map(amount), last);
        match self.services.request_capture(&merchant(), id, ask, Default::default(), None).await? {
            Accepted::Capture { capture_id, .. } => Ok(capture_id),
            other => panic!("{other:?}"),
        }
    }

    async fn capture_status(&self, id: PaymentId, capture: CaptureId) -> CaptureStatus {
        self.view(id).await.payment.authorization.unwrap().capture(capture).unwrap().status
    }

    async fn kinds(&self, id: PaymentId) -> Vec<EventType> {
        let events = self.services.payment_events(&merchant(), id, 100, None).await.unwrap().events;
        events.iter().map(|e| e.kind).collect()
    }
}

#[tokio::test]
async fn authorize_capture_in_parts_then_final_ends_succeeded_with_every_event() {
    let w = World::new();
    let id = w.authorized(1000).await;
    assert_eq!(w.bank.holds.lock().unwrap()[0], format!("authorize-{id}"));
    assert!(w.bank.charges.lock().unwrap().is_empty(), "authorized, never charged");
    let first = w.capture(id, Some(300), false).await.unwrap();
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.capture_status(id, first).await, CaptureStatus::Succeeded);
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Authorized, "more may be captured");
    let rest = w.capture(id, None, true).await.unwrap();
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    let a = p.authorization.as_ref().unwrap();
    assert_eq!((p.status, a.captured_amount, p.refundable_left), (PaymentStatus::Succeeded, 1000, 1000));
    assert_eq!(a.capture(rest).unwrap().amount.get(), 700);
    use EventType::*;
    let want = [
        PaymentCreated,
        PaymentProcessing,
        PaymentAuthorized,
        CaptureCreated,
        CaptureProcessing,
        CaptureSucceeded,
        CaptureCreated,
        CaptureProcessing,
        CaptureSucceeded,
        PaymentSucceeded,
    ];
    assert_eq!(w.kinds(id).await, want);
}

#[tokio::test]
async fn captures_asked_at_once_never_exceed_the_authorization() {
    let w = World::new();
    let id = w.authorized(1000).await;
    let asks = (0..20).map(|_| w.capture(id, Some(100), false));
    let results = futures::future::join_all(asks).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 10, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, AppError::CaptureExceedsCapturable { left: 0 }))
    );
}

#[tokio::test]
async fn a_cancel_voids_and_ends_canceled_and_nothing_can_be_captured_after_it() {
    let w = World::new();
    let id = w.authorized(500).await;
    let asked = w.services.request_cancel(&merchant(), id, None).await.unwrap();
    assert_eq!(asked, Accepted::Cancel { payment_id: id });
    assert_eq!(w.services.request_cancel(&merchant(), id, None).await.unwrap(), asked, "asked twice: the same");
    assert!(matches!(w.capture(id, Some(1), false).await, Err(AppError::NotCapturable(_))));
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    assert_eq!((p.status, p.reason), (PaymentStatus::Canceled, None));
    assert!(w.bank.holds.lock().unwrap().contains(&format!("void-{id}")));
    assert!(matches!(w.services.request_cancel(&merchant(), id, None).await, Err(AppError::NotCancelable)), "final");
}

#[tokio::test]
async fn a_cancel_while_the_authorization_is_in_flight_is_carried_out_once_authorized() {
    let w = World::new();
    let mut req = request("4242424242424242", 400);
    req.capture_method = CaptureMethod::Manual;
    let id = id_of(&w.services.create_payment(&merchant(), req, None).await.unwrap());
    // The authorization is applied but its answer lost: the payment stays PROCESSING.
    let approved =
        AuthorizationOutcome::Approved { bank_authorization_id: "au".into(), expires_at_ms: FakeBank::HOLD_EXPIRES_AT };
    w.bank.then_authorize(Scripted::Lost(approved));
    for _ in 0..3 {
        w.bank.then_inquiry_fails(BankError::Transient("timeout".into()));
    }
    assert!(matches!(w.charge(id).await, Step::Retry(_)));
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Processing);
    w.services.request_cancel(&merchant(), id, None).await.unwrap();
    // The next job asks the bank, finds the hold, and carries the cancel out.
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Canceled);
    let holds = w.bank.holds.lock().unwrap().clone();
    assert_eq!(holds.iter().filter(|k| k.starts_with("authorize-")).count(), 1, "sent once: {holds:?}");
    assert!(holds.contains(&format!("void-{id}")));
    let canceled_early = {
        let mut req = request("4242424242424242", 400);
        req.capture_method = CaptureMethod::Manual;
        id_of(&w.services.create_payment(&merchant(), req, None).await.unwrap())
    };
    w.services.request_cancel(&merchant(), canceled_early, None).await.unwrap();
    assert_eq!(w.charge(canceled_early).await, Step::Done);
    assert_eq!(w.view(canceled_early).await.payment.status, PaymentStatus::Canceled, "never authorized");
}

#[tokio::test]
async fn a_capture_whose_answer_is_lost_is_asked_about_never_sent_again() {
    let w = World::new();
    let id = w.authorized(1000).await;
    let lost = BankCaptureOutcome::Succeeded { bank_capture_id: "cp".into() };
    w.bank.then_capture(Scripted::Lost(lost));
    let c = w.capture(id, Some(400), false).await.unwrap();
    assert_eq!(w.charge(id).await, Step::Done, "the inquiry found it applied");
    assert_eq!(w.capture_status(id, c).await, CaptureStatus::Succeeded);
    let sent = w.bank.holds.lock().unwrap().iter().filter(|k| k.starts_with("capture-")).count();
    assert_eq!(sent, 1);
}

#[tokio::test]
async fn a_capture_the_bank_never_applied_fails_only_past_the_late_apply_bound_and_gives_its_amount_back() {
    let w = World::new();
    let id = w.authorized(1000).await;
    for _ in 0..3 {
        w.bank.then_capture(Scripted::Answer(Err(BankError::Transient("timeout".into()))));
    }
    let c = w.capture(id, Some(400), false).await.unwrap();
    assert!(matches!(w.charge(id).await, Step::Retry(_)));
    assert_eq!(w.capture_status(id, c).await, CaptureStatus::Processing, "unknown yet");
    assert!(matches!(w.charge(id).await, Step::Retry(_)), "nothing applied, but it still may be");
    w.clock.advance(w.services.bank_policy.window().late_apply_ms + 1);
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.capture_status(id, c).await, CaptureStatus::Failed);
    let p = w.view(id).await.payment;
    assert_eq!((p.status, p.authorization.unwrap().capturable_left), (PaymentStatus::Authorized, 1000));
    let sent = w.bank.holds.lock().unwrap().iter().filter(|k| k.starts_with("capture-")).count();
    assert_eq!(sent, 1, "never sent twice");
}

#[tokio::test]
async fn a_refused_capture_fails_with_the_banks_reason() {
    let w = World::new();
    let id = w.authorized(1000).await;
    w.bank.then_capture(Scripted::Answer(Ok(BankCaptureOutcome::Rejected { reason: "authorization_expired".into() })));
    let c = w.capture(id, Some(10), false).await.unwrap();
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    let captured = p.authorization.as_ref().unwrap().capture(c).unwrap().clone();
    assert_eq!((captured.status, captured.reason.as_deref()), (CaptureStatus::Failed, Some("authorization_expired")));
}

#[tokio::test]
async fn an_expired_authorization_refuses_captures_and_the_repair_path_ends_it() {
    let w = World::new();
    let id = w.authorized(700).await;
    let none = w.authorized(300).await;
    let c = w.capture(id, Some(200), false).await.unwrap();
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.capture_status(id, c).await, CaptureStatus::Succeeded);
    w.clock.advance(FakeBank::HOLD_EXPIRES_AT - w.services.clock.now_ms());
    assert!(matches!(w.capture(id, Some(1), false).await, Err(AppError::AuthorizationExpired)));
    // The repair pass finds it (held in the index until its expiry) and the job ends it.
    w.clock.advance(2);
    let stale = w.services.repair(crate::app::settle::Stale::Payments, 1, 100).await.unwrap();
    assert_eq!(stale, 2, "both held until their expiry");
    assert_eq!(w.charge(id).await, Step::Done);
    let p = w.view(id).await.payment;
    assert_eq!(
        (p.status, p.authorization.unwrap().captured_amount),
        (PaymentStatus::Succeeded, 200),
        "what was captured"
    );
    assert_eq!(w.charge(none).await, Step::Done);
    let p = w.view(none).await.payment;
    assert_eq!((p.status, p.reason.as_deref()), (PaymentStatus::Canceled, Some("authorization_expired")));
    assert!(w.bank.holds.lock().unwrap().contains(&format!("void-{none}")), "what is left is released");
    assert!(matches!(w.capture(none, Some(1), false).await, Err(AppError::AuthorizationExpired)), "ended or not");
}

#[tokio::test]
async fn refunds_take_only_captured_money_and_name_the_authorization_at_the_bank() {
    let w = World::new();
    let id = w.authorized(1000).await;
    let refund =
        async |n: u64| w.services.request_refund(&merchant(), id, Some(amount(n)), Default::default(), None).await;
    assert!(matches!(refund(1).await, Err(AppError::NothingLeftToRefund)));
    w.capture(id, Some(300), false).await.unwrap();
    assert_eq!(w.charge(id).await, Step::Done);
    assert!(matches!(refund(301).await, Err(AppError::RefundExceedsRemaining { left: 300 })));
    let r = match refund(300).await.unwrap() {
        Accepted::Refund { refund_id, .. } => refund_id,
        other => panic!("{other:?}"),
    };
    assert_eq!(w.services.process_refund(w.bank.as_ref(), id, r).await, Step::Done);
    let view = w.view(id).await;
    assert_eq!(view.refunds[0].status, crate::domain::status::RefundStatus::Succeeded);
}

#[tokio::test]
async fn a_void_the_bank_does_not_answer_is_sent_again_by_the_next_job() {
    let w = World::new();
    let id = w.authorized(100).await;
    w.services.request_cancel(&merchant(), id, None).await.unwrap();
    w.bank.then_void(Scripted::Answer(Err(BankError::Transient("timeout".into()))));
    assert!(matches!(w.charge(id).await, Step::Retry(_)));
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Authorized);
    w.bank.then_void(Scripted::Answer(Ok(VoidOutcome::Rejected { reason: "authorization_closed".into() })));
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Canceled);
}

#[tokio::test]
async fn an_automatic_payment_is_neither_captured_nor_canceled() {
    let w = World::new();
    let id = w.payment(100).await;
    assert!(matches!(w.capture(id, None, true).await, Err(AppError::NotCapturable(PaymentStatus::Pending))));
    assert!(matches!(w.services.request_cancel(&merchant(), id, None).await, Err(AppError::NotCancelable)));
    assert!(matches!(w.services.request_cancel(&other_merchant(), id, None).await, Err(AppError::NotFound)));
}

#[tokio::test]
async fn an_authorization_is_kept_no_longer_than_its_validity_nor_the_banks_hold() {
    let mut w = World::new();
    w.services.bank_policy.authorization_validity = std::time::Duration::from_secs(60);
    let id = w.authorized(100).await;
    let a = w.view(id).await.payment.authorization.unwrap();
    assert_eq!(a.expires_at_ms, Some(w.services.clock.now_ms() + 60_000), "ours, shorter than the bank's week");
    let mut w = World::new();
    w.services.bank_policy.authorization_validity = std::time::Duration::from_secs(30 * 86_400);
    let id = w.authorized(100).await;
    let a = w.view(id).await.payment.authorization.unwrap();
    assert_eq!(a.expires_at_ms, Some(FakeBank::HOLD_EXPIRES_AT), "never past the bank's hold");
}

#[tokio::test]
async fn a_declined_or_refused_authorization_ends_the_payment_with_nothing_held() {
    let w = World::new();
    w.bank.then_authorize(Scripted::Answer(Ok(AuthorizationOutcome::Declined { reason: "card_declined".into() })));
    w.bank.then_authorize(Scripted::Answer(Err(BankError::Permanent("http 400 invalid_request".into()))));
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut req = request("4242424242424242", 100);
        req.capture_method = CaptureMethod::Manual;
        let id = id_of(&w.services.create_payment(&merchant(), req, None).await.unwrap());
        assert_eq!(w.charge(id).await, Step::Done);
        ids.push(id);
    }
    let declined = w.view(ids[0]).await.payment;
    assert_eq!((declined.status, declined.reason.as_deref()), (PaymentStatus::Declined, Some("card_declined")));
    let failed = w.view(ids[1]).await.payment;
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert!(failed.reason.unwrap().starts_with("bank_rejected:"));
    assert!(matches!(w.capture(ids[0], None, true).await, Err(AppError::NotCapturable(PaymentStatus::Declined))));
}

#[tokio::test]
async fn a_refund_of_captured_money_whose_message_is_lost_is_repaired_while_the_payment_is_authorized() {
    let w = World::new();
    let id = w.authorized(1000).await;
    w.capture(id, Some(400), false).await.unwrap();
    assert_eq!(w.charge(id).await, Step::Done);
    w.services.request_refund(&merchant(), id, Some(amount(100)), Default::default(), None).await.unwrap();
    // Its message is lost: the repair pass finds it, though the payment is not final.
    w.clock.advance(10);
    let repaired = w.services.repair(crate::app::settle::Stale::Refunds, 1, 100).await.unwrap();
    assert_eq!(repaired, 1);
}

#[tokio::test]
async fn a_cancel_replayed_with_its_key_after_the_payment_ended_gets_the_first_answer() {
    let w = World::new();
    let id = w.authorized(100).await;
    let key = keyed("cancel-1", "h");
    let first = w.services.request_cancel(&merchant(), id, Some(&key)).await.unwrap();
    assert_eq!(w.charge(id).await, Step::Done);
    assert_eq!(w.view(id).await.payment.status, PaymentStatus::Canceled);
    assert_eq!(w.services.request_cancel(&merchant(), id, Some(&key)).await.unwrap(), first, "the key's answer");
    let other = keyed("cancel-2", "h");
    assert!(matches!(w.services.request_cancel(&merchant(), id, Some(&other)).await, Err(AppError::NotCancelable)));
}
