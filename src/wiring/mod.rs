//! Starting a service, in one place for every binary (`api.rs`: the API; `workers.rs`: the
//! payment-worker, the refund-worker and the webhook-worker): build the AWS clients, run SETUP if
//! asked, open the secrets, turn each binary's configuration (`crate::config`) into the settings
//! of the parts it runs, and assemble the use cases' ports. Tests build through here too, so what
//! they run is wired as the binaries are.
mod api;
mod workers;

pub use api::{api, conn_limits};
pub use workers::{payment_worker, refund_worker, webhook_worker};

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::app::{Services, SystemClock};
use crate::aws::{self, Clients};
use crate::bank_client::BankClientError;
use crate::config::{AwsArgs, SecretSetting, SettingError, VaultArgs};
use crate::domain::ports::{CardVault, QueueError, SecretVault, Stores};
use crate::dynamo::DynamoStore;
use crate::setup::{self, SetupError};
use crate::sqs::{QueueNames, SqsJobQueue};
use crate::vault::{AeadVault, KeyError, NoKey};
use crate::worker::RunError;

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
    #[error("the webhook HTTP client could not be built")]
    WebhookClient,
    #[error(transparent)]
    Worker(#[from] RunError),
    #[error(transparent)]
    Api(#[from] crate::http::RunError),
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
pub(crate) fn keyed<T>(
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
    let names =
        QueueNames { payments: &aws.payments_queue, refunds: &aws.refunds_queue, webhooks: &aws.webhooks_queue };
    let queue = SqsJobQueue::resolve(clients.sqs.clone(), names).await?;
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
