//! `SETUP=true`: creates the table if it is missing and seeds the test merchants. It never
//! deletes or changes what is there, so running it twice, or against a live table, is safe.
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

use super::attrs::s;
use super::error::classify;
use super::keys::*;
use crate::domain::ids::MerchantId;
use crate::domain::ports::StoreError;

/// The merchants `SETUP` seeds: the default one and a second for isolation tests.
pub const SEEDED_MERCHANTS: &[(&str, &str)] =
    &[("test@merchant", "Test Merchant"), ("other@merchant", "Other Merchant")];

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key schema")
}

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute definition")
}

/// The billing mode SETUP creates the table with. `infra/terraform/dynamodb.tf` declares the same
/// table; `tests/integration/infra_names.rs` checks that the two agree.
pub const BILLING_MODE: BillingMode = BillingMode::PayPerRequest;

/// One global secondary index as SETUP creates it.
pub struct IndexSpec {
    pub name: &'static str,
    pub hash_key: &'static str,
    pub range_key: &'static str,
    pub projection: ProjectionType,
}

/// GSI1 lists a merchant's payments and, under another key, its events, newest first; GSI2 is
/// the sparse repair index, keys only (the repair path reads nothing but PK and SK from it);
/// GSI3 lists a merchant's events of one type; GSI4, GSI5 and GSI6 list its payments by status,
/// by its own reference and by customer (`GET /payments` filters).
pub const INDEXES: [IndexSpec; 6] = [
    IndexSpec { name: GSI1, hash_key: GSI1PK, range_key: GSI1SK, projection: ProjectionType::All },
    IndexSpec { name: GSI2, hash_key: GSI2PK, range_key: GSI2SK, projection: ProjectionType::KeysOnly },
    IndexSpec { name: GSI3, hash_key: GSI3PK, range_key: GSI3SK, projection: ProjectionType::All },
    IndexSpec { name: GSI4, hash_key: GSI4PK, range_key: GSI4SK, projection: ProjectionType::All },
    IndexSpec { name: GSI5, hash_key: GSI5PK, range_key: GSI5SK, projection: ProjectionType::All },
    IndexSpec { name: GSI6, hash_key: GSI6PK, range_key: GSI6SK, projection: ProjectionType::All },
];

fn gsi(spec: &IndexSpec) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(spec.name)
        .key_schema(key(spec.hash_key, KeyType::Hash))
        .key_schema(key(spec.range_key, KeyType::Range))
        .projection(Projection::builder().projection_type(spec.projection.clone()).build())
        .build()
        .expect("index")
}

/// Creates the table (with its indexes and TTL) if it does not exist, or adds the indexes an
/// older table lacks. Returns true if it created the table.
pub async fn ensure_table(client: &Client, table: &str) -> Result<bool, StoreError> {
    match client.describe_table().table_name(table).send().await {
        Ok(out) => {
            let have: Vec<&str> = out
                .table()
                .map(|t| t.global_secondary_indexes().iter().filter_map(|i| i.index_name()).collect())
                .unwrap_or_default();
            for spec in INDEXES.iter().filter(|spec| !have.contains(&spec.name)) {
                add_index(client, table, spec).await?;
            }
            return Ok(false);
        }
        Err(e) if e.code() == Some("ResourceNotFoundException") => {}
        Err(e) => return Err(classify(e)),
    }
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BILLING_MODE)
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range))
        .set_attribute_definitions(Some(
            [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK, GSI4PK, GSI4SK, GSI5PK, GSI5SK, GSI6PK, GSI6SK]
                .map(attr)
                .to_vec(),
        ))
        .set_global_secondary_indexes(Some(INDEXES.iter().map(gsi).collect()))
        .send()
        .await;
    match created {
        Ok(_) => {}
        // Another process created it between our describe and create: fine.
        Err(e) if e.code() == Some("ResourceInUseException") => return Ok(false),
        Err(e) => return Err(classify(e)),
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(Duration::from_secs(120))
        .await
        .map_err(|_| StoreError::Transient("table did not become active".into()))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name(TTL_ATTRIBUTE).enabled(true).build().expect("ttl"),
        )
        .send()
        .await
        .map_err(classify)?;
    Ok(true)
}

/// Adds `spec` to an existing table (one made before the index existed) and waits until it is
/// active, so the queries that use it work once SETUP is done.
async fn add_index(client: &Client, table: &str, spec: &IndexSpec) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{CreateGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate, IndexStatus};
    tracing::warn!(index = spec.name, "the table lacks an index; adding it");
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(spec.name)
        .key_schema(key(spec.hash_key, KeyType::Hash))
        .key_schema(key(spec.range_key, KeyType::Range))
        .projection(Projection::builder().projection_type(spec.projection.clone()).build())
        .build()
        .expect("index");
    let res = client
        .update_table()
        .table_name(table)
        .set_attribute_definitions(Some(vec![attr(spec.hash_key), attr(spec.range_key)]))
        .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
        .send()
        .await;
    match res {
        Ok(_) => {}
        // Another process is adding it (or just did): wait for it below.
        Err(e) if matches!(e.code(), Some("ResourceInUseException" | "ValidationException")) => {}
        Err(e) => return Err(classify(e)),
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let out = client.describe_table().table_name(table).send().await.map_err(classify)?;
        let status = out
            .table()
            .and_then(|t| t.global_secondary_indexes().iter().find(|i| i.index_name() == Some(spec.name)))
            .and_then(|i| i.index_status().cloned());
        if status == Some(IndexStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(StoreError::Transient(format!("index {} did not become active", spec.name)));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Writes each seeded merchant unless it exists.
pub async fn seed_merchants(client: &Client, table: &str) -> Result<(), StoreError> {
    for (id, name) in SEEDED_MERCHANTS {
        let id = MerchantId::parse(id).expect("seeded merchant ids are valid");
        let res = client
            .put_item()
            .table_name(table)
            .item(PK, s(merchant_pk(&id)))
            .item(SK, s(MERCHANT_SK))
            .item("MerchantID", s(id.as_str()))
            .item("Name", s(*name))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match res.map_err(classify) {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
