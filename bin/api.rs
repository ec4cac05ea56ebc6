//! The payments API binary: configuration in, `payment_platform::http::Api` out.
use std::net::SocketAddr;

use clap::Parser;
use payment_platform::config::ApiConfig;
use payment_platform::{http::Api, shutdown, telemetry, wiring};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ApiConfig::parse();
    let _telemetry = telemetry::init("api");
    config.log_effective();
    let state = wiring::api(&config).await?;
    let public = SocketAddr::new(config.http_host, config.http_port);
    let admin = SocketAddr::new(config.admin_host, config.admin_port);
    Api::new(state).serve(public, admin, shutdown::signal()).await?;
    Ok(())
}
