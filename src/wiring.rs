//! Starting a service, in one place for every binary (api, payment-worker, refund-worker): build
//! the AWS clients, run SETUP if asked, open the secrets, and assemble the use cases' ports.
//! Tests build through here too, so what they run is wired as the binaries are.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::app::deliver::Webhooks;
use crate::app::{Services, SystemClock};
use crate::aws::{self, Clients};
use crate::bank_client::{self, BankClientConfig, BankClientError};
use crate::config::keys::{MIN_JWT_SECRET_BYTES, warn_unused};
use crate::config::{ApiConfig, AwsArgs, DEV_JWT_SECRET, SecretSetting, SettingError, VaultArgs};
use crate::domain::bank::Bank;
use crate::domain::ids::MerchantId;
use crate::domain::ports::{CardVault, QueueError, SecretVault, Stores};
use crate::dynamo::DynamoStore;
use crate::http::auth::{Auth, KnownMerchants, TokenIssuer, Verifier};
use crate::http::jwks::{JwksSettings, JwksVerifier};
use crate::http::rate::RateLimits;
use crate::http::{AppState, Settings, Shared};
use crate::setup::{self, SetupError};
use crate::sqs::SqsJobQueue;
use crate::vault::{AeadVault, HmacFingerprints, KeyError, NoKey};
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
    Setting(#[from] SettingError),
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

/// The keys a process holds, each binary only its own (README, "Who holds which key"): the
/// API seals cards and webhook secrets, the payment-worker opens cards, the webhook-worker
/// opens webhook secrets, the refund-worker holds none. What a process does not hold is
/// `NoKey`, which seals and opens nothing.
pub struct Vaults {
    pub cards: Arc<dyn CardVault>,
    pub secrets: Arc<dyn SecretVault>,
}

impl Vaults {
    pub fn none() -> Self {
        Self { cards: Arc::new(NoKey), secrets: Arc::new(NoKey) }
    }

    /// The vaults of the keys `cards` and `secrets` say this process holds.
    pub fn of(args: &VaultArgs, aws: &AwsArgs, cards: bool, secrets: bool) -> Result<Self, StartError> {
        let dev = aws.is_development();
        let mut vaults = Self::none();
        if cards {
            vaults.cards = Arc::new(aead(&args.cards(), dev)?);
        }
        if secrets {
            vaults.secrets = Arc::new(aead(&args.webhook_secrets(), dev)?);
        }
        Ok(vaults)
    }
}

fn aead(setting: &SecretSetting<'_>, development: bool) -> Result<AeadVault, StartError> {
    keyed(setting, development, AeadVault::new)
}

/// What `new` builds from `setting`'s current key and its previous ones, once the key passed
/// the production checks; a key that does not decode is named.
fn keyed<T>(
    setting: &SecretSetting<'_>,
    development: bool,
    new: impl FnOnce(&str, &[SecretString]) -> Result<T, KeyError>,
) -> Result<T, StartError> {
    let key = setting.resolve(development)?;
    new(key.expose_secret(), setting.previous).map_err(|_| SettingError::Invalid(setting.name).into())
}

/// The clients and the ports every service shares: DynamoDB behind every storage port, SQS
/// for jobs, the process's own keys, the system clock.
pub async fn services(aws: &AwsArgs, vaults: Vaults) -> Result<(Services, Clients), StartError> {
    let clients = aws::clients(aws).await;
    if aws.setup {
        setup::run(&clients, aws).await?;
    }
    let queue = SqsJobQueue::resolve(clients.sqs.clone(), aws).await?;
    let services = Services {
        store: Stores::all(Arc::new(DynamoStore::new(clients.dynamodb.clone(), aws.table.clone()))),
        queue: Arc::new(queue),
        cards: vaults.cards,
        secrets: vaults.secrets,
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
    let setting = SecretSetting {
        name: "JWT_SECRET_KEY",
        old_name: "JWT_OLD_SECRET_KEYS",
        current: &config.jwt_secret_key,
        previous: &config.jwt_old_secret_keys,
        dev_default: DEV_JWT_SECRET,
    };
    let secret = setting.resolve_at_least(config.aws.is_development(), MIN_JWT_SECRET_BYTES)?;
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

/// The API's state, ready to serve. Every setting is checked before anything is reached.
pub async fn api(config: &ApiConfig) -> Result<AppState, StartError> {
    let development = config.aws.is_development();
    config.check_production()?;
    let vaults = Vaults::of(&config.vault, &config.aws, true, true)?;
    let fingerprints = keyed(&config.fingerprints.setting(), development, HmacFingerprints::new)?;
    let verifier = verifier(config).await?;
    let (services, _) = services(&config.aws, vaults).await?;
    let token_issuance = config.token_issuance_on();
    if token_issuance && !development {
        tracing::warn!(
            "TOKEN_ISSUANCE=true outside development mode: GET /token hands out tokens for any registered merchant"
        );
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
            api_docs: config.api_docs_on(),
            development,
        }),
        fingerprints: Arc::new(fingerprints),
    }))
}

/// The worker of `kind`, ready to run.
pub async fn worker(kind: WorkerKind, config: &WorkerConfig) -> Result<Worker, StartError> {
    let vault = &config.vault;
    let (cards, secrets) = (kind == WorkerKind::Payment, kind == WorkerKind::Webhook);
    let vaults = Vaults::of(vault, &config.aws, cards, secrets)?;
    let set = |v: &Option<secrecy::SecretString>, old: &[secrecy::SecretString]| v.is_some() || !old.is_empty();
    warn_unused(
        kind.binary(),
        &[
            ("CARD_ENCRYPTION_KEY", !cards && set(&vault.card_encryption_key, &vault.card_encryption_old_keys)),
            ("WEBHOOK_SECRET_KEY", !secrets && set(&vault.webhook_secret_key, &vault.webhook_secret_old_keys)),
        ],
    );
    let mut bank_config = BankClientConfig::from(config.bank.clone());
    bank_config.allow_loopback_http = config.aws.is_development();
    // Built before anything is reached: a worker that cannot reach the bank safely (BANK_URL)
    // must not take payments off the queue. The webhook-worker calls no bank.
    let bank: Option<Arc<dyn Bank>> = match kind {
        WorkerKind::Webhook => None,
        _ => Some(Arc::new(bank_client::connect(&bank_config)?)),
    };
    let (mut services, clients) = services(&config.aws, vaults).await?;
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
            let bank = bank.expect("built above for the workers that call the bank");
            (Arc::new(ChargeHandler { services: services.clone(), bank }), stale())
        }
        WorkerKind::Refund => {
            let bank = bank.expect("built above for the workers that call the bank");
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
