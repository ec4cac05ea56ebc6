//! The webhook worker: consumes the webhooks queue and delivers signed events to merchants' endpoints.
//! Configuration: `webhook-worker --help`. Everything else lives in `payment_platform::worker`.
use payment_platform::worker::{self, WorkerConfig, WorkerKind};
use payment_platform::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let kind = WorkerKind::Webhook;
    let config = WorkerConfig::parse_for(kind);
    let _telemetry = telemetry::init("webhook-worker");
    config.log_effective(kind);
    worker::serve(kind, &config, shutdown::signal()).await?;
    Ok(())
}
