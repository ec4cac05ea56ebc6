//! Wiring the API from its configuration: shared by the binary and the test harness.
use std::sync::Arc;
use std::time::Duration;

use super::auth::TokenIssuer;
use super::{AppState, Settings};
use crate::app::{Services, SystemClock};
use crate::config::{ApiConfig, DEV_CARD_KEY, DEV_JWT_SECRET, secret_or_dev};
use crate::domain::ids::MerchantId;
use crate::dynamo::DynamoStore;
use crate::sqs::SqsJobQueue;
pub use crate::startup::StartError;
use crate::vault::AeadVault;
use crate::{aws, setup};

/// Builds the clients, runs SETUP if asked, and assembles the state the router serves.
pub async fn build(config: &ApiConfig) -> Result<AppState, StartError> {
    let clients = aws::clients(&config.aws).await;
    if config.aws.setup {
        setup::run(&clients, &config.aws).await?;
    }
    let card_key = secret_or_dev(&config.vault.card_encryption_key, "CARD_ENCRYPTION_KEY", DEV_CARD_KEY, &config.aws)?;
    let jwt_secret = secret_or_dev(&config.jwt_secret_key, "JWT_SECRET_KEY", DEV_JWT_SECRET, &config.aws)?;
    let queue =
        SqsJobQueue::resolve(clients.sqs.clone(), &config.aws.payments_queue, &config.aws.refunds_queue).await?;
    let services = Services {
        store: Arc::new(DynamoStore::new(clients.dynamodb.clone(), config.aws.table.clone())),
        queue: Arc::new(queue),
        vault: Arc::new(AeadVault::new(&card_key, &config.vault.card_encryption_old_keys)?),
        clock: Arc::new(SystemClock),
    };
    Ok(AppState {
        services,
        writes: tokio_util::task::TaskTracker::new(),
        tokens: Arc::new(
            TokenIssuer::new(&jwt_secret, &config.jwt_issuer, &config.jwt_audience, config.token_ttl_secs)
                .also_accepting(&config.jwt_old_secret_keys),
        ),
        settings: Arc::new(Settings {
            default_merchant: MerchantId::parse(&config.merchant_id).map_err(|_| StartError::Merchant)?,
            token_issuance: config.token_issuance,
            request_timeout: Duration::from_millis(config.request_timeout_ms),
            max_body_bytes: config.max_body_bytes,
            max_header_bytes: usize::try_from(config.max_header_bytes).unwrap_or(usize::MAX),
            conn: config.conn_limits(),
            base_url: config.base_url.clone(),
        }),
    })
}
