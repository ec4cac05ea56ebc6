//! The payments API binary: configuration in, `payment_platform::http::serve` out.
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use payment_platform::config::ApiConfig;
use payment_platform::{http, shutdown, telemetry};
use tokio_util::sync::CancellationToken;

/// How long, after the listeners stop, writes still being carried through may take. With the
/// listeners' own drain (`http::server::DRAIN_GRACE`, 10 s) it stays within the orchestrator's
/// stop timeout (30 s on ECS, see infra/terraform). A write still unconfirmed then is found by the
/// repair path if it landed.
const WRITES_GRACE: Duration = Duration::from_secs(15);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ApiConfig::parse();
    let _telemetry = telemetry::init("api");
    config.log_effective();
    let state = payment_platform::wiring::api(&config).await?;
    let writes = state.writes.clone();
    let bind = |host, port| async move {
        tokio::net::TcpListener::bind((host, port)).await.with_context(|| format!("binding {host}:{port}"))
    };
    let listener = bind(config.http_host, config.http_port).await?;
    let admin = bind(config.admin_host, config.admin_port).await?;
    tracing::info!(addr = %listener.local_addr()?, admin = %admin.local_addr()?, base_url = %config.base_url,
        "api listening");
    let stop = CancellationToken::new();
    // Rate-limit buckets of merchants gone quiet are dropped now and then: memory stays bounded
    // by the merchants active in the last minute.
    let limits = std::sync::Arc::clone(&state.auth);
    let shrink = stop.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                () = shrink.cancelled() => break,
                _ = every.tick() => limits.limits.shrink(),
            }
        }
    });
    let admin_task = tokio::spawn(http::serve_admin(
        admin,
        payment_platform::wiring::conn_limits(&config),
        stop.clone().cancelled_owned(),
    ));
    let public = http::serve(listener, state, {
        let stop = stop.clone();
        async move {
            shutdown::signal().await;
            stop.cancel();
        }
    });
    public.await?;
    stop.cancel();
    writes.close();
    if tokio::time::timeout(WRITES_GRACE, writes.wait()).await.is_err() {
        tracing::error!(left = writes.len(), "writes still unconfirmed at shutdown; the repair path will finish them");
    }
    admin_task.await.context("admin listener")??;
    tracing::info!("api stopped");
    Ok(())
}
