//! The refund-worker: consumes the refunds queue and carries out refunds at the bank.
//! Configuration: `refund-worker --help`. The runtime lives in `payment_platform::worker`.
use payment_platform::config::{BankWorkerConfig, REFUND_WORKER};
use payment_platform::{shutdown, telemetry, wiring};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config: BankWorkerConfig = REFUND_WORKER.parse();
    let _telemetry = telemetry::init(REFUND_WORKER.name);
    config.log_effective(&REFUND_WORKER);
    wiring::refund_worker(&config).await?.serve(config.worker.addr(), shutdown::signal()).await?;
    Ok(())
}
