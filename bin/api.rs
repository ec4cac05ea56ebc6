//! The payments API binary: configuration in, `payment_platform::http::serve` out.
use anyhow::Context;
use clap::Parser;
use payment_platform::config::ApiConfig;
use payment_platform::{http, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ApiConfig::parse();
    let _telemetry = telemetry::init("api");
    config.log_effective();
    let state = http::start::build(&config).await?;
    let listener = tokio::net::TcpListener::bind((config.http_host, config.http_port))
        .await
        .with_context(|| format!("binding {}:{}", config.http_host, config.http_port))?;
    tracing::info!(addr = %listener.local_addr()?, base_url = %config.base_url, "api listening");
    http::serve(listener, state, shutdown::signal()).await?;
    tracing::info!("api stopped");
    Ok(())
}
