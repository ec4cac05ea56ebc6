//! The bank simulator (`bank-simulator --help`): an acquiring bank over HTTP, with idempotency keys, a ledger tests can
//! read, and fault injection (503s, hangs with late application, latency) to exercise the
//! workers' handling of ambiguous outcomes. Keys are forgotten after `BANK_KEY_TTL_SECS`, as a
//! real acquirer forgets them; the books are not.
//!
//! Routes: `POST /charges`, `POST /refunds` (both need `Idempotency-Key`), `GET /charges?reference=`,
//! `GET /refunds?reference=` (status inquiry), `GET /ledger`, `GET /ledger/{key}`, `GET|PUT /faults`,
//! `GET /status`. The books live in SQLite (`BANK_DB_PATH`), committed before each answer: a
//! crash and restart forgets nothing it applied (`ledger`).
mod config;
mod error;
mod handlers;
mod ledger;
mod wire;

use anyhow::Context;
use clap::Parser;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

pub use config::{Faults, FaultsPatch, SimConfig};
pub use error::SimError;
pub use ledger::{Entry, Kind, Ledger, Snapshot};

/// Request bodies are small JSON objects; anything larger is refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Serves the simulator on `listener` with the books `ledger` until `shutdown` completes, then
/// drains open requests. Requests that are waiting out added latency or a hang are cut short
/// with a 503 (a hung request not yet applied never is), so a shutdown never waits for
/// `BANK_HANG_MS`.
///
/// Only the fault settings of `config` are used here; binding and opening the books are the
/// caller's, so tests and other binaries can embed the bank on any listener.
pub async fn serve(
    listener: TcpListener,
    ledger: Ledger,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = Arc::new(handlers::AppState::new(ledger, config.faults(), stop_rx));
    let app = router(state);
    tracing::info!(addr = %listener.local_addr()?, "bank simulator listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("bank simulator shutting down");
            let _ = stop_tx.send(true);
        })
        .await
}

fn router(state: handlers::Shared) -> Router {
    Router::new()
        .route("/status", get(handlers::status))
        .route("/charges", post(handlers::post_charge).get(handlers::get_charges))
        .route("/refunds", post(handlers::post_refund).get(handlers::get_refunds))
        .route("/authorizations", post(handlers::post_authorization).get(handlers::get_authorizations))
        .route("/captures", post(handlers::post_capture).get(handlers::get_captures))
        .route("/voids", post(handlers::post_void).get(handlers::get_voids))
        .route("/ledger", get(handlers::get_ledger))
        .route("/ledger/{key}", get(handlers::get_ledger_entry))
        .route("/faults", get(handlers::get_faults).put(handlers::put_faults))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Injected 503s are expected here, not errors worth paging on.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(payment_platform::telemetry::request_span)
                .on_failure(DefaultOnFailure::new().level(Level::WARN)),
        )
        .with_state(state)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = SimConfig::parse();
    let _telemetry = payment_platform::telemetry::init("bank-simulator");
    tracing::info!(
        host = %config.host,
        port = config.port,
        fail_rate = config.fail_rate,
        hang_rate = config.hang_rate,
        hang_ms = config.hang_ms,
        hang_apply_ms = ?config.hang_apply_ms,
        latency_ms = config.latency_ms,
        latency_jitter_ms = config.latency_jitter_ms,
        key_ttl_secs = config.key_ttl_secs,
        auth_validity_secs = config.auth_validity_secs,
        "bank simulator configuration"
    );
    // Opened before the port: a bank that cannot keep its books must not answer.
    let path = config.books_path();
    let key_ttl = std::time::Duration::from_secs(config.key_ttl_secs);
    let validity = std::time::Duration::from_secs(config.auth_validity_secs);
    let (ledger, held) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut ledger = Ledger::open(&path, key_ttl)?.with_auth_validity(validity);
        let held = ledger.tidy(payment_platform::util::now_ms())?;
        Ok((ledger, held))
    })
    .await??;
    tracing::info!(
        path = %config.books_path().display(),
        lines = held.lines,
        live_keys = held.live_keys,
        "bank simulator books opened"
    );
    let listener = TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| format!("binding {}:{}", config.host, config.port))?;
    serve(listener, ledger, config, payment_platform::shutdown::signal()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::SimConfig;

    #[test]
    fn help_lists_the_variables_read_outside_the_parser() {
        let help = SimConfig::command().render_long_help().to_string();
        for var in ["RUST_LOG", "LOG_FORMAT", "OTEL_EXPORTER_OTLP_ENDPOINT"] {
            assert!(help.contains(var), "bank-simulator --help does not name {var}");
        }
    }
}
