//! Starting a service, in one place for every binary (api, payment-worker, refund-worker): build
//! the AWS clients, run SETUP if asked, open the secrets, and assemble the use cases' ports.
//! Tests build through here too, so what they run is wired as the binaries are.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;

use crate::app::deliver::Webhooks;
use crate::app::{Services, SystemClock};
use crate::aws::{self, Clients};
use crate::bank_client::{self, BankClientConfig, BankClientError};
use crate::config::{ApiConfig, AwsArgs, DEV_CARD_KEY, DEV_JWT_SECRET, MissingSecret, VaultArgs, secret_or_dev};
use crate::domain::bank::Bank;
use crate::domain::ids::MerchantId;
use crate::domain::ports::{QueueError, Stores};
use crate::dynamo::DynamoStore;
use crate::http::auth::{Auth, KnownMerchants, TokenIssuer, Verifier};
use crate::http::jwks::{JwksSettings, JwksVerifier};
use crate::http::rate::RateLimits;
use crate::http::{AppState, Settings, Shared};
use crate::setup::{self, SetupError};
use crate::sqs::SqsJobQueue;
use crate::vault::{AeadVault, KeyError};
use crate::webhooks::HttpWebhookSender;
use crate::worker::{ChargeHandler, DeliverHandler, JobHandler, RefundHandler, SqsWorkQueue, WorkerStats};
use crate::worker::{RepairPass, StaleRecords, WebhookSweep};
use crate::worker::{Worker, WorkerConfig, WorkerKind};

/// Why a binary could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Secret(#[from] MissingSecret),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Bank(#[from] BankClientError),
    #[error("resolving queue URLs failed ({0}); run with SETUP=true to create the queues and their DLQs")]
    Queues(#[from] QueueError),
    #[error("MERCHANT_ID is not a valid merchant id")]
    Merchant,
    #[error("JWT_JWKS_URL must be an https URL (http only on 127.0.0.1 or localhost), not {0:?}")]
    JwksUrl(String),
    #[error("binding {addr} failed")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the webhook HTTP client could not be built")]
    WebhookClient,
    #[error("the health endpoint failed")]
    Health(#[source] std::io::Error),
}

/// The clients and the ports every service shares: DynamoDB behind every storage port, SQS
/// for jobs, the card vault, the system clock.
pub async fn services(aws: &AwsArgs, vault: &VaultArgs) -> Result<(Services, Clients), StartError> {
    let clients = aws::clients(aws).await;
    if aws.setup {
        setup::run(&clients, aws).await?;
    }
    let card_key = secret_or_dev(&vault.card_encryption_key, "CARD_ENCRYPTION_KEY", DEV_CARD_KEY, aws)?;
    let queue = SqsJobQueue::resolve(clients.sqs.clone(), aws).await?;
    let services = Services {
        store: Stores::all(Arc::new(DynamoStore::new(clients.dynamodb.clone(), aws.table.clone()))),
        queue: Arc::new(queue),
        vault: Arc::new(AeadVault::new(card_key.expose_secret(), &vault.card_encryption_old_keys)?),
        clock: Arc::new(SystemClock),
        traces: Arc::new(crate::telemetry::propagation::SpanTraces),
        bank_policy: crate::app::BankPolicy::default(),
        presence: Arc::default(),
    };
    Ok((services, clients))
}

/// How the API verifies tokens: an identity provider's JWKS when `JWT_JWKS_URL` is set, else
/// HS256 with `JWT_SECRET_KEY` (required then, but on the emulator).
async fn verifier(config: &ApiConfig) -> Result<Verifier, StartError> {
    if let Some(url) = &config.jwt_jwks_url {
        if !jwks_url_is_safe(url) {
            return Err(StartError::JwksUrl(url.clone()));
        }
        let jwks = JwksVerifier::new(JwksSettings {
            url: url.clone(),
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            merchant_claim: config.jwt_merchant_claim.clone(),
        });
        jwks.prefetch().await;
        return Ok(Verifier::Jwks(jwks));
    }
    let secret = secret_or_dev(&config.jwt_secret_key, "JWT_SECRET_KEY", DEV_JWT_SECRET, &config.aws)?;
    let issuer =
        TokenIssuer::new(secret.expose_secret(), &config.jwt_issuer, &config.jwt_audience, config.token_ttl_secs);
    Ok(Verifier::Hs256(issuer.also_accepting(&config.jwt_old_secret_keys)))
}

/// Keys that decide who may pay are fetched over TLS; plain http only from this machine (tests,
/// a local identity provider).
fn jwks_url_is_safe(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else { return false };
    match parsed.scheme() {
        "https" => true,
        "http" => matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        _ => false,
    }
}

/// The API's state, ready to serve.
pub async fn api(config: &ApiConfig) -> Result<AppState, StartError> {
    let verifier = verifier(config).await?;
    let (services, _) = services(&config.aws, &config.vault).await?;
    let token_issuance = config.token_issuance_on();
    if token_issuance && !config.aws.is_emulator() {
        tracing::warn!("TOKEN_ISSUANCE=true against real AWS: GET /token hands out tokens for any registered merchant");
    }
    Ok(AppState::new(Shared {
        services,
        writes: tokio_util::task::TaskTracker::new(),
        auth: Arc::new(Auth {
            verifier,
            verified: Default::default(),
            merchants: KnownMerchants::new(Duration::from_secs(config.merchant_cache_secs)),
            limits: RateLimits::new(config.rate_limit_reads_per_sec, config.rate_limit_writes_per_sec),
        }),
        settings: Arc::new(Settings {
            default_merchant: MerchantId::parse(&config.merchant_id).map_err(|_| StartError::Merchant)?,
            token_issuance,
            request_timeout: Duration::from_millis(config.request_timeout_ms),
            max_body_bytes: config.max_body_bytes,
            max_header_bytes: usize::try_from(config.max_header_bytes).unwrap_or(usize::MAX),
            conn: config.conn_limits(),
            base_url: config.base_url.clone(),
            webhook_allow_private: config.webhook_urls.allow_private(&config.aws),
        }),
    }))
}

/// The worker of `kind`, ready to run.
pub async fn worker(kind: WorkerKind, config: &WorkerConfig) -> Result<Worker, StartError> {
    let (mut services, clients) = services(&config.aws, &config.vault).await?;
    let bank_config = BankClientConfig::from(config.bank.clone());
    services.bank_policy = crate::app::BankPolicy {
        window: config.bank.window(),
        rounds: bank_config.max_attempts,
        min_delay: bank_config.retry_min_delay,
        max_delay: bank_config.retry_max_delay,
        // A noted attempt's request may go out after refused connections are retried (each
        // attempt bounded by its timeout, then a delay), plus a second of clock skew.
        send_slack: (bank_config.attempt_timeout + bank_config.retry_max_delay)
            * u32::try_from(bank_config.max_attempts).unwrap_or(u32::MAX)
            + std::time::Duration::from_secs(1),
    };
    let stale = || -> Arc<dyn RepairPass> {
        Arc::new(StaleRecords { services: services.clone(), kind, after: config.repair_after() })
    };
    let (handler, repair): (Arc<dyn JobHandler>, Arc<dyn RepairPass>) = match kind {
        WorkerKind::Payment => {
            let bank: Arc<dyn Bank> = Arc::new(bank_client::connect(&bank_config)?);
            (Arc::new(ChargeHandler { services: services.clone(), bank }), stale())
        }
        WorkerKind::Refund => {
            let bank: Arc<dyn Bank> = Arc::new(bank_client::connect(&bank_config)?);
            (Arc::new(RefundHandler { services: services.clone(), bank }), stale())
        }
        WorkerKind::Webhook => {
            let settings = config.webhooks.settings();
            let sender = HttpWebhookSender::new(settings.timeout, config.webhooks.urls.allow_private(&config.aws))
                .map_err(|_| StartError::WebhookClient)?;
            let webhooks = Arc::new(Webhooks::new(services.clone(), Arc::new(sender), settings));
            let sweep = WebhookSweep { webhooks: Arc::clone(&webhooks), grace: config.repair_after() };
            (Arc::new(DeliverHandler { webhooks }), Arc::new(sweep))
        }
    };
    let queue = SqsWorkQueue::resolve(clients.sqs, kind.queue(&config.aws)).await?;
    Ok(Worker {
        kind,
        services,
        handler,
        queue: Arc::new(queue),
        runtime: config.runtime(),
        repair,
        repair_every: config.repair_interval(),
        stats: Arc::new(WorkerStats::default()),
    })
}

#[cfg(test)]
mod tests {
    use super::jwks_url_is_safe;

    #[test]
    fn the_jwks_is_fetched_over_tls_but_from_this_machine() {
        assert!(jwks_url_is_safe("https://cognito-idp.eu-west-1.amazonaws.com/pool/.well-known/jwks.json"));
        assert!(jwks_url_is_safe("http://127.0.0.1:4000/.well-known/jwks.json"));
        assert!(!jwks_url_is_safe("http://idp.example.com/.well-known/jwks.json"));
        assert!(!jwks_url_is_safe("file:///etc/jwks.json"));
        assert!(!jwks_url_is_safe("not a url"));
    }
}
