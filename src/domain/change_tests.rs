use super::*;
use crate::domain::card::SealedCard;
use crate::domain::events::Actor;
use crate::domain::ids::{MerchantId, PaymentId};
use crate::domain::money::{Amount, Currency};

fn merchant() -> MerchantId {
    MerchantId::parse("test@merchant").unwrap()
}

fn cause() -> Cause {
    Cause::new(Actor::PaymentWorker, Some("trace".into()))
}

fn created() -> Change {
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
        capture_method: Default::default(),
    };
    Change::payment_created(&new, Cause::new(Actor::Merchant(merchant()), None))
}

fn refund(view: &PaymentView, amount: u64) -> NewRefund {
    NewRefund {
        id: RefundId::new(),
        payment_id: view.payment.id,
        merchant_id: merchant(),
        amount: Amount::parse(i128::from(amount)).unwrap(),
        currency: view.payment.currency,
        created_at_ms: 2_000,
        metadata: Default::default(),
    }
}

fn succeeded() -> PaymentView {
    let v = created().view;
    let v = v.apply(Transition::PaymentProcessing, 1_100, cause()).unwrap().view;
    let ok = PaymentOutcome::Succeeded { bank_charge_id: "ch_1".into() };
    v.apply(Transition::PaymentSettled(ok), 1_200, cause()).unwrap().view
}

#[test]
fn creation_is_version_one_and_its_event_carries_no_card() {
    let c = created();
    assert_eq!((c.view.payment.version, c.event.version, c.read_version()), (1, 1, 0));
    assert!(c.creates_payment() && !c.creates_refund());
    assert!(c.view.payment.sealed_card.is_some(), "the stored payment keeps its card until final");
    assert_eq!(c.event.data.payment.sealed_card, None);
    assert_eq!(c.event.kind, EventType::PaymentCreated);
    assert_eq!(c.event.id().version, 1);
}

#[test]
fn each_change_adds_one_version_and_settling_erases_the_card() {
    let v = succeeded();
    assert_eq!((v.payment.version, v.payment.status), (2 + 1, PaymentStatus::Succeeded));
    assert_eq!((v.payment.sealed_card.clone(), v.payment.updated_at_ms), (None, 1_200));
    assert_eq!(v.payment.bank_charge_id.as_deref(), Some("ch_1"));
}

#[test]
fn a_move_that_changes_nothing_is_refused_so_it_records_nothing() {
    let v = created().view;
    let processing = v.apply(Transition::PaymentProcessing, 1_100, cause()).unwrap().view;
    assert_eq!(processing.apply(Transition::PaymentProcessing, 1_200, cause()), Err(Refused::WrongState));
    let done = succeeded();
    for t in
        [Transition::PaymentProcessing, Transition::PaymentSettled(PaymentOutcome::Failed { reason: "late".into() })]
    {
        assert_eq!(done.apply(t, 9_000, cause()), Err(Refused::WrongState));
    }
}

#[test]
fn a_refund_reserves_its_amount_and_its_settlement_books_or_returns_it() {
    let v = succeeded();
    let r = refund(&v, 300);
    let c = v.apply(Transition::RefundCreated(r.clone()), 2_000, cause()).unwrap();
    assert!(c.creates_refund());
    assert_eq!((c.view.payment.refundable_left, c.view.payment.version), (700, 4));
    assert_eq!(c.written_refund().map(|w| w.status), Some(RefundStatus::Pending));
    assert_eq!(c.event.refund_id, Some(r.id));

    let started = c.view.apply(Transition::RefundProcessing(r.id), 2_100, cause()).unwrap().view;
    let ok = RefundOutcome::Succeeded { bank_refund_id: "rf_1".into() };
    let done = started.apply(Transition::RefundSettled(r.id, ok), 2_200, cause()).unwrap();
    assert_eq!(done.event.kind, EventType::RefundSucceeded);
    let p = &done.view.payment;
    assert_eq!((p.refunded_amount, p.refundable_left, p.refund_timestamp_ms, p.version), (300, 700, Some(2_200), 6));

    let failed = started
        .apply(Transition::RefundSettled(r.id, RefundOutcome::Failed { reason: "no".into() }), 2_200, cause())
        .unwrap();
    assert_eq!((failed.view.payment.refundable_left, failed.view.payment.refunded_amount), (1000, 0));
    assert_eq!(failed.event.kind, EventType::RefundFailed);
}

#[test]
fn refunds_never_exceed_the_price_nor_touch_an_unknown_or_final_refund() {
    let v = succeeded();
    let too_much = refund(&v, 1_001);
    assert_eq!(v.apply(Transition::RefundCreated(too_much), 2_000, cause()), Err(Refused::InsufficientRefundable));
    let unknown = RefundId::new();
    assert_eq!(v.apply(Transition::RefundProcessing(unknown), 2_000, cause()), Err(Refused::UnknownRefund));
    let declined = created()
        .view
        .apply(Transition::PaymentSettled(PaymentOutcome::Declined { reason: "card_declined".into() }), 1_100, cause())
        .unwrap()
        .view;
    assert_eq!(
        declined.apply(Transition::RefundCreated(refund(&declined, 1)), 2_000, cause()),
        Err(Refused::InsufficientRefundable)
    );
    let r = refund(&v, 10);
    let with = v.apply(Transition::RefundCreated(r.clone()), 2_000, cause()).unwrap().view;
    assert_eq!(with.apply(Transition::RefundCreated(r), 2_000, cause()), Err(Refused::WrongState));
}

#[test]
fn a_payment_takes_at_most_max_refunds() {
    let mut v = succeeded();
    for _ in 0..MAX_REFUNDS {
        v = v.apply(Transition::RefundCreated(refund(&v, 1)), 2_000, cause()).unwrap().view;
    }
    let one_more = refund(&v, 1);
    assert_eq!(v.apply(Transition::RefundCreated(one_more), 2_000, cause()), Err(Refused::TooManyRefunds));
}
