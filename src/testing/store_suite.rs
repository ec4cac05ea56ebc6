//! One suite for every storage adapter: the unit tests run it on `MemoryStore`, the integration
//! tests on `DynamoStore` against the emulator, so the fake cannot drift from the real thing.
//! Every check uses ids of its own (and a merchant of its own where it lists), so the suite can
//! share a table with other tests.
use std::time::{Duration, Instant};

use crate::domain::card::SealedCard;
use crate::domain::idempotency::{Accepted, IdempotencyClaim, IdempotencyKey, IdempotencyState};
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::money::{Amount, Currency};
use crate::domain::payment::{NewPayment, NewRefund, PaymentOutcome, RefundOutcome};
use crate::domain::ports::{ConflictKind, StoreError, Stores};
use crate::domain::status::{PaymentStatus, RefundStatus};

const T0: u64 = 1_800_000_000_000;

fn merchant() -> MerchantId {
    MerchantId::parse("test@merchant").unwrap()
}

fn fresh_merchant() -> MerchantId {
    MerchantId::parse(&format!("suite-{}@merchant", uuid::Uuid::new_v4().simple())).unwrap()
}

fn new_payment(m: &MerchantId, price: u64, at: u64) -> NewPayment {
    NewPayment {
        id: PaymentId::new(),
        merchant_id: m.clone(),
        customer_id: "cust".into(),
        customer_name: Some("Ann".into()),
        amount: Amount::parse(i128::from(price)).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        card_last4: "4242".into(),
        sealed_card: SealedCard("sealed".into()),
        created_at_ms: at,
    }
}

fn new_refund(p: &NewPayment, amount: u64, at: u64) -> NewRefund {
    NewRefund {
        id: RefundId::new(),
        payment_id: p.id,
        merchant_id: p.merchant_id.clone(),
        amount: Amount::parse(i128::from(amount)).unwrap(),
        currency: p.currency,
        created_at_ms: at,
    }
}

fn claim(m: &MerchantId, resource: String, response: Option<Accepted>) -> IdempotencyClaim {
    IdempotencyClaim {
        key: IdempotencyKey::parse(m.clone(), &format!("suite-{}", uuid::Uuid::new_v4())).unwrap(),
        request_hash: "hash-1".into(),
        resource_id: resource,
        locked_until_ms: T0 + 10_000,
        expires_at_secs: T0 / 1000 + 3600,
        response,
    }
}

fn answer() -> Accepted {
    Accepted::Refund {
        refund_id: RefundId::parse("7a0b3c1e-2b7d-4c1e-9a55-0d2f3b4c5d6e").unwrap(),
        payment_id: PaymentId::parse("6f1c8a7e-2b7d-4c1e-9a55-0d2f3b4c5d6e").unwrap(),
        amount: Amount::parse(250).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
    }
}

fn conflict(kind: ConflictKind) -> Result<(), StoreError> {
    Err(StoreError::Conflict(kind))
}

/// Index reads (listing, the repair index) may lag a write on real DynamoDB: poll them.
async fn until<T>(what: &str, mut read: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = read().await {
            return v;
        }
        assert!(Instant::now() < deadline, "store suite: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs every check on `stores`.
pub async fn run(stores: &Stores) {
    payments_are_written_once_and_read_back(stores).await;
    a_claimed_key_is_taken_once_and_writes_nothing_else(stores).await;
    claims_are_taken_over_once_and_completed(stores).await;
    a_final_payment_state_is_never_left(stores).await;
    refunds_never_exceed_what_is_left(stores).await;
    a_settled_refund_moves_its_amount_once(stores).await;
    listing_pages_newest_first_without_gaps_or_repeats(stores).await;
    stale_records_are_found_and_claimed_once(stores).await;
    seeded_merchants_exist_and_others_do_not(stores).await;
}

async fn payments_are_written_once_and_read_back(s: &Stores) {
    let p = new_payment(&merchant(), 1500, T0);
    s.payments.insert_payment(&p, None).await.unwrap();
    let view = s.payments.get_payment(p.id).await.unwrap().expect("the payment");
    let got = &view.payment;
    assert_eq!((got.id, got.status, got.amount, got.refundable_left), (p.id, PaymentStatus::Pending, p.amount, 1500));
    assert_eq!((got.created_at_ms, got.updated_at_ms, got.card_last4.as_str()), (T0, T0, "4242"));
    assert_eq!(got.sealed_card, Some(SealedCard("sealed".into())));
    assert!(view.refunds.is_empty());
    assert_eq!(s.payments.insert_payment(&p, None).await, conflict(ConflictKind::AlreadyExists));
    assert!(s.payments.get_payment(PaymentId::new()).await.unwrap().is_none());
}

async fn a_claimed_key_is_taken_once_and_writes_nothing_else(s: &Stores) {
    let first = new_payment(&merchant(), 100, T0);
    let c = claim(&merchant(), first.id.to_string(), Some(answer()));
    s.payments.insert_payment(&first, Some(&c)).await.unwrap();
    let second = new_payment(&merchant(), 100, T0);
    assert_eq!(s.payments.insert_payment(&second, Some(&c)).await, conflict(ConflictKind::IdempotencyKeyTaken));
    assert!(s.payments.get_payment(second.id).await.unwrap().is_none(), "the losing payment is not written");
    let record = s.keys.get_idempotency(&c.key).await.unwrap().expect("the claim");
    assert_eq!((record.request_hash.as_str(), record.resource_id.clone()), ("hash-1", first.id.to_string()));
    assert_eq!(record.state, IdempotencyState::Done(answer()));
    // A refund's claim is checked first too: nothing is reserved when the key is taken.
    let r = new_refund(&first, 10, T0);
    assert_eq!(s.refunds.insert_refund(&r, Some(&c)).await, conflict(ConflictKind::IdempotencyKeyTaken));
    assert_eq!(s.payments.get_payment(first.id).await.unwrap().unwrap().payment.refundable_left, 100);
}

async fn claims_are_taken_over_once_and_completed(s: &Stores) {
    let p = new_payment(&merchant(), 100, T0);
    let c = claim(&merchant(), p.id.to_string(), None);
    s.payments.insert_payment(&p, Some(&c)).await.unwrap();
    let record = s.keys.get_idempotency(&c.key).await.unwrap().unwrap();
    assert_eq!(record.state, IdempotencyState::InProgress { locked_until_ms: T0 + 10_000 });
    assert!(matches!(s.keys.renew_idempotency(&c.key, T0, T0 + 20_000).await, Err(StoreError::Conflict(_))));
    s.keys.renew_idempotency(&c.key, T0 + 10_000, T0 + 20_000).await.unwrap();
    let again = s.keys.renew_idempotency(&c.key, T0 + 10_000, T0 + 30_000).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "a second taker with the old lock loses");
    s.keys.complete_idempotency(&c.key, &answer()).await.unwrap();
    let done = s.keys.get_idempotency(&c.key).await.unwrap().unwrap();
    assert_eq!(done.state, IdempotencyState::Done(answer()));
    let unknown = IdempotencyKey::parse(merchant(), "suite-never-used").unwrap();
    assert!(s.keys.get_idempotency(&unknown).await.unwrap().is_none());
}

async fn a_final_payment_state_is_never_left(s: &Stores) {
    let p = new_payment(&merchant(), 100, T0);
    s.payments.insert_payment(&p, None).await.unwrap();
    let started = s.payments.start_payment(p.id, T0 + 1).await.unwrap();
    assert_eq!((started.status, started.updated_at_ms), (PaymentStatus::Processing, T0 + 1));
    s.payments.start_payment(p.id, T0 + 2).await.expect("a redelivered message may start it again");
    let won = PaymentOutcome::Succeeded { bank_charge_id: "ch_1".into() };
    let settled = s.payments.settle_payment(p.id, &won, T0 + 3).await.unwrap();
    assert_eq!((settled.status, settled.bank_charge_id.as_deref()), (PaymentStatus::Succeeded, Some("ch_1")));
    assert_eq!(settled.sealed_card, None, "the card is erased with the final state");
    let late = PaymentOutcome::Failed { reason: "late".into() };
    assert_eq!(s.payments.settle_payment(p.id, &late, T0 + 4).await.map(|_| ()), conflict(ConflictKind::WrongState));
    assert_eq!(s.payments.start_payment(p.id, T0 + 5).await.map(|_| ()), conflict(ConflictKind::WrongState));
    let unknown = s.payments.start_payment(PaymentId::new(), T0).await.map(|_| ());
    assert_eq!(unknown, conflict(ConflictKind::WrongState));
    let view = s.payments.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!((view.payment.status, view.payment.reason), (PaymentStatus::Succeeded, None));
}

async fn refunds_never_exceed_what_is_left(s: &Stores) {
    let p = new_payment(&merchant(), 1000, T0);
    s.payments.insert_payment(&p, None).await.unwrap();
    s.refunds.insert_refund(&new_refund(&p, 600, T0 + 1), None).await.unwrap();
    let over = new_refund(&p, 500, T0 + 2);
    assert_eq!(s.refunds.insert_refund(&over, None).await, conflict(ConflictKind::InsufficientRefundable));
    let exact = new_refund(&p, 400, T0 + 3);
    s.refunds.insert_refund(&exact, Some(&claim(&merchant(), exact.id.to_string(), None))).await.unwrap();
    assert_eq!(s.refunds.insert_refund(&exact, None).await, conflict(ConflictKind::InsufficientRefundable));
    let view = s.payments.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(view.payment.refundable_left, 0);
    let amounts: Vec<u64> = view.refunds.iter().map(|r| r.amount.get()).collect();
    assert_eq!(amounts, [600, 400], "refunds oldest first; the refused one is not written");
    assert!(view.refunds.iter().all(|r| r.status == RefundStatus::Pending));

    // Another merchant's payment, and a payment that ended without succeeding, reserve nothing.
    let other = new_payment(&merchant(), 1000, T0);
    s.payments.insert_payment(&other, None).await.unwrap();
    let mut foreign = new_refund(&other, 10, T0);
    foreign.merchant_id = MerchantId::parse("other@merchant").unwrap();
    assert_eq!(s.refunds.insert_refund(&foreign, None).await, conflict(ConflictKind::InsufficientRefundable));
    let declined = PaymentOutcome::Declined { reason: "card_declined".into() };
    s.payments.settle_payment(other.id, &declined, T0 + 1).await.unwrap();
    let after = new_refund(&other, 10, T0 + 2);
    assert_eq!(s.refunds.insert_refund(&after, None).await, conflict(ConflictKind::InsufficientRefundable));
    let missing = new_refund(&new_payment(&merchant(), 10, T0), 10, T0);
    assert_eq!(s.refunds.insert_refund(&missing, None).await, conflict(ConflictKind::InsufficientRefundable));
}

async fn a_settled_refund_moves_its_amount_once(s: &Stores) {
    let p = new_payment(&merchant(), 1000, T0);
    s.payments.insert_payment(&p, None).await.unwrap();
    s.payments.settle_payment(p.id, &PaymentOutcome::Succeeded { bank_charge_id: "ch".into() }, T0).await.unwrap();
    let (good, bad) = (new_refund(&p, 300, T0 + 1), new_refund(&p, 200, T0 + 2));
    s.refunds.insert_refund(&good, None).await.unwrap();
    s.refunds.insert_refund(&bad, None).await.unwrap();
    let started = s.refunds.start_refund(p.id, good.id, T0 + 3).await.unwrap();
    assert_eq!(started.status, RefundStatus::Processing);
    let ok = RefundOutcome::Succeeded { bank_refund_id: "re".into() };
    s.refunds.settle_refund(&started, &ok, T0 + 4).await.unwrap();
    assert_eq!(s.refunds.settle_refund(&started, &ok, T0 + 5).await, conflict(ConflictKind::WrongState));
    let failing = s.refunds.start_refund(p.id, bad.id, T0 + 6).await.unwrap();
    s.refunds.settle_refund(&failing, &RefundOutcome::Failed { reason: "no".into() }, T0 + 7).await.unwrap();
    assert_eq!(s.refunds.start_refund(p.id, bad.id, T0 + 8).await.map(|_| ()), conflict(ConflictKind::WrongState));
    let view = s.payments.get_payment(p.id).await.unwrap().unwrap();
    let pay = &view.payment;
    assert_eq!((pay.refunded_amount, pay.refundable_left, pay.refund_timestamp_ms), (300, 700, Some(T0 + 4)));
    let states: Vec<_> = view.refunds.iter().map(|r| (r.status, r.reason.clone())).collect();
    assert_eq!(states, [(RefundStatus::Succeeded, None), (RefundStatus::Failed, Some("no".into()))]);
}

async fn listing_pages_newest_first_without_gaps_or_repeats(s: &Stores) {
    let (m, other) = (fresh_merchant(), fresh_merchant());
    let mut made = Vec::new();
    for i in 0..5 {
        let p = new_payment(&m, 100, T0 + i * 1000);
        s.payments.insert_payment(&p, None).await.unwrap();
        made.push(p.id);
    }
    s.payments.insert_payment(&new_payment(&other, 100, T0), None).await.unwrap();
    made.reverse();
    let seen = until("five payments listed", async || {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = s.payments.list_payments(&m, 2, cursor.as_deref()).await.ok()?;
            assert!(page.payments.len() <= 2);
            seen.extend(page.payments.iter().map(|p| p.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        (seen.len() == 5).then_some(seen)
    })
    .await;
    assert_eq!(seen, made, "newest first, each once, only this merchant's");
    let bad = s.payments.list_payments(&m, 2, Some("not-a-cursor")).await.map(|_| ());
    assert_eq!(bad, Err(StoreError::InvalidCursor));
}

async fn stale_records_are_found_and_claimed_once(s: &Stores) {
    // Written "long ago" (the clock is the caller's: a record's age is what it was given).
    let old = new_payment(&merchant(), 100, 1_000);
    let done = new_payment(&merchant(), 100, 1_000);
    s.payments.insert_payment(&old, None).await.unwrap();
    s.payments.insert_payment(&done, None).await.unwrap();
    s.payments.settle_payment(done.id, &PaymentOutcome::Failed { reason: "x".into() }, 1_001).await.unwrap();
    let refund = new_refund(&old, 10, 1_000);
    s.refunds.insert_refund(&refund, None).await.unwrap();
    let cutoff = 2_000;
    let payments = until("the stale payment", async || {
        let found = s.repair.stale_payments(cutoff, 100).await.ok()?;
        found.contains(&old.id).then_some(found)
    })
    .await;
    assert!(!payments.contains(&done.id), "a final payment is never stale");
    until("the stale refund", async || {
        s.repair.stale_refunds(cutoff, 100).await.ok()?.contains(&(old.id, refund.id)).then_some(())
    })
    .await;
    assert!(s.repair.claim_stale(old.id, None, cutoff, T0).await.unwrap());
    assert!(!s.repair.claim_stale(old.id, None, cutoff, T0).await.unwrap(), "claimed once");
    assert!(s.repair.claim_stale(old.id, Some(refund.id), cutoff, T0).await.unwrap());
    assert!(!s.repair.claim_stale(old.id, Some(refund.id), cutoff, T0).await.unwrap());
    assert!(!s.repair.claim_stale(done.id, None, cutoff, T0).await.unwrap(), "a final record is not claimed");
    let fresh = until("the claimed payment to leave the stale set", async || {
        let found = s.repair.stale_payments(cutoff, 100).await.ok()?;
        (!found.contains(&old.id)).then_some(found)
    })
    .await;
    assert!(!fresh.contains(&old.id));
}

async fn seeded_merchants_exist_and_others_do_not(s: &Stores) {
    assert!(s.merchants.merchant_exists(&merchant()).await.unwrap());
    assert!(s.merchants.merchant_exists(&MerchantId::parse("other@merchant").unwrap()).await.unwrap());
    assert!(!s.merchants.merchant_exists(&fresh_merchant()).await.unwrap());
}
