//! HTTP handlers. Charges, refunds, authorizations, captures and voids share one path through
//! faults and idempotency:
//! key check, body check, maybe 503, claim the key, latency, apply once, maybe hang, answer.
//! A request that hangs is applied late: at a random moment within `hang_ms` of its receipt
//! (never later), while its client may long have given up; once applied it is in the books,
//! whatever becomes of the process before the answer. Status inquiries by reference
//! (`GET /charges?reference=`, and the same on `/refunds`, `/authorizations`, `/captures`,
//! `/voids`) read the books, which never forget.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::watch;
use tracing::{Instrument, debug, info, warn};

use super::config::{Faults, FaultsPatch};
use super::error::SimError;
use super::ledger::{Answer, Claim, Entry, Kind, Ledger};
use super::wire::{CaptureBody, ChargeBody, Fingerprint, RefundBody, VoidBody};

pub struct AppState {
    /// The books: SQLite, so every use runs on the blocking pool (`AppState::books`).
    ledger: Arc<Mutex<Ledger>>,
    faults: Mutex<Faults>,
    /// Salt for request fingerprints (kept in the books), so they cannot be looked up in a table.
    salt: [u8; 16],
    /// Requests applied whose answer is held back by a hang right now, for a client still
    /// waiting: what a crash now would leave applied and unanswered (`GET /status`, for the tests
    /// that kill the bank at that moment).
    hanging_applied: AtomicU64,
    /// Every request applied whose answer was held back, since start: it stays counted when its
    /// client hangs up first (a worker's timeout shorter than the hang), for the tests that wait
    /// for such a request whatever became of its client.
    held_back: AtomicU64,
    /// Turns true when the server starts shutting down; cuts latency and hangs short.
    shutdown: watch::Receiver<bool>,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(ledger: Ledger, faults: Faults, shutdown: watch::Receiver<bool>) -> Self {
        let salt = ledger.salt();
        Self {
            ledger: Arc::new(Mutex::new(ledger)),
            faults: Mutex::new(faults),
            salt,
            hanging_applied: AtomicU64::new(0),
            held_back: AtomicU64::new(0),
            shutdown,
        }
    }

    /// Runs `f` on the books off the async runtime (SQLite blocks), one caller at a time.
    async fn books<T, F>(&self, f: F) -> Result<T, SimError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> T + Send + 'static,
    {
        let ledger = Arc::clone(&self.ledger);
        tokio::task::spawn_blocking(move || {
            // A panic elsewhere must not take the books down with it: every change is one
            // transaction, rolled back if it did not commit.
            let mut guard = ledger.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|_| SimError::Internal)
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps, unless the server is shutting down first.
    async fn delay(&self, duration: Duration) -> Result<(), SimError> {
        if duration.is_zero() {
            return Ok(());
        }
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            _ = shutdown.wait_for(|stopping| *stopping) => Err(SimError::ShuttingDown),
        }
    }
}

/// `GET /status`: up, with what is in flight right now.
pub async fn status(State(app): State<Shared>) -> Result<Json<serde_json::Value>, SimError> {
    let in_flight = app.books(|l| l.in_flight()).await?;
    let hanging_applied = app.hanging_applied.load(Ordering::Relaxed);
    let held_back = app.held_back.load(Ordering::Relaxed);
    Ok(Json(json!({ "Status": "OK", "InFlight": in_flight, "HangingApplied": hanging_applied, "HeldBack": held_back })))
}

pub async fn post_charge(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, SimError> {
    let key = idempotency_key(&headers)?;
    let charge = ChargeBody::parse(&read_body(body)?)?;
    let fingerprint = charge.fingerprint("charge", &app.salt);
    let (reference, last4) = (charge.reference.clone(), charge.card_last4().to_owned());
    debug!(%key, %reference, card_last4 = %last4, "charge requested");
    process(app, key, fingerprint, move |ledger, key| ledger.apply_charge(key, &charge)).await
}

pub async fn post_refund(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, SimError> {
    let key = idempotency_key(&headers)?;
    let refund = RefundBody::parse(&read_body(body)?)?;
    let fingerprint = refund.fingerprint(&app.salt);
    debug!(%key, reference = %refund.reference, "refund requested");
    process(app, key, fingerprint, move |ledger, key| ledger.apply_refund(key, &refund)).await
}

/// `POST /authorizations`: the charge's body; the amount is held, not taken.
pub async fn post_authorization(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, SimError> {
    let key = idempotency_key(&headers)?;
    let authorization = ChargeBody::parse(&read_body(body)?)?;
    let fingerprint = authorization.fingerprint("authorization", &app.salt);
    debug!(%key, reference = %authorization.reference, card_last4 = %authorization.card_last4(), "authorization requested");
    process(app, key, fingerprint, move |ledger, key| ledger.apply_authorization(key, &authorization)).await
}

pub async fn post_capture(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, SimError> {
    let key = idempotency_key(&headers)?;
    let capture = CaptureBody::parse(&read_body(body)?)?;
    let fingerprint = capture.fingerprint(&app.salt);
    debug!(%key, reference = %capture.reference, "capture requested");
    process(app, key, fingerprint, move |ledger, key| ledger.apply_capture(key, &capture)).await
}

pub async fn post_void(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, SimError> {
    let key = idempotency_key(&headers)?;
    let void = VoidBody::parse(&read_body(body)?)?;
    let fingerprint = void.fingerprint(&app.salt);
    debug!(%key, reference = %void.reference, "void requested");
    process(app, key, fingerprint, move |ledger, key| ledger.apply_void(key, &void)).await
}

/// Faults and idempotency around one request; `apply` runs at most once per key.
async fn process<F>(app: Shared, key: String, fingerprint: Fingerprint, apply: F) -> Result<Response, SimError>
where
    F: FnOnce(&mut Ledger, &str) -> Result<Answer, SimError> + Send + 'static,
{
    let faults = *app.faults();
    if faults.roll_fail() {
        info!(%key, "fault: answering 503 without applying");
        return Err(SimError::Unavailable);
    }
    let received = tokio::time::Instant::now();
    let hang = faults.roll_hang();
    // The claim and the apply run in one task of their own: a client that hangs up at any
    // moment, even while its claim is being written, drops this handler but not the task, so
    // the key never stays in flight for ever with nobody left to apply or abandon it.
    let task = Arc::clone(&app);
    let settled = tokio::spawn(claim_and_apply(task, key, fingerprint, hang, faults, apply).in_current_span())
        .await
        .map_err(|_| SimError::Internal)??;
    let answer = match settled {
        Settled::Replay(answer) => {
            app.delay(faults.latency()).await?;
            answer
        }
        Settled::Applied(answer) => answer,
    };
    if hang {
        // The answer comes `hang_ms` after the request, whenever it was applied.
        // Counted while held, and no longer once the client hangs up (the guard's drop).
        app.held_back.fetch_add(1, Ordering::Relaxed);
        let _counted = Counted::up(&app.hanging_applied);
        app.delay(faults.hang().saturating_sub(received.elapsed())).await?;
    }
    Ok((answer.status, Json(answer.body)).into_response())
}

/// One in `counter` for as long as it lives: a handler dropped mid-wait takes itself off too.
struct Counted<'a>(&'a AtomicU64);

impl<'a> Counted<'a> {
    fn up(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What became of a request's key: answered before, or applied now.
enum Settled {
    Replay(Answer),
    Applied(Answer),
}

/// Claims `key`; a new key is applied after the latency (or, for a request that hangs, at its
/// late moment), then leaves the in-flight set, applied or abandoned.
async fn claim_and_apply<F>(
    app: Shared,
    key: String,
    fingerprint: Fingerprint,
    hang: bool,
    faults: Faults,
    apply: F,
) -> Result<Settled, SimError>
where
    F: FnOnce(&mut Ledger, &str) -> Result<Answer, SimError> + Send + 'static,
{
    let claimed = key.clone();
    match app.books(move |l| l.claim(&claimed, fingerprint)).await? {
        Err(e) => {
            info!(%key, code = e.code(), "refused");
            Err(e)
        }
        Ok(Claim::Replay(answer)) => {
            info!(%key, "replayed the recorded answer");
            Ok(Settled::Replay(answer))
        }
        Ok(Claim::New) => {
            let apply_after = if hang { faults.late() } else { faults.latency() };
            if hang {
                warn!(%key, apply_after_ms = apply_after.as_millis() as u64, "fault: hanging, applied late");
            }
            let applying = key.clone();
            if let Err(e) = app.delay(apply_after).await {
                app.books(move |l| l.abandon(&applying)).await?;
                return Err(e);
            }
            // Committed to the books before anything is answered.
            let answer = app.books(move |l| apply(l, &applying)).await??;
            info!(%key, status = %answer.body["Status"], "applied");
            Ok(Settled::Applied(answer))
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ByReference {
    reference: Option<String>,
}

/// `GET /charges?reference=`: every charge applied under the reference (a payment id), oldest
/// first, whatever its key and whether the key is still remembered. Faults apply, as to any call.
pub async fn get_charges(
    State(app): State<Shared>,
    query: Result<Query<ByReference>, QueryRejection>,
) -> Result<Response, SimError> {
    inquiry(app, query, Kind::Charge, "Charges").await
}

/// `GET /refunds?reference=`: the same for refunds (the reference is a refund id).
pub async fn get_refunds(
    State(app): State<Shared>,
    query: Result<Query<ByReference>, QueryRejection>,
) -> Result<Response, SimError> {
    inquiry(app, query, Kind::Refund, "Refunds").await
}

/// `GET /authorizations?reference=` (a payment id).
pub async fn get_authorizations(
    State(app): State<Shared>,
    query: Result<Query<ByReference>, QueryRejection>,
) -> Result<Response, SimError> {
    inquiry(app, query, Kind::Authorization, "Authorizations").await
}

/// `GET /captures?reference=` (a capture id).
pub async fn get_captures(
    State(app): State<Shared>,
    query: Result<Query<ByReference>, QueryRejection>,
) -> Result<Response, SimError> {
    inquiry(app, query, Kind::Capture, "Captures").await
}

/// `GET /voids?reference=` (a payment id).
pub async fn get_voids(
    State(app): State<Shared>,
    query: Result<Query<ByReference>, QueryRejection>,
) -> Result<Response, SimError> {
    inquiry(app, query, Kind::Void, "Voids").await
}

async fn inquiry(
    app: Shared,
    query: Result<Query<ByReference>, QueryRejection>,
    kind: Kind,
    field: &str,
) -> Result<Response, SimError> {
    let reference = query
        .ok()
        .and_then(|Query(q)| q.reference)
        .filter(|r| !r.is_empty() && r.len() <= 255)
        .ok_or_else(|| SimError::InvalidRequest("the query needs `reference`".to_owned()))?;
    let faults = *app.faults();
    if faults.roll_fail() {
        return Err(SimError::Unavailable);
    }
    if faults.roll_hang() {
        app.delay(faults.hang()).await?;
    } else {
        app.delay(faults.latency()).await?;
    }
    let asked = reference.clone();
    let entries = app.books(move |l| l.by_reference(kind, &asked)).await??;
    let lines: Vec<serde_json::Value> = entries.iter().map(inquiry_line).collect();
    Ok(Json(json!({ "Reference": reference, field: lines })).into_response())
}

/// What an inquiry shows of one applied request: its outcome as the original answer gave it.
fn inquiry_line(e: &Entry) -> serde_json::Value {
    let status = &e.outcome;
    match e.kind {
        Kind::Charge => json!({
            "ChargeID": e.charge_id, "Status": status, "DeclineCode": e.reason,
            "Amount": e.amount, "Currency": e.currency, "IdempotencyKey": e.idempotency_key,
        }),
        Kind::Refund => json!({
            "RefundID": e.refund_id, "ChargeID": e.charge_id, "Status": status, "Reason": e.reason,
            "Amount": e.amount, "Currency": e.currency, "IdempotencyKey": e.idempotency_key,
        }),
        Kind::Authorization => json!({
            "AuthorizationID": e.authorization_id, "Status": status, "DeclineCode": e.reason,
            "Amount": e.amount, "Currency": e.currency, "ExpiresAt": e.expires_at,
            "IdempotencyKey": e.idempotency_key,
        }),
        Kind::Capture => json!({
            "CaptureID": e.issued_id, "AuthorizationID": e.authorization_id, "Status": status,
            "Reason": e.reason, "Amount": e.amount, "Currency": e.currency, "Final": e.final_capture,
            "IdempotencyKey": e.idempotency_key,
        }),
        Kind::Void => json!({
            "VoidID": e.issued_id, "AuthorizationID": e.authorization_id, "Status": status,
            "Reason": e.reason, "Released": e.released, "IdempotencyKey": e.idempotency_key,
        }),
    }
}

pub async fn get_ledger(State(app): State<Shared>) -> Result<Response, SimError> {
    let snapshot = app.books(|l| l.snapshot()).await??;
    Ok(Json(snapshot).into_response())
}

pub async fn get_ledger_entry(State(app): State<Shared>, Path(key): Path<String>) -> Result<Response, SimError> {
    let entry = app.books(move |l| l.entry(&key)).await??.ok_or(SimError::NotFound)?;
    Ok(Json(entry).into_response())
}

pub async fn get_faults(State(app): State<Shared>) -> Json<Faults> {
    Json(*app.faults())
}

pub async fn put_faults(
    State(app): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Faults>, SimError> {
    let patch: FaultsPatch = serde_json::from_slice(&read_body(body)?).map_err(|_| {
        SimError::InvalidRequest(
            "the body must be a JSON object with any of FailRate, HangRate, HangMs, HangApplyMs, \
             LatencyMs, LatencyJitterMs"
                .to_owned(),
        )
    })?;
    let mut faults = app.faults();
    *faults = faults.patched(&patch).map_err(SimError::InvalidRequest)?;
    info!(faults = ?*faults, "faults changed");
    Ok(Json(*faults))
}

pub async fn not_found() -> SimError {
    SimError::NotFound
}

pub async fn method_not_allowed() -> SimError {
    SimError::MethodNotAllowed
}

fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, SimError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => SimError::PayloadTooLarge,
        _ => SimError::InvalidRequest("the request body could not be read".to_owned()),
    })
}

/// The key as sent: 1-255 visible ASCII characters. An empty header counts as missing.
fn idempotency_key(headers: &HeaderMap) -> Result<String, SimError> {
    let value = headers.get("idempotency-key").ok_or(SimError::KeyMissing)?;
    let key = value.to_str().map_err(|_| SimError::KeyInvalid)?.trim();
    if key.is_empty() {
        return Err(SimError::KeyMissing);
    }
    if key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SimError::KeyInvalid);
    }
    Ok(key.to_owned())
}

#[cfg(test)]
#[path = "handlers_tests.rs"]
mod tests;
