//! The refund worker: consumes the refunds queue and settles refunds at the bank.
//! Configuration: `refund-worker --help`. Everything else lives in `payment_platform::worker`.
use payment_platform::worker::{self, WorkerConfig, WorkerKind};
use payment_platform::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let kind = WorkerKind::Refund;
    let config = WorkerConfig::parse_for(kind);
    let _telemetry = telemetry::init("refund-worker");
    config.log_effective(kind);
    worker::serve(kind, &config, shutdown::signal()).await?;
    Ok(())
}
