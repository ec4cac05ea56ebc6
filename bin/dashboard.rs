//! The dashboard binary: configuration in, `payment_platform::dashboard` out.
use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use payment_platform::config::DashboardConfig;
use payment_platform::dashboard::{self, Dashboard};
use payment_platform::{shutdown, telemetry, util};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = DashboardConfig::parse();
    let _telemetry = telemetry::init("dashboard");
    config.log_effective();
    let state = Arc::new(Dashboard::new(&config)?);
    let listener = util::bind(SocketAddr::new(config.host, config.port)).await?;
    tracing::info!(url = %config.base_url, "dashboard listening");
    dashboard::serve(listener, state, shutdown::signal()).await?;
    Ok(())
}
