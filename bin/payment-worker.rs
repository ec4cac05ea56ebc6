//! The payment-worker: consumes the payments queue and charges payments at the bank.
//! Configuration: `payment-worker --help`. The runtime lives in `payment_platform::worker`.
use payment_platform::config::{BankWorkerConfig, PAYMENT_WORKER};
use payment_platform::{shutdown, telemetry, wiring};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config: BankWorkerConfig = PAYMENT_WORKER.parse();
    let _telemetry = telemetry::init(PAYMENT_WORKER.name);
    config.log_effective(&PAYMENT_WORKER);
    wiring::payment_worker(&config).await?.serve(config.worker.addr(), shutdown::signal()).await?;
    Ok(())
}
