//! The workers' configuration. Both workers take the same variables; only the defaults of the
//! command name and the health port differ, so one struct serves both binaries.
use std::net::IpAddr;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};

use super::WorkerKind;
use crate::bank_client::BankClientArgs;
use crate::config::{AwsArgs, VaultArgs, mask};

#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "payment-worker",
    about = "Consumes the payments queue, charges the bank, settles payments",
    after_help = crate::telemetry::ENV_HELP
)]
pub struct WorkerConfig {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub vault: VaultArgs,
    #[command(flatten)]
    pub bank: BankClientArgs,
    #[command(flatten)]
    pub webhooks: crate::config::WebhookArgs,
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
    /// Port of the health endpoint; default 4446 (payment-worker) or 4447 (refund-worker).
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

impl WorkerConfig {
    /// Parses the command line and environment with `kind`'s name and default port.
    pub fn parse_for(kind: WorkerKind) -> Self {
        Self::try_parse_for(kind, std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    pub fn try_parse_for<I, T>(kind: WorkerKind, args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command = Self::command()
            .name(kind.binary())
            .about(kind.about())
            .mut_arg("http_port", |a| a.default_value(kind.default_port()));
        Self::from_arg_matches(&command.try_get_matches_from(args)?)
    }

    pub fn runtime(&self) -> RuntimeSettings {
        let visibility = Duration::from_secs(self.visibility_extend_secs);
        RuntimeSettings {
            concurrency: usize::from(self.concurrency),
            wait: Duration::from_secs(self.wait_secs),
            visibility,
            heartbeat: visibility / 3,
            grace: Duration::from_secs(self.shutdown_grace_secs),
            receive_linger: Duration::from_millis(self.receive_linger_ms),
            ..RuntimeSettings::default()
        }
    }

    pub fn repair_interval(&self) -> Duration {
        Duration::from_secs(self.repair_interval_secs)
    }

    pub fn repair_after(&self) -> Duration {
        Duration::from_secs(self.repair_after_secs)
    }

    /// One line with every setting, secrets masked.
    pub fn log_effective(&self, kind: WorkerKind) {
        tracing::info!(
            worker = kind.name(),
            region = %self.aws.region,
            endpoint = self.aws.endpoint_url.as_deref().unwrap_or("(real AWS)"),
            table = %self.aws.table,
            queue = %kind.queue(&self.aws),
            payments_queue = %self.aws.payments_queue,
            refunds_queue = %self.aws.refunds_queue,
            setup = self.aws.setup,
            card_encryption_key = mask(&self.vault.card_encryption_key),
            card_encryption_old_keys = self.vault.card_encryption_old_keys.len(),
            bank_url = %self.bank.bank_url,
            bank_timeout_ms = self.bank.bank_timeout_ms,
            bank_retry_min_delay_ms = self.bank.bank_retry_min_delay_ms,
            bank_retry_max_delay_ms = self.bank.bank_retry_max_delay_ms,
            bank_max_attempts = self.bank.bank_max_attempts,
            bank_key_ttl_secs = self.bank.bank_key_ttl_secs,
            bank_resend_margin_secs = self.bank.bank_resend_margin_secs,
            bank_late_apply_ms = self.bank.bank_late_apply_ms,
            concurrency = self.concurrency,
            wait_secs = self.wait_secs,
            receive_linger_ms = self.receive_linger_ms,
            http = %format!("{}:{}", self.http_host, self.http_port),
            repair_interval_secs = self.repair_interval_secs,
            repair_after_secs = self.repair_after_secs,
            shutdown_grace_secs = self.shutdown_grace_secs,
            visibility_extend_secs = self.visibility_extend_secs,
            webhook_allow_private_urls = self.webhooks.urls.allow_private(&self.aws),
            webhook_timeout_ms = self.webhooks.webhook_timeout_ms,
            webhook_retry_schedule = ?self.webhooks.webhook_retry_schedule,
            webhook_concurrency = self.webhooks.webhook_concurrency,
            webhook_endpoint_concurrency = self.webhooks.webhook_endpoint_concurrency,
            webhook_merchant_concurrency = self.webhooks.webhook_merchant_concurrency,
            webhook_disable_after_secs = self.webhooks.webhook_disable_after_secs,
            "effective configuration"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refund_worker_has_its_own_default_port() {
        let payment = WorkerConfig::try_parse_for(WorkerKind::Payment, ["payment-worker"]).unwrap();
        let refund = WorkerConfig::try_parse_for(WorkerKind::Refund, ["refund-worker"]).unwrap();
        assert_eq!((payment.http_port, refund.http_port), (4446, 4447));
        let chosen = WorkerConfig::try_parse_for(WorkerKind::Refund, ["refund-worker", "--http-port", "9000"]).unwrap();
        assert_eq!(chosen.http_port, 9000);
    }

    #[test]
    fn defaults_match_the_documentation() {
        let c = WorkerConfig::try_parse_for(WorkerKind::Payment, ["payment-worker"]).unwrap();
        let r = c.runtime();
        assert_eq!(r.concurrency, 32);
        assert_eq!(r.wait, Duration::from_secs(10));
        assert_eq!((r.visibility, r.heartbeat), (Duration::from_secs(30), Duration::from_secs(10)));
        assert_eq!(r.grace, Duration::from_secs(20));
        assert_eq!((c.repair_interval(), c.repair_after()), (Duration::from_secs(15), Duration::from_secs(60)));
    }

    #[test]
    fn help_lists_every_variable() {
        let help = WorkerConfig::command().render_long_help().to_string();
        for var in [
            "AWS_REGION",
            "AWS_ENDPOINT_URL",
            "DYNAMODB_TABLE",
            "PAYMENTS_QUEUE",
            "REFUNDS_QUEUE",
            "SETUP",
            "CARD_ENCRYPTION_KEY",
            "CARD_ENCRYPTION_OLD_KEYS",
            "BANK_URL",
            "BANK_TIMEOUT_MS",
            "BANK_MAX_ATTEMPTS",
            "WORKER_CONCURRENCY",
            "WORKER_WAIT_SECS",
            "WORKER_HTTP_HOST",
            "WORKER_HTTP_PORT",
            "REPAIR_INTERVAL_SECS",
            "REPAIR_AFTER_SECS",
            "SHUTDOWN_GRACE_SECS",
            "VISIBILITY_EXTEND_SECS",
            "WEBHOOKS_QUEUE",
            "WEBHOOK_ALLOW_PRIVATE_URLS",
            "WEBHOOK_TIMEOUT_MS",
            "WEBHOOK_RETRY_SCHEDULE",
            "WEBHOOK_CONCURRENCY",
            "WEBHOOK_ENDPOINT_CONCURRENCY",
            "WEBHOOK_MERCHANT_CONCURRENCY",
            "WEBHOOK_DISABLE_AFTER_SECS",
        ] {
            assert!(help.contains(var), "--help does not mention {var}");
        }
    }
}

/// How the runtime behaves; see `WorkerConfig` for the variables that set it.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// Jobs running at once, at most.
    pub concurrency: usize,
    /// Long-poll wait of one receive (0..=20 s).
    pub wait: Duration,
    /// How long a received message stays hidden; each heartbeat hides it this long again.
    pub visibility: Duration,
    /// How often a running job's message is hidden again (well below `visibility`).
    pub heartbeat: Duration,
    /// At shutdown, how long running jobs may take before their messages are handed back.
    pub grace: Duration,
    /// How long a delete waits for others to share its batch call.
    pub delete_linger: Duration,
    /// When busy, how long a receive waits for more free slots so it asks for a fuller batch
    /// (fewer SQS calls per message). An idle worker receives at once.
    pub receive_linger: Duration,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            wait: Duration::from_secs(10),
            visibility: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            grace: Duration::from_secs(20),
            delete_linger: Duration::from_millis(50),
            receive_linger: Duration::from_millis(50),
        }
    }
}
