//! The acquiring bank simulator. Configuration: `bank-simulator --help`.
use anyhow::Context;
use clap::Parser;
use payment_platform::bank_sim::{self, SimConfig};
use tokio::net::TcpListener;

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
        latency_ms = config.latency_ms,
        latency_jitter_ms = config.latency_jitter_ms,
        "bank simulator configuration"
    );
    let listener = TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| format!("binding {}:{}", config.host, config.port))?;
    bank_sim::serve(listener, config, payment_platform::shutdown::signal()).await?;
    Ok(())
}
