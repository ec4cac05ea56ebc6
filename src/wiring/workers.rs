//! The three workers, each its `Jobs`, its queue and its runtime settings from its configuration.
use std::sync::Arc;
use std::time::Duration;

use super::{StartError, Vaults, services};
use crate::app::delivery::{Deliverer, DeliverySettings};
use crate::app::jobs::{Charges, Deliveries, Jobs, Refunds};
use crate::app::{BankPolicy, Services};
use crate::aws::Clients;
use crate::bank_client::{self, BankClientConfig};
use crate::config::keys::warn_unused;
use crate::config::{BankArgs, BankWorkerConfig, VaultArgs, WebhookArgs, WebhookWorkerConfig, WorkerArgs};
use crate::config::{PAYMENT_WORKER, REFUND_WORKER, WEBHOOK_WORKER, WorkerBinary};
use crate::domain::bank::Bank;
use crate::domain::inquiry::BankWindow;
use crate::sqs::SqsWorkQueue;
use crate::webhook_client::HttpWebhookSender;
use crate::worker::{RuntimeSettings, Worker};

/// The payment-worker: charges payments; holds the card key.
pub async fn payment_worker(config: &BankWorkerConfig) -> Result<Worker, StartError> {
    let (services, clients, bank) = bank_worker(&PAYMENT_WORKER, config, true).await?;
    let jobs = Charges { services, bank, repair_after: repair_after(&config.worker) };
    assemble(jobs, clients, &config.aws.payments_queue, &config.worker).await
}

/// The refund-worker: carries out refunds; holds no key.
pub async fn refund_worker(config: &BankWorkerConfig) -> Result<Worker, StartError> {
    let (services, clients, bank) = bank_worker(&REFUND_WORKER, config, false).await?;
    let jobs = Refunds { services, bank, repair_after: repair_after(&config.worker) };
    assemble(jobs, clients, &config.aws.refunds_queue, &config.worker).await
}

/// The webhook-worker: delivers events; holds the webhook secret key, calls no bank.
pub async fn webhook_worker(config: &WebhookWorkerConfig) -> Result<Worker, StartError> {
    let vaults = Vaults::of(&config.vault, &config.aws, false, true)?;
    warn_keys(&WEBHOOK_WORKER, &config.vault, false, true);
    let settings = delivery_settings(&config.webhooks);
    let sender = HttpWebhookSender::new(settings.timeout, config.webhooks.urls.allow_private(&config.aws))
        .map_err(|_| StartError::WebhookClient)?;
    let (services, clients) = services(&config.aws, vaults).await?;
    let webhooks = Arc::new(Deliverer::new(services, Arc::new(sender), settings));
    let jobs = Deliveries { webhooks, grace: repair_after(&config.worker) };
    assemble(jobs, clients, &config.aws.webhooks_queue, &config.worker).await
}

/// What the two workers that call the bank share: the bank client, built before anything is
/// reached (a worker that cannot reach the bank safely, `BANK_URL`, must not take jobs off the
/// queue), and the use cases with the bank's policy.
async fn bank_worker(
    binary: &WorkerBinary,
    config: &BankWorkerConfig,
    cards: bool,
) -> Result<(Services, Clients, Arc<dyn Bank>), StartError> {
    let vaults = Vaults::of(&config.vault, &config.aws, cards, false)?;
    warn_keys(binary, &config.vault, cards, false);
    let mut client = bank_client_config(&config.bank);
    client.allow_loopback_http = config.aws.is_development();
    let bank: Arc<dyn Bank> = Arc::new(bank_client::connect(&client)?);
    let (mut services, clients) = services(&config.aws, vaults).await?;
    services.bank_policy = bank_policy(&config.bank, &client);
    Ok((services, clients, bank))
}

async fn assemble(jobs: impl Jobs, clients: Clients, queue: &str, args: &WorkerArgs) -> Result<Worker, StartError> {
    let queue = SqsWorkQueue::resolve(clients.sqs, queue).await?;
    Ok(Worker {
        jobs: Arc::new(jobs),
        queue: Arc::new(queue),
        runtime: runtime(args),
        repair_every: Duration::from_secs(args.repair_interval_secs),
        stats: Arc::default(),
    })
}

/// A key given to a worker that does not use it is named in a warning: it widens what a leak
/// of that process exposes.
fn warn_keys(binary: &WorkerBinary, vault: &VaultArgs, cards: bool, secrets: bool) {
    let set = |v: &Option<secrecy::SecretString>, old: &[secrecy::SecretString]| v.is_some() || !old.is_empty();
    warn_unused(
        binary.name,
        &[
            ("CARD_ENCRYPTION_KEY", !cards && set(&vault.card_encryption_key, &vault.card_encryption_old_keys)),
            ("WEBHOOK_SECRET_KEY", !secrets && set(&vault.webhook_secret_key, &vault.webhook_secret_old_keys)),
        ],
    );
}

fn repair_after(args: &WorkerArgs) -> Duration {
    Duration::from_secs(args.repair_after_secs)
}

pub(crate) fn runtime(args: &WorkerArgs) -> RuntimeSettings {
    let visibility = Duration::from_secs(args.visibility_extend_secs);
    RuntimeSettings {
        concurrency: usize::from(args.concurrency),
        wait: Duration::from_secs(args.wait_secs),
        visibility,
        heartbeat: visibility / 3,
        grace: Duration::from_secs(args.shutdown_grace_secs),
        receive_linger: Duration::from_millis(args.receive_linger_ms),
        ..RuntimeSettings::default()
    }
}

fn bank_client_config(args: &BankArgs) -> BankClientConfig {
    BankClientConfig {
        url: args.bank_url.clone(),
        attempt_timeout: Duration::from_millis(args.bank_timeout_ms),
        retry_min_delay: Duration::from_millis(args.bank_retry_min_delay_ms),
        retry_max_delay: Duration::from_millis(args.bank_retry_max_delay_ms),
        max_attempts: usize::try_from(args.bank_max_attempts).unwrap_or(8),
        allow_loopback_http: false,
    }
}

/// What the workers rely on the bank for (`domain::inquiry`), and how long a noted attempt may
/// still be on its way.
fn bank_policy(args: &BankArgs, client: &BankClientConfig) -> BankPolicy {
    BankPolicy {
        window: BankWindow {
            key_ttl_ms: args.bank_key_ttl_secs.saturating_mul(1000),
            margin_ms: args.bank_resend_margin_secs.saturating_mul(1000),
            late_apply_ms: args.bank_late_apply_ms,
        },
        rounds: client.max_attempts,
        min_delay: client.retry_min_delay,
        max_delay: client.retry_max_delay,
        // A noted attempt's request may go out after refused connections are retried (each
        // attempt bounded by its timeout, then a delay), plus a second of clock skew.
        send_slack: (client.attempt_timeout + client.retry_max_delay)
            * u32::try_from(client.max_attempts).unwrap_or(u32::MAX)
            + Duration::from_secs(1),
        authorization_validity: Duration::from_secs(args.authorization_validity_secs),
    }
}

fn delivery_settings(args: &WebhookArgs) -> DeliverySettings {
    DeliverySettings {
        schedule: args.webhook_retry_schedule.clone(),
        timeout: Duration::from_millis(args.webhook_timeout_ms),
        disable_after_ms: args.webhook_disable_after_secs.saturating_mul(1000),
        concurrency: usize::from(args.webhook_concurrency),
        endpoint_concurrency: usize::from(args.webhook_endpoint_concurrency),
        merchant_concurrency: usize::from(args.webhook_merchant_concurrency),
        ..DeliverySettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_defaults_match_the_documentation() {
        let c: BankWorkerConfig = PAYMENT_WORKER.try_parse(["payment-worker"]).unwrap();
        let r = runtime(&c.worker);
        assert_eq!(r.concurrency, 32);
        assert_eq!(r.wait, Duration::from_secs(10));
        assert_eq!((r.visibility, r.heartbeat), (Duration::from_secs(30), Duration::from_secs(10)));
        assert_eq!(r.grace, Duration::from_secs(20));
        assert_eq!(repair_after(&c.worker), Duration::from_secs(60));
        let window = bank_policy(&c.bank, &bank_client_config(&c.bank)).window;
        assert_eq!((window.key_ttl_ms, window.late_apply_ms), (86_400_000, 60_000));
    }
}
