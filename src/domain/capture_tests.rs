//! Every transition of a manual-capture payment, on the payment as read (`capture_change`).
use crate::domain::capture::{CaptureMethod, CaptureOutcome, NewCapture};
use crate::domain::card::SealedCard;
use crate::domain::change::{Refused, Transition};
use crate::domain::events::{Actor, Cause, EventType};
use crate::domain::ids::{CaptureId, MerchantId, PaymentId, RefundId};
use crate::domain::money::{Amount, Currency};
use crate::domain::payment::{NewPayment, NewRefund, PaymentOutcome, PaymentView};
use crate::domain::status::{CaptureStatus, PaymentStatus};

const EXPIRES: u64 = 100_000;

fn merchant() -> MerchantId {
    MerchantId::parse("test@merchant").unwrap()
}

fn cause() -> Cause {
    Cause::new(Actor::PaymentWorker, None)
}

fn manual() -> PaymentView {
    let new = NewPayment {
        id: PaymentId::new(),
        merchant_id: merchant(),
        customer_id: "c".into(),
        customer_name: None,
        amount: Amount::parse(1000).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        card_last4: "4242".into(),
        sealed_card: SealedCard("sealed".into()),
        created_at_ms: 1_000,
        tags: Default::default(),
        capture_method: CaptureMethod::Manual,
    };
    crate::domain::change::Change::payment_created(&new, cause()).view
}

fn apply(v: &PaymentView, t: Transition, at: u64) -> Result<PaymentView, Refused> {
    v.apply(t, at, cause()).map(|c| c.view)
}

fn authorized() -> PaymentView {
    let v = apply(&manual(), Transition::PaymentProcessing, 1_100).unwrap();
    let ok = PaymentOutcome::Authorized { bank_authorization_id: "au_1".into(), expires_at_ms: EXPIRES };
    apply(&v, Transition::PaymentSettled(ok), 1_200).unwrap()
}

fn capture(amount: Option<u64>, last: bool) -> NewCapture {
    NewCapture {
        id: CaptureId::new(),
        merchant_id: merchant(),
        amount: amount.map(|a| Amount::parse(i128::from(a)).unwrap()),
        final_capture: last,
        metadata: Default::default(),
    }
}

fn captured(v: &PaymentView, id: CaptureId) -> PaymentView {
    let v = apply(v, Transition::CaptureProcessing(id), 2_100).unwrap();
    let ok = CaptureOutcome::Succeeded { bank_capture_id: "cp".into() };
    apply(&v, Transition::CaptureSettled(id, ok), 2_200).unwrap()
}

#[test]
fn a_manual_payment_is_authorized_holds_its_amount_and_drops_its_card() {
    let created = manual();
    assert_eq!((created.payment.refundable_now(), created.payment.capturable_now(0)), (0, 0), "nothing to refund yet");
    let v = authorized();
    let a = v.payment.authorization.as_ref().unwrap();
    assert_eq!(v.payment.status, PaymentStatus::Authorized);
    assert_eq!((a.authorized_amount, a.capturable_left, a.expires_at_ms), (1000, 1000, Some(EXPIRES)));
    assert_eq!(v.payment.sealed_card, None);
    assert_eq!(v.payment.capturable_now(EXPIRES - 1), 1000);
    assert_eq!(v.payment.capturable_now(EXPIRES), 0, "nothing once expired");
    let plain = PaymentOutcome::Succeeded { bank_charge_id: "ch".into() };
    let processing = apply(&manual(), Transition::PaymentProcessing, 1_100).unwrap();
    assert_eq!(apply(&processing, Transition::PaymentSettled(plain), 1_200), Err(Refused::WrongState));
}

#[test]
fn partial_captures_add_up_to_the_authorization_and_never_more() {
    let v = authorized();
    let (first, second) = (capture(Some(600), false), capture(Some(401), false));
    let first_id = first.id;
    let v = v.apply(Transition::CaptureCreated(first), 2_000, cause()).unwrap();
    assert_eq!((v.event.kind, v.event.capture_id), (EventType::CaptureCreated, Some(first_id)));
    let v = v.view;
    assert_eq!(v.payment.authorization.as_ref().unwrap().capturable_left, 400, "reserved at once");
    assert_eq!(apply(&v, Transition::CaptureCreated(second), 2_000), Err(Refused::InsufficientCapturable));
    let v = captured(&v, first_id);
    let a = v.payment.authorization.as_ref().unwrap();
    assert_eq!((a.captured_amount, v.payment.refundable_left), (600, 600), "captured money is refundable");
    let rest = capture(None, true);
    let rest_id = rest.id;
    let v = apply(&v, Transition::CaptureCreated(rest), 3_000).unwrap();
    let a = v.payment.authorization.as_ref().unwrap();
    assert_eq!((a.capture(rest_id).unwrap().amount.get(), a.capturable_left), (400, 0), "no amount: all that is left");
    assert_eq!(apply(&v, Transition::CaptureCreated(capture(Some(1), false)), 3_000), Err(Refused::NotCapturable));
    let ended = PaymentOutcome::Ended { reason: None };
    assert_eq!(
        apply(&v, Transition::PaymentSettled(ended.clone()), 3_100),
        Err(Refused::WrongState),
        "capture in flight"
    );
    let v = captured(&v, rest_id);
    assert!(v.payment.authorization.as_ref().unwrap().fully_captured());
    let done = v.apply(Transition::PaymentSettled(ended), 3_300, cause()).unwrap();
    assert_eq!((done.view.payment.status, done.event.kind), (PaymentStatus::Succeeded, EventType::PaymentSucceeded));
}

#[test]
fn a_failed_capture_gives_its_amount_back_and_a_late_or_twin_result_changes_nothing() {
    let v = authorized();
    let c = capture(Some(300), false);
    let id = c.id;
    let v = apply(&v, Transition::CaptureCreated(c), 2_000).unwrap();
    let v = apply(&v, Transition::CaptureProcessing(id), 2_100).unwrap();
    assert_eq!(apply(&v, Transition::CaptureProcessing(id), 2_150), Err(Refused::WrongState), "a twin");
    let failed = CaptureOutcome::Failed { reason: "bank_unavailable".into() };
    let v = apply(&v, Transition::CaptureSettled(id, failed.clone()), 2_200).unwrap();
    let a = v.payment.authorization.as_ref().unwrap();
    assert_eq!((a.capturable_left, a.captured_amount), (1000, 0));
    assert_eq!(a.capture(id).unwrap().status, CaptureStatus::Failed);
    assert_eq!(apply(&v, Transition::CaptureSettled(id, failed), 2_300), Err(Refused::WrongState), "late");
    let unknown = CaptureId::new();
    assert_eq!(apply(&v, Transition::CaptureProcessing(unknown), 2_400), Err(Refused::UnknownCapture));
}

#[test]
fn no_capture_after_expiry_or_a_cancel_and_none_of_another_merchant() {
    let v = authorized();
    assert_eq!(
        apply(&v, Transition::CaptureCreated(capture(Some(1), false)), EXPIRES),
        Err(Refused::AuthorizationExpired)
    );
    let mut other = capture(Some(1), false);
    other.merchant_id = MerchantId::parse("other@merchant").unwrap();
    assert_eq!(apply(&v, Transition::CaptureCreated(other), 2_000), Err(Refused::NotCapturable));
    let canceling = apply(&v, Transition::CancelRequested, 2_000).unwrap();
    assert_eq!(
        apply(&canceling, Transition::CaptureCreated(capture(Some(1), false)), 2_100),
        Err(Refused::NotCapturable)
    );
    assert_eq!(apply(&canceling, Transition::CancelRequested, 2_100), Err(Refused::WrongState), "asked once");
    let created = apply(&manual(), Transition::CaptureCreated(capture(Some(1), false)), 1_050);
    assert_eq!(created, Err(Refused::NotCapturable), "not before it is authorized");
}

#[test]
fn a_cancel_ends_canceled_with_nothing_captured_or_succeeded_with_what_was() {
    let pending = apply(&manual(), Transition::CancelRequested, 1_050).unwrap();
    let ended = PaymentOutcome::Ended { reason: None };
    let c = pending.apply(Transition::PaymentSettled(ended.clone()), 1_060, cause()).unwrap();
    assert_eq!((c.view.payment.status, c.event.kind), (PaymentStatus::Canceled, EventType::PaymentCanceled));
    assert_eq!(c.view.payment.sealed_card, None, "nothing held, and no card kept");

    let v = authorized();
    let first = capture(Some(250), false);
    let id = first.id;
    let v = captured(&apply(&v, Transition::CaptureCreated(first), 2_000).unwrap(), id);
    let in_flight = apply(&v, Transition::CaptureCreated(capture(Some(1), false)), 2_300).unwrap();
    assert_eq!(
        apply(&in_flight, Transition::CancelRequested, 2_400),
        Err(Refused::NotCancelable),
        "a capture in flight"
    );
    let v = apply(&v, Transition::CancelRequested, 2_400).unwrap();
    let end = v.apply(Transition::PaymentSettled(ended), 2_500, cause()).unwrap();
    assert_eq!((end.view.payment.status, end.event.kind), (PaymentStatus::Succeeded, EventType::PaymentSucceeded));
    assert_eq!(end.view.payment.authorization.as_ref().unwrap().captured_amount, 250);
}

#[test]
fn an_expired_authorization_ends_canceled_with_its_reason_and_automatic_payments_cannot_be_canceled() {
    let expired = PaymentOutcome::Ended { reason: Some(crate::domain::capture::AUTHORIZATION_EXPIRED.into()) };
    let v = apply(&authorized(), Transition::PaymentSettled(expired), EXPIRES + 1).unwrap();
    assert_eq!(
        (v.payment.status, v.payment.reason.as_deref()),
        (PaymentStatus::Canceled, Some("authorization_expired"))
    );
    let automatic = {
        let mut m = manual();
        m.payment.authorization = None;
        m
    };
    assert_eq!(apply(&automatic, Transition::CancelRequested, 1_100), Err(Refused::NotCancelable));
    assert_eq!(apply(&automatic, Transition::CaptureCreated(capture(None, true)), 1_100), Err(Refused::NotCapturable));
}

#[test]
fn a_cancel_asked_before_the_authorization_is_sent_stops_it_and_none_ends_a_payment_being_authorized() {
    let canceling = apply(&manual(), Transition::CancelRequested, 1_050).unwrap();
    assert_eq!(apply(&canceling, Transition::PaymentProcessing, 1_060), Err(Refused::WrongState), "never sent");
    let processing = apply(&manual(), Transition::PaymentProcessing, 1_100).unwrap();
    let canceling = apply(&processing, Transition::CancelRequested, 1_150).unwrap();
    let ended = PaymentOutcome::Ended { reason: None };
    assert_eq!(
        apply(&canceling, Transition::PaymentSettled(ended), 1_200),
        Err(Refused::WrongState),
        "an authorization may be on its way: settled (and voided) first"
    );
}

#[test]
fn refunds_of_a_manual_payment_take_only_captured_money() {
    let v = authorized();
    let refund = |amount: u64| NewRefund {
        id: RefundId::new(),
        payment_id: v.payment.id,
        merchant_id: merchant(),
        amount: Amount::parse(i128::from(amount)).unwrap(),
        currency: v.payment.currency,
        created_at_ms: 2_000,
        metadata: Default::default(),
    };
    assert_eq!(apply(&v, Transition::RefundCreated(refund(1)), 2_000), Err(Refused::InsufficientRefundable));
    let c = capture(Some(300), false);
    let id = c.id;
    let v = captured(&apply(&v, Transition::CaptureCreated(c), 2_000).unwrap(), id);
    assert_eq!(apply(&v, Transition::RefundCreated(refund(301)), 2_500), Err(Refused::InsufficientRefundable));
    assert!(apply(&v, Transition::RefundCreated(refund(300)), 2_500).is_ok());
}
