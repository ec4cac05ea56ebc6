//! `app::notify`: one look-up per merchant when its answer expires, however many payments find
//! it so at once, and a store that cannot answer slows nobody down twice.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;

use super::*;
use crate::app::{DISCOVERY_MS, Services};
use crate::domain::ports::{StoreError, WebhookEndpoints};
use crate::domain::webhooks::{Endpoint, EndpointId};

/// The store's endpoints, counting how often a merchant's are listed; failing while `down`.
struct CountedEndpoints {
    inner: Arc<dyn WebhookEndpoints>,
    listed: AtomicUsize,
    down: AtomicBool,
}

#[async_trait]
impl WebhookEndpoints for CountedEndpoints {
    async fn create_endpoint(&self, e: &Endpoint) -> Result<(), StoreError> {
        self.inner.create_endpoint(e).await
    }
    async fn update_endpoint(&self, e: &Endpoint) -> Result<(), StoreError> {
        self.inner.update_endpoint(e).await
    }
    async fn endpoints(&self, m: &MerchantId) -> Result<Vec<Endpoint>, StoreError> {
        self.listed.fetch_add(1, Ordering::SeqCst);
        // Lets the other payments reach the look-up while this one is under way.
        tokio::task::yield_now().await;
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Transient("throttled".into()));
        }
        self.inner.endpoints(m).await
    }
    async fn delete_endpoint(&self, m: &MerchantId, id: EndpointId) -> Result<bool, StoreError> {
        self.inner.delete_endpoint(m, id).await
    }
}

fn counted(w: &World) -> (Arc<Services>, Arc<CountedEndpoints>) {
    let counted = Arc::new(CountedEndpoints {
        inner: Arc::clone(&w.services.store.endpoints),
        listed: AtomicUsize::new(0),
        down: AtomicBool::new(false),
    });
    let mut services = w.services.clone();
    services.store.endpoints = counted.clone();
    services.presence = Arc::default();
    (Arc::new(services), counted)
}

/// 50 payments of one merchant at once, each on a task of its own.
async fn fifty_payments(services: &Arc<Services>) {
    let payments: Vec<_> = (0..50)
        .map(|_| {
            let s = Arc::clone(services);
            tokio::spawn(async move { s.create_payment(&merchant(), request("4242424242424242", 100), None).await })
        })
        .collect();
    for p in payments {
        p.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payments_of_a_merchant_whose_answer_expired_share_one_look_up() {
    let w = World::new();
    let (services, counted) = counted(&w);
    for round in 1..=2 {
        fifty_payments(&services).await;
        assert_eq!(counted.listed.load(Ordering::SeqCst), round, "one look-up per expiry");
        assert_eq!(services.presence.lookups_under_way(), 0, "no lock left behind");
        w.clock.advance(DISCOVERY_MS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_look_up_is_not_repeated_by_each_waiting_payment_and_assumes_endpoints() {
    let w = World::new();
    let (services, counted) = counted(&w);
    counted.down.store(true, Ordering::SeqCst);
    fifty_payments(&services).await;
    assert_eq!(counted.listed.load(Ordering::SeqCst), 1, "the others took the failed look-up's answer");
    assert_eq!(w.queue.deliveries().len(), 50, "when the store cannot say, every event is announced");
    // The safe answer is trusted only briefly: the store is asked again a second later.
    counted.down.store(false, Ordering::SeqCst);
    w.clock.advance(1_000);
    fifty_payments(&services).await;
    assert_eq!(counted.listed.load(Ordering::SeqCst), 2);
    assert_eq!(w.queue.deliveries().len(), 50, "no endpoint: nothing more announced");
}

#[tokio::test]
async fn only_events_of_a_type_some_endpoint_wants_are_indexed_and_announced() {
    use crate::app::endpoints::NewEndpoint;
    use crate::domain::events::EventType;
    use crate::domain::webhooks::WebhookUrl;
    let w = World::new();
    let new = NewEndpoint {
        url: WebhookUrl::parse("https://shop.example.com/hooks", false).unwrap(),
        event_types: vec![EventType::PaymentSucceeded],
        description: None,
    };
    w.services.create_endpoint(&merchant(), new).await.unwrap();
    // The process that created it knows at once what it wants, and only that.
    w.payment(100).await;
    assert!(w.queue.deliveries().is_empty(), "payment.created, from the creating process: nobody wants it");
    // Another process, which learns the endpoints from the store.
    let services = Services { presence: Arc::default(), ..w.services.clone() };
    let id = id_of(&services.create_payment(&merchant(), request("4242424242424242", 100), None).await.unwrap());
    assert!(w.queue.deliveries().is_empty(), "payment.created: nobody wants it");
    let outstanding = services.store.deliveries.outstanding(10).await.unwrap();
    assert!(outstanding.is_empty(), "nor is it in the due-time index: {outstanding:?}");
    assert!(matches!(services.process_charge(w.bank.as_ref(), id).await, crate::app::Step::Done));
    let announced: Vec<u64> = w.queue.deliveries().iter().map(|(e, _)| e.version).collect();
    assert_eq!(announced, [3], "payment.processing (2) stays quiet, payment.succeeded (3) goes");
}
