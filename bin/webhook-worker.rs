//! The webhook-worker: consumes the webhooks queue and delivers signed events to merchants'
//! endpoints. Configuration: `webhook-worker --help`. The runtime lives in
//! `payment_platform::worker`.
use payment_platform::config::{WEBHOOK_WORKER, WebhookWorkerConfig};
use payment_platform::{shutdown, telemetry, wiring};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config: WebhookWorkerConfig = WEBHOOK_WORKER.parse();
    let _telemetry = telemetry::init(WEBHOOK_WORKER.name);
    config.log_effective();
    wiring::webhook_worker(&config).await?.serve(config.worker.addr(), shutdown::signal()).await?;
    Ok(())
}
