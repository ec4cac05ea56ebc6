//! The three workers' configurations: what every worker takes (`WorkerArgs`), and per binary
//! what only it needs: the bank for the payment-worker and the refund-worker, the delivery
//! settings for the webhook-worker. Each binary's name, `--help` text and health port are in its
//! `WorkerBinary`.
use std::net::{IpAddr, SocketAddr};

use clap::{Args, Parser};

use super::{AwsArgs, BankArgs, VaultArgs, WebhookUrlArgs, mask};

/// What tells the worker binaries apart on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerBinary {
    pub name: &'static str,
    pub about: &'static str,
    /// Default `WORKER_HTTP_PORT`, next to the API's 4444 and the bank's 4445.
    pub http_port: &'static str,
}

pub const PAYMENT_WORKER: WorkerBinary = WorkerBinary {
    name: "payment-worker",
    about: "Consumes the payments queue, charges the bank, settles payments",
    http_port: "4446",
};

pub const REFUND_WORKER: WorkerBinary = WorkerBinary {
    name: "refund-worker",
    about: "Consumes the refunds queue, refunds at the bank, settles refunds",
    http_port: "4447",
};

pub const WEBHOOK_WORKER: WorkerBinary = WorkerBinary {
    name: "webhook-worker",
    about: "Consumes the webhooks queue, delivers signed events to merchants' endpoints",
    http_port: "4449",
};

impl WorkerBinary {
    /// Parses the command line and environment into `C`, with this binary's name and port.
    pub fn parse<C: Parser>(&self) -> C {
        self.try_parse(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    pub fn try_parse<C: Parser, I, T>(&self, args: I) -> Result<C, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command =
            C::command().name(self.name).about(self.about).mut_arg("http_port", |a| a.default_value(self.http_port));
        C::from_arg_matches(&command.try_get_matches_from(args)?)
    }
}

/// The settings of the worker runtime (`crate::worker`), the same for every worker.
#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Jobs handled at once, at most (each waits on the bank, so this can be well above cores).
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub concurrency: u16,
    /// Long-poll wait of one SQS receive, in seconds (0-20). It never delays shutdown: a
    /// receive under way is abandoned.
    #[arg(long, env = "WORKER_WAIT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=20))]
    pub wait_secs: u64,
    /// When jobs are running, milliseconds a receive may wait for more of them to finish so it
    /// asks SQS for a fuller batch (fewer calls per message). An idle worker receives at once.
    #[arg(long, env = "WORKER_RECEIVE_LINGER_MS", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(0..=1_000))]
    pub receive_linger_ms: u64,
    /// Address of the health endpoint (`GET /status`).
    #[arg(long, env = "WORKER_HTTP_HOST", default_value = "127.0.0.1")]
    pub http_host: IpAddr,
    /// Port of the health endpoint; default 4446 (payment-worker), 4447 (refund-worker) or 4449
    /// (webhook-worker).
    #[arg(long, env = "WORKER_HTTP_PORT", default_value_t = 4446)]
    pub http_port: u16,
    /// Seconds between two repair passes.
    #[arg(long, env = "REPAIR_INTERVAL_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub repair_interval_secs: u64,
    /// A non-final record untouched for this many seconds is re-enqueued by the repair pass.
    /// Keep it above the longest a job can take, or jobs under way are enqueued twice (harmless,
    /// as jobs are idempotent, but wasted work).
    #[arg(long, env = "REPAIR_AFTER_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub repair_after_secs: u64,
    /// At shutdown, seconds running jobs may take to finish before their messages are handed back.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub shutdown_grace_secs: u64,
    /// Seconds a received message stays hidden; while its job runs it is hidden again every
    /// third of this, so it is never handed to a second worker mid-job.
    #[arg(long, env = "VISIBILITY_EXTEND_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(3..=43_200))]
    pub visibility_extend_secs: u64,
}

impl WorkerArgs {
    /// Where the health endpoint listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.http_host, self.http_port)
    }
}

/// The payment-worker's and the refund-worker's configuration: they differ only in the queue
/// they consume and the key they hold.
#[derive(Parser, Debug, Clone)]
#[command(name = "payment-worker", after_help = crate::telemetry::ENV_HELP)]
pub struct BankWorkerConfig {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub bank: BankArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// The webhook-worker's configuration.
#[derive(Parser, Debug, Clone)]
#[command(name = "webhook-worker", after_help = crate::telemetry::ENV_HELP)]
pub struct WebhookWorkerConfig {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

/// How the webhook-worker delivers.
#[derive(Args, Debug, Clone)]
pub struct WebhookArgs {
    #[command(flatten)]
    pub urls: WebhookUrlArgs,
    /// One delivery attempt's limit, in milliseconds.
    #[arg(long, env = "WEBHOOK_TIMEOUT_MS", default_value_t = 15_000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub webhook_timeout_ms: u64,
    /// Delays between attempts (`ms`, `s`, `m`, `h`); the delivery fails after the last.
    #[arg(long, env = "WEBHOOK_RETRY_SCHEDULE", default_value = "5s,5m,30m,2h,5h,10h,10h",
          value_parser = crate::domain::webhooks::RetrySchedule::parse)]
    pub webhook_retry_schedule: crate::domain::webhooks::RetrySchedule,
    /// Delivery attempts in flight at once, in all.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub webhook_concurrency: u16,
    /// Delivery attempts in flight at once to one endpoint: a slow receiver holds no more.
    #[arg(long, env = "WEBHOOK_ENDPOINT_CONCURRENCY", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    pub webhook_endpoint_concurrency: u16,
    /// Delivery attempts in flight at once to one merchant's endpoints, all of them: a merchant's
    /// slow receivers hold no more of the worker's slots (an attempt past it waits its turn).
    #[arg(long, env = "WEBHOOK_MERCHANT_CONCURRENCY", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub webhook_merchant_concurrency: u16,
    /// An endpoint failing without a success for this many seconds is disabled (5 days).
    #[arg(long, env = "WEBHOOK_DISABLE_AFTER_SECS", default_value_t = 432_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_disable_after_secs: u64,
}

impl WorkerArgs {
    /// One line with the settings every worker shares, secrets masked; each binary's own
    /// follow in a second line.
    pub fn log_effective(&self, binary: &WorkerBinary, aws: &AwsArgs, vault: &VaultArgs) {
        tracing::info!(
            worker = binary.name,
            region = %aws.region,
            endpoint = aws.endpoint_url.as_deref().unwrap_or("(real AWS)"),
            table = %aws.table,
            payments_queue = %aws.payments_queue,
            refunds_queue = %aws.refunds_queue,
            webhooks_queue = %aws.webhooks_queue,
            setup = aws.setup,
            card_encryption_key = mask(&vault.card_encryption_key),
            card_encryption_old_keys = vault.card_encryption_old_keys.len(),
            webhook_secret_key = mask(&vault.webhook_secret_key),
            webhook_secret_old_keys = vault.webhook_secret_old_keys.len(),
            concurrency = self.concurrency,
            wait_secs = self.wait_secs,
            receive_linger_ms = self.receive_linger_ms,
            http = %self.addr(),
            repair_interval_secs = self.repair_interval_secs,
            repair_after_secs = self.repair_after_secs,
            shutdown_grace_secs = self.shutdown_grace_secs,
            visibility_extend_secs = self.visibility_extend_secs,
            runtime_worker_threads = super::runtime_worker_threads(),
            "effective configuration"
        );
    }
}

impl BankWorkerConfig {
    pub fn log_effective(&self, binary: &WorkerBinary) {
        self.worker.log_effective(binary, &self.aws, &self.vault);
        let bank = &self.bank;
        tracing::info!(
            bank_url = %bank.bank_url,
            bank_timeout_ms = bank.bank_timeout_ms,
            bank_retry_min_delay_ms = bank.bank_retry_min_delay_ms,
            bank_retry_max_delay_ms = bank.bank_retry_max_delay_ms,
            bank_max_attempts = bank.bank_max_attempts,
            bank_key_ttl_secs = bank.bank_key_ttl_secs,
            bank_resend_margin_secs = bank.bank_resend_margin_secs,
            bank_late_apply_ms = bank.bank_late_apply_ms,
            "effective bank settings"
        );
    }
}

impl WebhookWorkerConfig {
    pub fn log_effective(&self) {
        self.worker.log_effective(&WEBHOOK_WORKER, &self.aws, &self.vault);
        let hooks = &self.webhooks;
        tracing::info!(
            webhook_allow_private_urls = hooks.urls.allow_private(&self.aws),
            webhook_timeout_ms = hooks.webhook_timeout_ms,
            webhook_retry_schedule = ?hooks.webhook_retry_schedule,
            webhook_concurrency = hooks.webhook_concurrency,
            webhook_endpoint_concurrency = hooks.webhook_endpoint_concurrency,
            webhook_merchant_concurrency = hooks.webhook_merchant_concurrency,
            webhook_disable_after_secs = hooks.webhook_disable_after_secs,
            "effective delivery settings"
        );
    }
}

#[cfg(test)]
mod tests;
