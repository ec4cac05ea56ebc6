use std::future::Future;
use std::path::Path;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use super::*;

fn app() -> (Shared, watch::Sender<bool>) {
    with_faults(Faults {
        fail_rate: 0.0,
        hang_rate: 0.0,
        hang_ms: 0,
        hang_apply_ms: None,
        latency_ms: 0,
        latency_jitter_ms: 0,
    })
}

fn with_faults(faults: Faults) -> (Shared, watch::Sender<bool>) {
    let ledger = Ledger::open(Path::new(":memory:"), Duration::from_secs(600)).unwrap();
    let (stop, stopping) = watch::channel(false);
    (Arc::new(AppState::new(ledger, faults, stopping)), stop)
}

fn charge(app: &Shared, reference: &str) -> impl Future<Output = Result<Response, SimError>> + use<> {
    let body = format!(
        r#"{{"Reference":"{reference}","Amount":1000,"Currency":"EUR","CardNumber":"4242424242424242","CardCVV":"123","CardExpiryDate":"12/30"}}"#
    );
    let charge = ChargeBody::parse(body.as_bytes()).unwrap();
    let fingerprint = charge.fingerprint("charge", &app.salt);
    process(Arc::clone(app), format!("charge-{reference}"), fingerprint, move |l, key| l.apply_charge(key, &charge))
}

/// A client that hangs up while its key's claim is being written (its timeout, or the worker
/// killed) drops the handler there. The claim lands all the same, so the request must still be
/// applied: before, the key stayed in flight for ever and every retry was refused with 409.
#[tokio::test]
async fn a_client_that_hangs_up_during_the_claim_leaves_no_key_in_flight() {
    let (app, _stop) = app();
    let request = charge(&app, "p-1");

    // Polled once while the books are held, so its claim cannot finish, then dropped.
    let held = app.ledger.lock().unwrap_or_else(PoisonError::into_inner);
    let mut request = Box::pin(request);
    let polled = request.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    assert!(polled.is_pending(), "the request must still be claiming its key");
    drop(request);
    drop(held);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (in_flight, entry) = app.books(|l| (l.in_flight(), l.entry("charge-p-1"))).await.unwrap();
        if in_flight == 0 && entry.as_ref().is_ok_and(Option::is_some) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the key is still in flight ({in_flight}) and never applied");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `GET /status`'s `HangingApplied` counts requests applied whose answer is held back: the tests
/// that kill the bank at that moment wait on it. A client that hangs up during the hold must
/// take its request off the count, or the next test would see a hang that is not there.
#[tokio::test]
async fn a_client_that_hangs_up_during_a_hang_is_no_longer_counted_as_hanging() {
    let (app, _stop) = with_faults(Faults {
        fail_rate: 0.0,
        hang_rate: 1.0,
        hang_ms: 60_000,
        hang_apply_ms: Some(0),
        latency_ms: 0,
        latency_jitter_ms: 0,
    });
    let request = tokio::spawn(charge(&app, "p-2"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.hanging_applied.load(Ordering::Relaxed) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the request never held its answer back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    request.abort();
    assert!(request.await.unwrap_err().is_cancelled());
    assert_eq!(app.hanging_applied.load(Ordering::Relaxed), 0, "a request nobody waits for is still counted");
    assert_eq!(app.held_back.load(Ordering::Relaxed), 1, "but it was held back once, and stays in the total");
}
