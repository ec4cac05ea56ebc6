use super::*;
use payment_platform::domain::card::SealedCard;
use payment_platform::domain::ids::{MerchantId, PaymentId, RefundId};
use payment_platform::domain::money::{Amount, Currency};
use payment_platform::domain::payment::{NewPayment, NewRefund};

fn payment(status: PaymentStatus, price: u64) -> PaymentView {
    let new = NewPayment {
        id: PaymentId::new(),
        merchant_id: MerchantId::parse("test@merchant").unwrap(),
        customer_id: "c".into(),
        customer_name: None,
        amount: Amount::parse(i128::from(price)).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        card_last4: "4242".into(),
        sealed_card: SealedCard("x".into()),
        created_at_ms: 1_000,
        tags: Default::default(),
        capture_method: Default::default(),
    };
    let mut p = new.pending();
    p.status = status;
    PaymentView { payment: p, refunds: Vec::new() }
}

fn with_refund(mut v: PaymentView, status: RefundStatus, amount: u64) -> PaymentView {
    let mut r = NewRefund {
        id: RefundId::new(),
        payment_id: v.payment.id,
        merchant_id: v.payment.merchant_id.clone(),
        amount: Amount::parse(i128::from(amount)).unwrap(),
        currency: v.payment.currency,
        created_at_ms: 2_000,
        metadata: Default::default(),
    }
    .pending();
    r.status = status;
    v.refunds.push(r);
    v
}

fn line(kind: &str, reference: impl ToString, amount: u64, outcome: &str) -> BankLine {
    BankLine {
        kind: kind.into(),
        reference: reference.to_string(),
        amount,
        outcome: outcome.into(),
        applied_at: 1_500,
        final_capture: None,
        expires_at: None,
    }
}

const RANGE: (u64, u64) = (0, 10_000);

#[test]
fn books_that_agree_have_no_mismatch() {
    let ok = with_refund(payment(PaymentStatus::Succeeded, 1000), RefundStatus::Succeeded, 300);
    let declined = payment(PaymentStatus::Declined, 500);
    let lines = [
        line("charge", ok.payment.id, 1000, "approved"),
        line("refund", ok.refunds[0].id, 300, "succeeded"),
        line("charge", declined.payment.id, 500, "declined"),
    ];
    let (summary, found) = reconcile(&[ok, declined], &HashSet::new(), &lines, RANGE);
    assert_eq!(found, []);
    assert_eq!(summary, Summary { payments: 2, refunds: 1, bank_charges: 1, bank_refunds: 1, in_flight: 0 });
}

#[test]
fn every_kind_of_disagreement_is_named() {
    let twice = payment(PaymentStatus::Succeeded, 100);
    let failed_but_charged = payment(PaymentStatus::Failed, 100);
    let never_charged = payment(PaymentStatus::Succeeded, 100);
    let wrong_amount = payment(PaymentStatus::Succeeded, 100);
    let refunds = with_refund(
        with_refund(payment(PaymentStatus::Succeeded, 100), RefundStatus::Failed, 60),
        RefundStatus::Succeeded,
        60,
    );
    let lines = vec![
        line("charge", twice.payment.id, 100, "approved"),
        line("charge", twice.payment.id, 100, "approved"),
        line("charge", failed_but_charged.payment.id, 100, "approved"),
        line("charge", wrong_amount.payment.id, 90, "approved"),
        line("charge", refunds.payment.id, 100, "approved"),
        line("refund", refunds.refunds[0].id, 60, "succeeded"),
        line("refund", refunds.refunds[1].id, 60, "succeeded"),
        line("charge", "not-ours", 5, "approved"),
    ];
    let platform =
        [twice.clone(), failed_but_charged.clone(), never_charged.clone(), wrong_amount.clone(), refunds.clone()];
    let (_, found) = reconcile(&platform, &HashSet::new(), &lines, RANGE);
    let texts: Vec<String> = found.iter().map(ToString::to_string).collect();
    let kinds: Vec<&str> = texts.iter().map(|t| t.split(' ').next().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "charged_twice",
            "charged_but_not_succeeded",
            "succeeded_but_not_charged",
            "charge_amount_differs",
            "refunded_but_not_succeeded",
            "refunds_above_charge",
            "unknown_reference",
        ],
        "{texts:#?}"
    );
}

#[test]
fn records_in_flight_are_counted_not_judged_and_old_unknown_lines_are_out_of_range() {
    let pending = with_refund(payment(PaymentStatus::Processing, 100), RefundStatus::Pending, 10);
    let mut old = line("charge", "from-last-year", 5, "approved");
    old.applied_at = 99_999;
    let lines = [line("charge", pending.payment.id, 100, "approved"), old];
    let (summary, found) = reconcile(&[pending], &HashSet::new(), &lines, RANGE);
    assert_eq!((summary.in_flight, found.len()), (2, 0));
}

#[test]
fn money_moved_in_the_range_for_an_older_payment_is_known() {
    let refund_of_last_week = line("refund", "an-older-refund", 10, "succeeded");
    let elsewhere = HashSet::from([("refund".to_owned(), "an-older-refund".to_owned())]);
    let (_, found) = reconcile(&[], &elsewhere, std::slice::from_ref(&refund_of_last_week), RANGE);
    assert_eq!(found, []);
    let (_, found) = reconcile(&[], &HashSet::new(), &[refund_of_last_week], RANGE);
    assert_eq!(found.len(), 1);
}

fn manual(status: PaymentStatus) -> PaymentView {
    let mut v = payment(status, 1000);
    v.payment.authorization = Some(payment_platform::domain::capture::Authorization {
        bank_authorization_id: Some("au".into()),
        authorized_amount: 1000,
        ..Default::default()
    });
    v
}

fn captured(mut v: PaymentView, status: payment_platform::domain::status::CaptureStatus, amount: u64) -> PaymentView {
    let a = v.payment.authorization.as_mut().unwrap();
    a.captures.push(payment_platform::domain::capture::Capture {
        id: payment_platform::domain::ids::CaptureId::new(),
        amount: Amount::parse(i128::from(amount)).unwrap(),
        status,
        final_capture: false,
        reason: None,
        bank_capture_id: None,
        created_at_ms: 2_000,
        updated_at_ms: 2_000,
        sent_at_ms: None,
        metadata: Default::default(),
    });
    v
}

fn hold(v: &PaymentView, expires_at: u64) -> BankLine {
    BankLine { expires_at: Some(expires_at), ..line("authorization", v.payment.id, 1000, "approved") }
}

#[test]
fn a_manual_payment_captured_and_ended_as_the_bank_says_has_no_mismatch() {
    use payment_platform::domain::status::RefundStatus::Succeeded;
    let v = captured(manual(PaymentStatus::Succeeded), Succeeded, 1000);
    let c = v.payment.authorization.as_ref().unwrap().captures[0].id;
    let canceled = manual(PaymentStatus::Canceled);
    let lines = [
        hold(&v, 9_000),
        BankLine { final_capture: Some(true), ..line("capture", c, 1000, "succeeded") },
        hold(&canceled, 9_000),
        line("void", canceled.payment.id, 1000, "succeeded"),
    ];
    let (_, found) = reconcile(&[v, canceled], &HashSet::new(), &lines, RANGE);
    assert_eq!(found, []);
}

#[test]
fn captured_twice_above_the_hold_or_held_after_the_end_is_a_mismatch() {
    use payment_platform::domain::status::RefundStatus::Succeeded;
    let v = captured(captured(manual(PaymentStatus::Succeeded), Succeeded, 600), Succeeded, 500);
    let caps: Vec<_> = v.payment.authorization.as_ref().unwrap().captures.iter().map(|c| c.id).collect();
    let left_held = manual(PaymentStatus::Canceled);
    let lines = [
        hold(&v, 9_000),
        line("capture", caps[0], 600, "succeeded"),
        line("capture", caps[0], 600, "succeeded"),
        line("capture", caps[1], 500, "succeeded"),
        hold(&left_held, 99_000),
    ];
    let (_, found) = reconcile(&[v.clone(), left_held.clone()], &HashSet::new(), &lines, RANGE);
    let text: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|t| t.starts_with("captured_twice")), "{text:?}");
    assert!(text.iter().any(|t| t.starts_with("captures_above_authorization")), "{text:?}");
    assert!(text.iter().any(|t| t == &format!("held_after_final payment={} held=1000", left_held.payment.id)));
    let expired = [hold(&left_held, 5_000)];
    let (_, found) = reconcile(&[left_held], &HashSet::new(), &expired, RANGE);
    assert_eq!(found, [], "an expired hold holds nothing");
}
