//! The shared storage suite (`payment_platform::testing::store_suite`) on the DynamoDB adapter,
//! against the emulator: the same checks the unit tests run on the in-memory store.
use std::sync::Arc;

use payment_platform::domain::ports::Stores;
use payment_platform::dynamo::DynamoStore;
use payment_platform::testing::store_suite;

use super::support::app::unique_aws_args;

#[tokio::test]
async fn the_dynamodb_adapter_passes_the_shared_store_suite() {
    let aws = unique_aws_args();
    let clients = payment_platform::aws::clients(&aws).await;
    payment_platform::setup::run(&clients, &aws).await.expect("SETUP");
    let stores = Stores::all(Arc::new(DynamoStore::new(clients.dynamodb, aws.table)));
    store_suite::run(&stores).await;
}
