//! The shared store suite's webhook checks (see `store_suite`): endpoints by revision and capped
//! per merchant in the write itself, and the lease, due-time index and attempts of an event's
//! deliveries.
use super::store_suite::{T0, create, fresh_merchant, new_payment};
use crate::domain::events::EventId;
use crate::domain::ports::{ConflictKind, DeliveryClaim, StoreError, Stores};
use crate::domain::webhooks::*;

fn endpoint(m: &crate::domain::ids::MerchantId, created_ms: u64) -> Endpoint {
    Endpoint {
        id: EndpointId::new(),
        merchant_id: m.clone(),
        url: WebhookUrl::parse("https://hooks.example.com/x", false).unwrap(),
        event_types: vec![crate::domain::events::EventType::PaymentSucceeded],
        description: Some("orders".into()),
        status: EndpointStatus::Enabled,
        disabled_reason: None,
        secrets: vec![SecretEntry { sealed: "v1.k.sealed".into(), created_ms, expires_ms: None }],
        created_ms,
        failing_since_ms: None,
        revision: 0,
    }
}

pub async fn run(s: &Stores) {
    endpoints_are_kept_per_merchant_and_updated_by_revision(s).await;
    racing_creates_never_pass_the_cap_and_a_delete_frees_one_place(s).await;
    an_events_deliveries_are_leased_indexed_and_recorded(s).await;
    a_merchants_events_in_a_time_range_come_with_their_plans(s).await;
}

async fn endpoints_are_kept_per_merchant_and_updated_by_revision(s: &Stores) {
    let (m, other) = (fresh_merchant(), fresh_merchant());
    let (first, second) = (endpoint(&m, T0), endpoint(&m, T0 + 1));
    s.endpoints.create_endpoint(&second).await.unwrap();
    s.endpoints.create_endpoint(&first).await.unwrap();
    assert_eq!(s.endpoints.create_endpoint(&first).await, Err(StoreError::Conflict(ConflictKind::AlreadyExists)));
    assert_eq!(s.endpoints.endpoints(&m).await.unwrap(), [first.clone(), second.clone()], "oldest first, as written");
    assert!(s.endpoints.endpoints(&other).await.unwrap().is_empty());

    let mut rotated = first.clone();
    rotated.rotate("v1.k.new".into(), T0 + 5);
    s.endpoints.update_endpoint(&rotated).await.unwrap();
    let stored = s.endpoints.endpoints(&m).await.unwrap().remove(0);
    assert_eq!((stored.revision, stored.secrets.len()), (1, 2));
    let mut stale = first.clone();
    stale.apply(EndpointEffect::Gone, T0 + 6, 1);
    assert_eq!(s.endpoints.update_endpoint(&stale).await, Err(StoreError::Conflict(ConflictKind::Changed)));

    assert!(!s.endpoints.delete_endpoint(&other, first.id).await.unwrap(), "not another merchant's");
    assert!(s.endpoints.delete_endpoint(&m, first.id).await.unwrap());
    assert!(!s.endpoints.delete_endpoint(&m, first.id).await.unwrap());
    assert_eq!(s.endpoints.update_endpoint(&stored).await, Err(StoreError::NotFound));
    assert_eq!(s.endpoints.endpoints(&m).await.unwrap(), [second]);
}

async fn racing_creates_never_pass_the_cap_and_a_delete_frees_one_place(s: &Stores) {
    let m = fresh_merchant();
    let full = || Err(StoreError::Conflict(ConflictKind::WrongState));
    let racing: Vec<Endpoint> = (0..20).map(|i| endpoint(&m, T0 + i)).collect();
    let results = futures::future::join_all(racing.iter().map(|e| s.endpoints.create_endpoint(e))).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, MAX_ENDPOINTS, "{results:?}");
    assert!(results.iter().all(|r| r.is_ok() || *r == full()), "the others are refused as full: {results:?}");
    let stored = s.endpoints.endpoints(&m).await.unwrap();
    assert_eq!(stored.len(), MAX_ENDPOINTS);
    assert_eq!(s.endpoints.create_endpoint(&endpoint(&m, T0 + 30)).await, full());
    assert!(s.endpoints.create_endpoint(&endpoint(&fresh_merchant(), T0)).await.is_ok(), "per merchant");

    assert!(!s.endpoints.delete_endpoint(&m, EndpointId::new()).await.unwrap());
    assert_eq!(s.endpoints.create_endpoint(&endpoint(&m, T0 + 31)).await, full(), "deleting nothing frees nothing");
    assert!(s.endpoints.delete_endpoint(&m, stored[0].id).await.unwrap());
    assert!(!s.endpoints.delete_endpoint(&m, stored[0].id).await.unwrap(), "deleted once, counted once");
    let two = [endpoint(&m, T0 + 40), endpoint(&m, T0 + 41)];
    let results = futures::future::join_all(two.iter().map(|e| s.endpoints.create_endpoint(e))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "one place, one create: {results:?}");
    assert_eq!(s.endpoints.endpoints(&m).await.unwrap().len(), MAX_ENDPOINTS);
    for e in s.endpoints.endpoints(&m).await.unwrap() {
        assert!(s.endpoints.delete_endpoint(&m, e.id).await.unwrap());
    }
    assert!(s.endpoints.endpoints(&m).await.unwrap().is_empty());
    assert!(s.endpoints.create_endpoint(&endpoint(&m, T0 + 50)).await.is_ok(), "the count went back to zero");
}

async fn an_events_deliveries_are_leased_indexed_and_recorded(s: &Stores) {
    let m = fresh_merchant();
    let p = new_payment(&m, 500, T0);
    create(s, &p).await;
    let id = EventId { payment_id: p.id, version: 1 };
    let due = |all: Vec<crate::domain::ports::DueEvent>| all.into_iter().find(|d| d.event == id);
    let indexed = due(s.deliveries.outstanding(1000).await.unwrap()).expect("a new event is due at once");
    assert_eq!((indexed.due_ms, indexed.at_ms), (T0, T0));

    let DeliveryClaim::Claimed { event, deliveries: None, lease_ms } =
        s.deliveries.claim_delivery(id, T0 + 10, T0 + 1_000, false).await.unwrap()
    else {
        panic!("the first claim takes it, unplanned");
    };
    assert_eq!((event.id(), lease_ms), (id, T0 + 1_000));
    assert_eq!(s.deliveries.claim_delivery(id, T0 + 20, T0 + 2_000, false).await.unwrap(), DeliveryClaim::Busy);
    assert_eq!(
        s.deliveries.save_delivery(&event, T0 + 999, &[], &[]).await,
        Err(StoreError::Conflict(ConflictKind::Changed)),
        "only the lease holder saves"
    );

    let endpoint = EndpointId::new();
    let mut d = Delivery::new(endpoint, T0 + 10);
    let (_, record) = d.settle(
        &AttemptOutcome::Answered { status: 500, retry_after_ms: None },
        T0 + 10,
        3,
        &RetrySchedule::parse("1s").unwrap(),
        0.5,
    );
    s.deliveries
        .save_delivery(&event, lease_ms, std::slice::from_ref(&d), std::slice::from_ref(&record))
        .await
        .unwrap();
    let indexed = due(s.deliveries.outstanding(1000).await.unwrap()).expect("still outstanding");
    assert_eq!((indexed.due_ms, indexed.at_ms), (T0 + 1_010, T0));
    assert!(!s.deliveries.claim_due(indexed, T0 + 1_010, T0 + 5_000).await.unwrap(), "not due before the cut");
    assert!(s.deliveries.claim_due(indexed, T0 + 1_011, T0 + 5_000).await.unwrap());
    assert!(!s.deliveries.claim_due(indexed, T0 + 1_011, T0 + 5_000).await.unwrap(), "claimed once");

    let DeliveryClaim::Claimed { deliveries: Some(planned), lease_ms, .. } =
        s.deliveries.claim_delivery(id, T0 + 6_000, T0 + 7_000, false).await.unwrap()
    else {
        panic!("the lease was released by the save");
    };
    assert_eq!(planned, [d.clone()]);
    let (_, second) = d.settle(
        &AttemptOutcome::Answered { status: 204, retry_after_ms: None },
        T0 + 6_000,
        4,
        &RetrySchedule::default(),
        0.5,
    );
    s.deliveries
        .save_delivery(&event, lease_ms, std::slice::from_ref(&d), std::slice::from_ref(&second))
        .await
        .unwrap();
    assert!(due(s.deliveries.outstanding(1000).await.unwrap()).is_none(), "delivered: out of the index");
    assert_eq!(s.deliveries.claim_delivery(id, T0 + 7_000, T0 + 8_000, false).await.unwrap(), DeliveryClaim::Settled);
    assert_eq!(s.deliveries.attempts(id).await.unwrap(), [record, second]);

    let DeliveryClaim::Claimed { deliveries: Some(again), .. } =
        s.deliveries.claim_delivery(id, T0 + 9_000, T0 + 10_000, true).await.unwrap()
    else {
        panic!("a redelivery reopens a settled event");
    };
    assert_eq!(again[0].state, DeliveryState::Delivered);
    assert!(due(s.deliveries.outstanding(1000).await.unwrap()).is_some(), "back in the index");
    let quiet = new_payment(&m, 500, T0);
    let c = crate::domain::change::Change::payment_created(
        &quiet,
        crate::domain::events::Cause::new(crate::domain::events::Actor::Merchant(m.clone()), None),
    );
    s.payments.commit(&c, None).await.unwrap();
    let quiet_id = EventId { payment_id: quiet.id, version: 1 };
    assert!(
        !s.deliveries.outstanding(1000).await.unwrap().iter().any(|d| d.event == quiet_id),
        "not notified: not indexed"
    );
    assert_eq!(s.deliveries.claim_delivery(quiet_id, T0, T0 + 1, false).await.unwrap(), DeliveryClaim::Settled);
    let unknown = EventId { payment_id: crate::domain::ids::PaymentId::new(), version: 1 };
    assert_eq!(s.deliveries.claim_delivery(unknown, T0, T0 + 1, false).await.unwrap(), DeliveryClaim::Settled);
    assert!(s.deliveries.attempts(unknown).await.unwrap().is_empty());
}

async fn a_merchants_events_in_a_time_range_come_with_their_plans(s: &Stores) {
    let m = fresh_merchant();
    let [before, first, second, after] = [T0 - 10, T0, T0 + 5, T0 + 100].map(|at| new_payment(&m, 100, at));
    for p in [&before, &first, &second, &after] {
        create(s, p).await;
    }
    create(s, &new_payment(&fresh_merchant(), 100, T0 + 1)).await;
    let (first_id, second_id) =
        (EventId { payment_id: first.id, version: 1 }, EventId { payment_id: second.id, version: 1 });
    let DeliveryClaim::Claimed { event, lease_ms, .. } =
        s.deliveries.claim_delivery(first_id, T0 + 1, T0 + 1_000, false).await.unwrap()
    else {
        panic!("a new event is claimed");
    };
    let plan = vec![Delivery::new(EndpointId::new(), T0 + 1)];
    s.deliveries.save_delivery(&event, lease_ms, &plan, &[]).await.unwrap();

    let page = s.deliveries.planned_events(&m, None, (T0, T0 + 100), 1, None).await.unwrap();
    let seen: Vec<_> = page.events.iter().map(|e| (e.id, e.deliveries.clone())).collect();
    assert_eq!(seen, [(second_id, None)], "newest first, a page of one, never planned");
    let kind = crate::domain::events::EventType::PaymentCreated;
    assert_eq!((page.events[0].kind, page.events[0].at_ms), (kind, T0 + 5));
    let cursor = page.next_cursor.expect("one more");
    let page = s.deliveries.planned_events(&m, None, (T0, T0 + 100), 1, Some(&cursor)).await.unwrap();
    let seen: Vec<_> = page.events.iter().map(|e| (e.id, e.deliveries.clone())).collect();
    assert_eq!(seen, [(first_id, Some(plan))], "with its plan; the range leaves out the others");
    assert_eq!(page.next_cursor, None);
    let created = Some(crate::domain::events::EventType::PaymentCreated);
    let page = s.deliveries.planned_events(&m, created, (T0, T0 + 100), 10, None).await.unwrap();
    assert_eq!(page.events.iter().map(|e| e.id).collect::<Vec<_>>(), [second_id, first_id], "by type");
    let succeeded = Some(crate::domain::events::EventType::PaymentSucceeded);
    assert!(s.deliveries.planned_events(&m, succeeded, (T0, T0 + 100), 10, None).await.unwrap().events.is_empty());
}
