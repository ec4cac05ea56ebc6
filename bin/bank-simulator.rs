//! The acquiring bank simulator. Configuration: `bank-simulator --help`.
use anyhow::Context;
use clap::Parser;
use payment_platform::bank_sim::{self, SimConfig};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = SimConfig::parse();
    payment_platform::telemetry::init();
    tracing::info!(
        host = %config.host,
        port = config.port,
        fail_rate = config.fail_rate,
        hang_rate = config.hang_rate,
        hang_ms = config.hang_ms,
        latency_ms = config.latency_ms,
        latency_jitter_ms = config.latency_jitter_ms,
        "bank simulator configuration"
    );
    let listener = TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| format!("binding {}:{}", config.host, config.port))?;
    bank_sim::serve(listener, config, shutdown_signal()).await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM (what `docker stop` and Kubernetes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
