//! The store suite's checks of manual capture (`testing::store_suite` runs them on both stores):
//! an authorization and its captures read back whole, with the card gone; captures racing on one
//! version cannot both land; and an authorization waits in the repair index until its expiry.
use super::store_suite::{T0, conflict, create, fresh_merchant, new_payment, until, worker};
use crate::domain::capture::{CaptureMethod, CaptureOutcome, NewCapture};
use crate::domain::change::Transition;
use crate::domain::events::EventType;
use crate::domain::ids::CaptureId;
use crate::domain::money::Amount;
use crate::domain::payment::{PaymentOutcome, PaymentView};
use crate::domain::ports::{ConflictKind, Stores};
use crate::domain::status::{CaptureStatus, PaymentStatus};

pub async fn run(s: &Stores) {
    an_authorization_and_its_captures_read_back_whole_without_the_card(s).await;
    racing_captures_cannot_both_take_what_is_left(s).await;
    an_idle_authorization_waits_in_the_repair_index_until_its_expiry(s).await;
}

const EXPIRES: u64 = T0 + 7 * 86_400_000;

async fn apply(s: &Stores, view: &PaymentView, t: Transition, at: u64) -> (PaymentView, crate::domain::change::Change) {
    let c = view.apply(t, at, worker()).expect("the transition applies");
    s.payments.commit(&c, None).await.unwrap();
    (c.view.clone(), c)
}

/// A manual-capture payment of 1000, authorized at `at`.
async fn authorized(s: &Stores, at: u64) -> PaymentView {
    let mut p = new_payment(&fresh_merchant(), 1000, at);
    p.capture_method = CaptureMethod::Manual;
    let created = create(s, &p).await;
    let (processing, _) = apply(s, &created, Transition::PaymentProcessing, at + 1).await;
    let ok = PaymentOutcome::Authorized { bank_authorization_id: "au_1".into(), expires_at_ms: EXPIRES };
    apply(s, &processing, Transition::PaymentSettled(ok), at + 2).await.0
}

fn capture(view: &PaymentView, amount: u64) -> NewCapture {
    NewCapture {
        id: CaptureId::new(),
        merchant_id: view.payment.merchant_id.clone(),
        amount: Some(Amount::parse(i128::from(amount)).unwrap()),
        final_capture: false,
        metadata: crate::domain::reference::Metadata::parse([("shipment".into(), "1".into())]).unwrap(),
    }
}

async fn an_authorization_and_its_captures_read_back_whole_without_the_card(s: &Stores) {
    let view = authorized(s, T0).await;
    let read = s.payments.get_payment(view.payment.id).await.unwrap().unwrap();
    assert_eq!(read, view);
    assert_eq!(read.payment.sealed_card, None, "the card goes with the authorization");
    let new = capture(&view, 400);
    let (view, created) = apply(s, &view, Transition::CaptureCreated(new.clone()), T0 + 10).await;
    assert_eq!(created.event.capture_id, Some(new.id));
    let (view, _) = apply(s, &view, Transition::CaptureProcessing(new.id), T0 + 11).await;
    let ok = CaptureOutcome::Succeeded { bank_capture_id: "cp_1".into() };
    let (view, _) = apply(s, &view, Transition::CaptureSettled(new.id, ok), T0 + 12).await;
    let read = s.payments.get_payment(view.payment.id).await.unwrap().unwrap();
    assert_eq!(read, view, "authorization, captures, their metadata and times read back as written");
    let a = read.payment.authorization.as_ref().unwrap();
    let c = a.capture(new.id).unwrap();
    assert_eq!((c.status, c.sent_at_ms, a.captured_amount), (CaptureStatus::Succeeded, Some(T0 + 11), 400));
    let trail = until("the audit trail", async || {
        let page = s.events.payment_events(view.payment.id, 100, None).await.ok()?;
        (page.events.len() == 6).then_some(page.events)
    })
    .await;
    let captured = trail.iter().find(|e| e.kind == EventType::CaptureSucceeded).unwrap();
    assert_eq!((captured.capture_id, &captured.data), (Some(new.id), &view));
}

async fn racing_captures_cannot_both_take_what_is_left(s: &Stores) {
    let view = authorized(s, T0).await;
    let first = view.apply(Transition::CaptureCreated(capture(&view, 700)), T0 + 10, worker()).unwrap();
    let second = view.apply(Transition::CaptureCreated(capture(&view, 700)), T0 + 10, worker()).unwrap();
    s.payments.commit(&first, None).await.unwrap();
    assert_eq!(s.payments.commit(&second, None).await, conflict(ConflictKind::Changed));
    let read = s.payments.get_payment(view.payment.id).await.unwrap().unwrap();
    let a = read.payment.authorization.as_ref().unwrap();
    assert_eq!((a.captures.len(), a.capturable_left), (1, 300));
    assert_eq!(read.payment.status, PaymentStatus::Authorized);
    let ended = Transition::PaymentSettled(PaymentOutcome::Ended { reason: None });
    assert!(read.apply(ended, T0 + 20, worker()).is_err(), "not ended while a capture is in flight");
}

async fn an_idle_authorization_waits_in_the_repair_index_until_its_expiry(s: &Stores) {
    // Authorized long ago (the clock is the caller's): the AUTHORIZED write put it in the repair
    // index at its expiry, so it is not stale before then.
    let view = authorized(s, 1_000).await;
    let id = view.payment.id;
    until("the authorization to wait for its expiry", async || {
        (!s.repair.stale_payments(EXPIRES - 1, 1_000).await.ok()?.contains(&id)).then_some(())
    })
    .await;
    until("the authorization to be stale after its expiry", async || {
        s.repair.stale_payments(EXPIRES + 1, 1_000).await.ok()?.contains(&id).then_some(())
    })
    .await;
    // A capture asked brings it to the front: a lost message is repaired soon.
    let new = capture(&view, 1);
    let (view, _) = apply(s, &view, Transition::CaptureCreated(new.clone()), 3_000).await;
    until("the touched authorization to be stale soon", async || {
        s.repair.stale_payments(4_000, 1_000).await.ok()?.contains(&id).then_some(())
    })
    .await;
    // Once the capture is settled and nothing is under way, it waits for its expiry again.
    let (view, _) = apply(s, &view, Transition::CaptureProcessing(new.id), 3_001).await;
    let ok = CaptureOutcome::Succeeded { bank_capture_id: "cp".into() };
    apply(s, &view, Transition::CaptureSettled(new.id, ok), 3_002).await;
    until("the idle authorization to wait for its expiry again", async || {
        (!s.repair.stale_payments(EXPIRES - 1, 1_000).await.ok()?.contains(&id)).then_some(())
    })
    .await;
}
