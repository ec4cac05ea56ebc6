//! The payment worker: consumes the payments queue and settles payments at the bank.
//! Configuration: `payment-worker --help`. Everything else lives in `payment_platform::worker`.
use payment_platform::worker::{self, WorkerConfig, WorkerKind};
use payment_platform::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let kind = WorkerKind::Payment;
    let config = WorkerConfig::parse_for(kind);
    let _telemetry = telemetry::init("payment-worker");
    config.log_effective(kind);
    worker::serve(kind, &config, shutdown::signal()).await?;
    Ok(())
}
