//! `SETUP=true`: the table, the queues with their dead-letter queues, and the seeded merchants,
//! each created only if missing. Any binary may run it; it is safe to run twice or at once.
use crate::aws::Clients;
use crate::config::AwsArgs;
use crate::domain::ports::{QueueError, StoreError};
use crate::{dynamo, sqs};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("table set-up failed: {0}")]
    Table(#[from] StoreError),
    #[error("queue set-up failed: {0}")]
    Queue(#[from] QueueError),
}

pub async fn run(clients: &Clients, aws: &AwsArgs) -> Result<(), SetupError> {
    let created = dynamo::setup::ensure_table(&clients.dynamodb, &aws.table).await?;
    tracing::info!(table = %aws.table, created, "table ready");
    dynamo::setup::seed_merchants(&clients.dynamodb, &aws.table).await?;
    for queue in [&aws.payments_queue, &aws.refunds_queue, &aws.webhooks_queue] {
        let created = sqs::setup::ensure_queue(&clients.sqs, queue).await?;
        tracing::info!(%queue, created, "queue ready");
    }
    Ok(())
}
