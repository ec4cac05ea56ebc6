//! One suite for every storage adapter: the unit tests run it on `MemoryStore`, the integration
//! tests on `DynamoStore` against the emulator, so the fake cannot drift from the real thing.
//! Every check uses ids of its own (and a merchant of its own where it lists), so the suite can
//! share a table with other tests.
use crate::domain::payment::Payment;
use crate::domain::search::{EventFilter, PaymentFilter};
use std::time::{Duration, Instant};

use crate::domain::card::SealedCard;
use crate::domain::change::{Change, Transition};
use crate::domain::events::{Actor, Cause, EventId, EventType};
use crate::domain::idempotency::{Accepted, IdempotencyClaim, IdempotencyKey, IdempotencyState};
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::inquiry::Attempts;
use crate::domain::money::{Amount, Currency};
use crate::domain::payment::{NewPayment, NewRefund, PaymentOutcome, PaymentView, RefundOutcome};
use crate::domain::ports::{ConflictKind, StoreError, Stores};
use crate::domain::status::{PaymentStatus, RefundStatus};

pub(super) const T0: u64 = 1_800_000_000_000;

fn merchant() -> MerchantId {
    MerchantId::parse("test@merchant").unwrap()
}

pub(super) fn fresh_merchant() -> MerchantId {
    MerchantId::parse(&format!("suite-{}@merchant", uuid::Uuid::new_v4().simple())).unwrap()
}

/// A new payment with every tag set (also the DynamoDB adapter's item tests').
pub(crate) fn new_payment(m: &MerchantId, price: u64, at: u64) -> NewPayment {
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
        // Every check that reads a payment back whole also holds both stores to these.
        tags: crate::domain::reference::Tags {
            merchant_reference: Some(crate::domain::reference::MerchantReference::parse("order-1").unwrap()),
            metadata: crate::domain::reference::Metadata::parse([("channel".into(), "web".into())]).unwrap(),
        },
        capture_method: Default::default(),
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
        metadata: crate::domain::reference::Metadata::parse([("reason".into(), "damaged".into())]).unwrap(),
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

pub(super) fn conflict(kind: ConflictKind) -> Result<(), StoreError> {
    Err(StoreError::Conflict(kind))
}

/// Index reads (listing, the repair index) may lag a write on real DynamoDB: poll them.
pub(super) async fn until<T>(what: &str, mut read: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = read().await {
            return v;
        }
        assert!(Instant::now() < deadline, "store suite: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) fn worker() -> Cause {
    Cause::new(Actor::PaymentWorker, Some("4bf92f3577b34da6a3ce929d0e0e4736".into()))
}

/// Writes `p` (version 1) and returns it as stored.
pub(super) async fn create(s: &Stores, p: &NewPayment) -> PaymentView {
    let mut c = Change::payment_created(p, Cause::new(Actor::Merchant(p.merchant_id.clone()), None));
    c.notify = true;
    s.payments.commit(&c, None).await.unwrap();
    c.view
}

/// Applies `t` to `view` at `at` and writes it.
async fn step(s: &Stores, view: &PaymentView, t: Transition, at: u64) -> PaymentView {
    let c = view.apply(t, at, worker()).expect("the transition applies");
    s.payments.commit(&c, None).await.unwrap();
    c.view
}

fn settle_ok() -> Transition {
    Transition::PaymentSettled(PaymentOutcome::Succeeded { bank_charge_id: "ch_1".into() })
}

/// Runs every check on `stores`.
pub async fn run(stores: &Stores) {
    payments_are_written_once_and_read_back(stores).await;
    a_claimed_key_is_taken_once_and_writes_nothing_else(stores).await;
    claims_are_taken_over_once_and_completed(stores).await;
    a_change_lands_only_on_the_version_it_was_read_at(stores).await;
    racing_refunds_cannot_both_take_what_is_left(stores).await;
    a_settled_refund_moves_its_amount_once(stores).await;
    every_change_is_one_event_in_the_audit_trail(stores).await;
    the_feed_pages_newest_first_by_type_and_merchant(stores).await;
    listing_pages_newest_first_without_gaps_or_repeats(stores).await;
    each_filter_lists_exactly_what_it_matches(stores).await;
    events_are_listed_by_type_payment_and_time(stores).await;
    stale_records_are_found_and_claimed_once(stores).await;
    bank_attempts_are_noted_and_never_moved_back(stores).await;
    seeded_merchants_exist_and_others_do_not(stores).await;
    super::store_suite_webhooks::run(stores).await;
    super::store_suite_capture::run(stores).await;
}

async fn payments_are_written_once_and_read_back(s: &Stores) {
    let p = new_payment(&merchant(), 1500, T0);
    let c = Change::payment_created(&p, worker());
    s.payments.commit(&c, None).await.unwrap();
    let view = s.payments.get_payment(p.id).await.unwrap().expect("the payment");
    assert_eq!(view, c.view, "read back as written, and no event among its refunds");
    let got = &view.payment;
    assert_eq!((got.id, got.status, got.amount, got.refundable_left), (p.id, PaymentStatus::Pending, p.amount, 1500));
    assert_eq!((got.created_at_ms, got.updated_at_ms, got.card_last4.as_str(), got.version), (T0, T0, "4242", 1));
    assert_eq!(got.sealed_card, Some(SealedCard("sealed".into())));
    assert_eq!(s.payments.commit(&c, None).await, conflict(ConflictKind::AlreadyExists));
    assert!(s.payments.get_payment(PaymentId::new()).await.unwrap().is_none());
}

async fn a_claimed_key_is_taken_once_and_writes_nothing_else(s: &Stores) {
    let first = new_payment(&merchant(), 100, T0);
    let c = claim(&merchant(), first.id.to_string(), Some(answer()));
    let created = Change::payment_created(&first, worker());
    s.payments.commit(&created, Some(&c)).await.unwrap();
    let second = Change::payment_created(&new_payment(&merchant(), 100, T0), worker());
    assert_eq!(s.payments.commit(&second, Some(&c)).await, conflict(ConflictKind::IdempotencyKeyTaken));
    let second_id = second.view.payment.id;
    assert!(s.payments.get_payment(second_id).await.unwrap().is_none(), "the losing payment is not written");
    let events = s.events.payment_events(second_id, 10, None).await.unwrap().events;
    assert!(events.is_empty(), "nor its event");
    let record = s.keys.get_idempotency(&c.key).await.unwrap().expect("the claim");
    assert_eq!((record.request_hash.as_str(), record.resource_id.clone()), ("hash-1", first.id.to_string()));
    assert_eq!(record.state, IdempotencyState::Done(answer()));
    // A refund's claim is checked first too: nothing is reserved when the key is taken.
    let r = created.view.apply(Transition::RefundCreated(new_refund(&first, 10, T0)), T0, worker()).unwrap();
    assert_eq!(s.payments.commit(&r, Some(&c)).await, conflict(ConflictKind::IdempotencyKeyTaken));
    assert_eq!(s.payments.get_payment(first.id).await.unwrap().unwrap(), created.view);
}

async fn claims_are_taken_over_once_and_completed(s: &Stores) {
    let p = new_payment(&merchant(), 100, T0);
    let c = claim(&merchant(), p.id.to_string(), None);
    s.payments.commit(&Change::payment_created(&p, worker()), Some(&c)).await.unwrap();
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

async fn a_change_lands_only_on_the_version_it_was_read_at(s: &Stores) {
    let p = new_payment(&merchant(), 100, T0);
    let pending = create(s, &p).await;
    let processing = pending.apply(Transition::PaymentProcessing, T0 + 1, worker()).unwrap();
    s.payments.commit(&processing, None).await.unwrap();
    // The same change sent again (an answer lost), and a settlement computed from the old read,
    // both lose: the payment moved on.
    assert_eq!(s.payments.commit(&processing, None).await, conflict(ConflictKind::Changed));
    let stale = pending.apply(settle_ok(), T0 + 2, worker()).unwrap();
    assert_eq!(s.payments.commit(&stale, None).await, conflict(ConflictKind::Changed));
    let settled = step(s, &processing.view, settle_ok(), T0 + 3).await;
    let read = s.payments.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(read, settled);
    let got = &read.payment;
    assert_eq!((got.status, got.bank_charge_id.as_deref(), got.version), (PaymentStatus::Succeeded, Some("ch_1"), 3));
    assert_eq!(got.sealed_card, None, "the card is erased with the final state");
    let other = Change::payment_created(&new_payment(&merchant(), 1, T0), worker());
    let unknown = other.view.apply(Transition::PaymentProcessing, T0, worker()).unwrap();
    assert_eq!(s.payments.commit(&unknown, None).await, conflict(ConflictKind::Changed));
}

async fn racing_refunds_cannot_both_take_what_is_left(s: &Stores) {
    let p = new_payment(&merchant(), 1000, T0);
    let view = create(s, &p).await;
    let (a, b) = (new_refund(&p, 600, T0 + 1), new_refund(&p, 600, T0 + 1));
    let first = view.apply(Transition::RefundCreated(a.clone()), T0 + 1, worker()).unwrap();
    let second = view.apply(Transition::RefundCreated(b), T0 + 1, worker()).unwrap();
    s.payments.commit(&first, None).await.unwrap();
    assert_eq!(s.payments.commit(&second, None).await, conflict(ConflictKind::Changed));
    // A refund whose id is taken is refused as such, even when computed on the latest version.
    let mut twin = first.view.clone();
    twin.refunds.clear();
    let same_id = NewRefund { amount: Amount::parse(100).unwrap(), ..a };
    let reused = twin.apply(Transition::RefundCreated(same_id.clone()), T0 + 2, worker()).unwrap();
    assert_eq!(s.payments.commit(&reused, None).await, conflict(ConflictKind::AlreadyExists));
    // ... and as such before a version that moved too: the taken id is what decides.
    let from_old = view.apply(Transition::RefundCreated(same_id), T0 + 2, worker()).unwrap();
    assert_eq!(s.payments.commit(&from_old, None).await, conflict(ConflictKind::AlreadyExists));
    let read = s.payments.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(read, first.view);
    assert_eq!((read.payment.refundable_left, read.refunds.len()), (400, 1));
    assert!(read.refunds.iter().all(|r| r.status == RefundStatus::Pending));
}

async fn a_settled_refund_moves_its_amount_once(s: &Stores) {
    let p = new_payment(&merchant(), 1000, T0);
    let view = step(s, &create(s, &p).await, settle_ok(), T0).await;
    let (good, bad) = (new_refund(&p, 300, T0 + 1), new_refund(&p, 200, T0 + 2));
    let view = step(s, &view, Transition::RefundCreated(good.clone()), T0 + 1).await;
    let view = step(s, &view, Transition::RefundCreated(bad.clone()), T0 + 2).await;
    let view = step(s, &view, Transition::RefundProcessing(good.id), T0 + 3).await;
    let ok = RefundOutcome::Succeeded { bank_refund_id: "re".into() };
    let done = step(s, &view, Transition::RefundSettled(good.id, ok.clone()), T0 + 4).await;
    let twice = view.apply(Transition::RefundSettled(good.id, ok), T0 + 5, worker()).unwrap();
    assert_eq!(s.payments.commit(&twice, None).await, conflict(ConflictKind::Changed));
    let failed = RefundOutcome::Failed { reason: "no".into() };
    let done = step(s, &done, Transition::RefundSettled(bad.id, failed), T0 + 7).await;
    let view = s.payments.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(view, done);
    let pay = &view.payment;
    assert_eq!((pay.refunded_amount, pay.refundable_left, pay.refund_timestamp_ms), (300, 700, Some(T0 + 4)));
    assert_eq!(pay.version, 7);
    let states: Vec<_> = view.refunds.iter().map(|r| (r.status, r.reason.clone())).collect();
    assert_eq!(states, [(RefundStatus::Succeeded, None), (RefundStatus::Failed, Some("no".into()))]);
}

async fn every_change_is_one_event_in_the_audit_trail(s: &Stores) {
    let p = new_payment(&merchant(), 1000, T0);
    let mut views = vec![create(s, &p).await];
    let r = new_refund(&p, 100, T0 + 2);
    for (i, t) in
        [Transition::PaymentProcessing, settle_ok(), Transition::RefundCreated(r.clone())].into_iter().enumerate()
    {
        let next = step(s, views.last().unwrap(), t, T0 + 10 * (i as u64 + 1)).await;
        views.push(next);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = s.events.payment_events(p.id, 3, cursor.as_deref()).await.unwrap();
        assert!(page.events.len() <= 3);
        seen.extend(page.events);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let kinds: Vec<_> = seen.iter().map(|e| (e.version, e.kind)).collect();
    use EventType::*;
    assert_eq!(kinds, [(1, PaymentCreated), (2, PaymentProcessing), (3, PaymentSucceeded), (4, RefundCreated)]);
    for (event, view) in seen.iter().zip(&views) {
        let mut data = view.clone();
        data.payment.sealed_card = None;
        assert_eq!(event.data, data, "each event holds the payment as that change left it, card aside");
        assert_eq!(event.at_ms, view.payment.updated_at_ms.max(event.at_ms));
    }
    assert_eq!(seen[3].refund_id, Some(r.id));
    assert_eq!(seen[1].cause, worker());
    let one = s.events.get_event(seen[2].id()).await.unwrap().expect("an event by its id");
    assert_eq!(one, seen[2]);
    let missing = EventId { payment_id: p.id, version: 99 };
    assert!(s.events.get_event(missing).await.unwrap().is_none());
    let bad = s.events.payment_events(p.id, 3, Some("not-a-cursor")).await.map(|_| ());
    assert_eq!(bad.unwrap_err(), StoreError::InvalidCursor);
}

async fn the_feed_pages_newest_first_by_type_and_merchant(s: &Stores) {
    let (m, other) = (fresh_merchant(), fresh_merchant());
    let mut made = Vec::new();
    for i in 0..3 {
        let view = create(s, &new_payment(&m, 100, T0 + i * 1000)).await;
        made.push(view.payment.id);
        step(s, &view, Transition::PaymentProcessing, T0 + i * 1000 + 500).await;
    }
    create(s, &new_payment(&other, 100, T0)).await;
    let seen = until("six events in the feed", async || {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = s.events.merchant_events(&m, &EventFilter::default(), 4, cursor.as_deref()).await.ok()?;
            assert!(page.events.len() <= 4);
            seen.extend(page.events);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        (seen.len() == 6).then_some(seen)
    })
    .await;
    let at: Vec<u64> = seen.iter().map(|e| e.at_ms).collect();
    assert!(at.windows(2).all(|w| w[0] > w[1]), "newest first: {at:?}");
    assert!(seen.iter().all(|e| e.merchant_id() == &m), "only this merchant's");
    let processing = until("the processing events", async || {
        let page = s
            .events
            .merchant_events(
                &m,
                &EventFilter { kind: Some(EventType::PaymentProcessing), ..EventFilter::default() },
                10,
                None,
            )
            .await
            .ok()?;
        (page.events.len() == 3).then_some(page.events)
    })
    .await;
    let ids: Vec<PaymentId> = processing.iter().map(|e| e.data.payment.id).rev().collect();
    assert_eq!(ids, made);
    assert!(processing.iter().all(|e| e.kind == EventType::PaymentProcessing));
    let bad = s.events.merchant_events(&m, &EventFilter::default(), 4, Some("bm90LWEtY3Vyc29y")).await.map(|_| ());
    assert_eq!(bad.unwrap_err(), StoreError::InvalidCursor);
}

async fn listing_pages_newest_first_without_gaps_or_repeats(s: &Stores) {
    let (m, other) = (fresh_merchant(), fresh_merchant());
    let mut made = Vec::new();
    for i in 0..5 {
        let p = new_payment(&m, 100, T0 + i * 1000);
        create(s, &p).await;
        made.push(p.id);
    }
    create(s, &new_payment(&other, 100, T0)).await;
    made.reverse();
    let seen = until("five payments listed", async || {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = s.payments.list_payments(&m, &PaymentFilter::default(), 2, cursor.as_deref()).await.ok()?;
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
    let bad = s.payments.list_payments(&m, &PaymentFilter::default(), 2, Some("not-a-cursor")).await.map(|_| ());
    assert_eq!(bad, Err(StoreError::InvalidCursor));
}

async fn events_are_listed_by_type_payment_and_time(s: &Stores) {
    use crate::domain::events::Event;
    let (m, other) = (fresh_merchant(), fresh_merchant());
    let mut all: Vec<Event> = Vec::new();
    let mut ids = Vec::new();
    for i in 0..3u64 {
        let p = new_payment(&m, 100, T0 + i * 10_000);
        let view = create(s, &p).await;
        let view = step(s, &view, Transition::PaymentProcessing, T0 + i * 10_000 + 1000).await;
        step(s, &view, settle_ok(), T0 + i * 10_000 + 2000).await;
        all.extend(s.events.payment_events(p.id, 10, None).await.unwrap().events);
        ids.push(p.id);
    }
    let theirs = new_payment(&other, 100, T0);
    create(s, &theirs).await;
    let times =
        [(None, None), (Some(T0 + 1000), None), (None, Some(T0 + 12_000)), (Some(T0 + 2000), Some(T0 + 21_000))];
    let kinds = [None, Some(EventType::PaymentProcessing)];
    let payments = [None, Some(ids[1]), Some(theirs.id)];
    for kind in kinds {
        for payment in payments {
            for (created_gte, created_lt) in times {
                let filter = EventFilter { kind, payment, created_gte, created_lt };
                let mut want: Vec<&Event> = all.iter().filter(|e| filter.matches(e)).collect();
                want.sort_by_key(|e| std::cmp::Reverse(crate::dynamo::keys::feed_sort_key(e)));
                let want: Vec<_> = want.into_iter().map(Event::id).collect();
                let got = until("a filtered feed to match", async || {
                    let (mut got, mut cursor) = (Vec::new(), None::<String>);
                    loop {
                        let page = s.events.merchant_events(&m, &filter, 2, cursor.as_deref()).await.ok()?;
                        got.extend(page.events.iter().map(Event::id));
                        match page.next_cursor {
                            Some(c) => cursor = Some(c),
                            None => break,
                        }
                    }
                    (got == want).then_some(got)
                })
                .await;
                assert_eq!(got, want, "{filter:?}");
            }
        }
    }
}

/// Every page of `filter`'s list of `m`, pages of 2, newest first.
async fn listed(s: &Stores, m: &MerchantId, filter: &PaymentFilter) -> Option<Vec<PaymentId>> {
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let page = s.payments.list_payments(m, filter, 2, cursor.as_deref()).await.ok()?;
        assert!(page.payments.len() <= 2);
        seen.extend(page.payments.iter().map(|p| p.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Some(seen),
        }
    }
}

async fn each_filter_lists_exactly_what_it_matches(s: &Stores) {
    use crate::domain::reference::{MerchantReference, Tags};
    use crate::domain::search::Lookup;
    let (m, other) = (fresh_merchant(), fresh_merchant());
    let mut all: Vec<Payment> = Vec::new();
    for i in 0..8u64 {
        let mut p = new_payment(&m, 100, T0 + i * 1000);
        p.customer_id = format!("cust-{}", i % 2);
        let reference = (i % 3 != 0).then(|| MerchantReference::parse(&format!("order-{}", i % 3)).unwrap());
        p.tags = Tags { merchant_reference: reference, ..p.tags };
        let mut view = create(s, &p).await;
        if i % 2 == 0 {
            view = step(s, &view, Transition::PaymentProcessing, T0 + i * 1000 + 1).await;
        }
        if i % 4 == 0 {
            view = step(s, &view, settle_ok(), T0 + i * 1000 + 2).await;
        }
        all.push(view.payment);
    }
    // Another merchant's payment with the same customer and reference is never listed.
    let mut theirs = new_payment(&other, 100, T0 + 500);
    theirs.customer_id = "cust-0".into();
    create(s, &theirs).await;
    let reference = |r: &str| Some(Lookup::Reference(MerchantReference::parse(r).unwrap()));
    let lookups = [
        None,
        reference("order-1"),
        reference("order-2"),
        reference("order-none"),
        Some(Lookup::Status(PaymentStatus::Pending)),
        Some(Lookup::Status(PaymentStatus::Processing)),
        Some(Lookup::Status(PaymentStatus::Succeeded)),
        Some(Lookup::Customer("cust-0".into())),
        Some(Lookup::Customer("cust-1".into())),
    ];
    let ranges = [(None, None), (Some(T0 + 2000), None), (None, Some(T0 + 5000)), (Some(T0 + 1000), Some(T0 + 6000))];
    for lookup in &lookups {
        for (created_gte, created_lt) in ranges {
            let filter = PaymentFilter { lookup: lookup.clone(), created_gte, created_lt };
            let mut want: Vec<&Payment> = all.iter().filter(|p| filter.matches(p)).collect();
            want.sort_by_key(|p| std::cmp::Reverse(p.created_at_ms));
            let want: Vec<PaymentId> = want.into_iter().map(|p| p.id).collect();
            // Index reads are eventually consistent: the status index follows each change.
            let got =
                until("a filtered list to match", async || listed(s, &m, &filter).await.filter(|g| *g == want)).await;
            assert_eq!(got, want, "{filter:?}");
        }
    }
    // A cursor used with a range it is outside of, and an empty range: answers, never errors.
    let first = s.payments.list_payments(&m, &PaymentFilter::default(), 2, None).await.unwrap();
    let cursor = first.next_cursor.expect("more than one page");
    let range = |created_gte, created_lt| PaymentFilter { lookup: None, created_gte, created_lt };
    let before_all = s.payments.list_payments(&m, &range(Some(T0 + 7500), None), 2, Some(&cursor)).await.unwrap();
    assert!(before_all.payments.is_empty() && before_all.next_cursor.is_none(), "the cursor is before the range");
    let ended = s.payments.list_payments(&m, &range(None, Some(T0 + 1000)), 5, Some(&cursor)).await.unwrap();
    assert_eq!(
        ended.payments.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![all[0].id],
        "the cursor is past the range"
    );
    let empty = s.payments.list_payments(&m, &range(Some(T0 + 5000), Some(T0 + 5000)), 5, None).await.unwrap();
    assert!(empty.payments.is_empty());
}

async fn stale_records_are_found_and_claimed_once(s: &Stores) {
    // Written "long ago" (the clock is the caller's: a record's age is what it was given).
    let old = new_payment(&merchant(), 100, 1_000);
    let done = new_payment(&merchant(), 100, 1_000);
    let old_view = create(s, &old).await;
    let failed = Transition::PaymentSettled(PaymentOutcome::Failed { reason: "x".into() });
    step(s, &create(s, &done).await, failed, 1_001).await;
    let refund = new_refund(&old, 10, 1_000);
    step(s, &old_view, Transition::RefundCreated(refund.clone()), 1_000).await;
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
    // A worker holding a record moves it to the back of the index the same way.
    until("the refund to leave the stale set once held", async || {
        s.repair.hold(old.id, Some(refund.id), T0).await.ok()?;
        (!s.repair.stale_refunds(T0 - 1, 100).await.ok()?.contains(&(old.id, refund.id))).then_some(())
    })
    .await;
    s.repair.hold(done.id, None, T0).await.expect("holding a final record does nothing");
}

async fn bank_attempts_are_noted_and_never_moved_back(s: &Stores) {
    let p = new_payment(&merchant(), 100, T0);
    let pending = create(s, &p).await;
    let processing = step(s, &pending, Transition::PaymentProcessing, T0 + 1).await;
    assert_eq!(processing.payment.bank_attempts, Some(Attempts::at(T0 + 1)));
    // A re-send noted later; a change computed from the older read does not move it back.
    s.payments.record_attempt(p.id, None, Attempts { first_ms: 1, last_ms: T0 + 50 }).await.unwrap();
    let r = new_refund(&p, 10, T0 + 60);
    step(s, &processing, Transition::RefundCreated(r), T0 + 60).await;
    let read = s.payments.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(read.payment.bank_attempts, Some(Attempts { first_ms: T0 + 1, last_ms: T0 + 50 }), "first kept");
    // A change guarded by an older attempt does not land; one guarded by the latest does.
    let failed = Transition::PaymentSettled(PaymentOutcome::Failed { reason: "bank_unavailable".into() });
    let mut stale = read.apply(failed.clone(), T0 + 70, worker()).unwrap();
    stale.attempts_guard = Some(Some(T0 + 1));
    assert_eq!(s.payments.commit(&stale, None).await, conflict(ConflictKind::Changed));
    let mut current = read.apply(failed, T0 + 70, worker()).unwrap();
    current.attempts_guard = Some(Some(T0 + 50));
    s.payments.commit(&current, None).await.unwrap();
    let noted = Attempts { first_ms: T0, last_ms: T0 + 80 };
    let late = s.payments.record_attempt(p.id, None, noted).await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "nothing is noted, so nothing sent, once final");
    // A record from before attempts were noted gets its first attempt from the caller.
    let legacy = new_payment(&merchant(), 100, T0);
    create(s, &legacy).await;
    s.payments.record_attempt(legacy.id, None, Attempts { first_ms: T0 + 5, last_ms: T0 + 9 }).await.unwrap();
    let read = s.payments.get_payment(legacy.id).await.unwrap().unwrap();
    assert_eq!(read.payment.bank_attempts, Some(Attempts { first_ms: T0 + 5, last_ms: T0 + 9 }));
}

async fn seeded_merchants_exist_and_others_do_not(s: &Stores) {
    assert!(s.merchants.merchant_exists(&merchant()).await.unwrap());
    assert!(s.merchants.merchant_exists(&MerchantId::parse("other@merchant").unwrap()).await.unwrap());
    assert!(!s.merchants.merchant_exists(&fresh_merchant()).await.unwrap());
}
