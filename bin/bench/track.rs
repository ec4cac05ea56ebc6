//! Knowing when a run is final without asking the API (which would add its own AWS requests
//! to the counts): the sparse repair index GSI2 holds exactly the records that are not final,
//! so the run is final when its shards are empty. The final times are then read from the
//! records themselves (`UpdatedAt`, written by the worker in the write that makes them final).
use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::error::{BenchError, aws_code};
use payment_platform::dynamo::keys::{
    GSI2, PAYMENT_SK, PK, REFUND_SK_PREFIX, REPAIR_SHARDS, RepairKind, SK, repair_shard_pk,
};

/// A record's final state and when it was reached.
#[derive(Clone, Debug)]
pub struct Final {
    pub status: String,
    pub updated_ms: u64,
}

pub struct Tracker {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl Tracker {
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { dynamodb, table }
    }

    /// Whether any record of `kind` is not final (one small query per shard).
    async fn any_open(&self, kind: RepairKind) -> Result<bool, BenchError> {
        for shard in 0..REPAIR_SHARDS {
            let out = self
                .dynamodb
                .query()
                .table_name(&self.table)
                .index_name(GSI2)
                .key_condition_expression("GSI2PK = :pk")
                .expression_attribute_values(":pk", s(repair_shard_pk(kind, shard)))
                .limit(1)
                .send()
                .await
                .map_err(|e| BenchError::Aws { op: "Query GSI2", code: aws_code(&e) })?;
            if out.count > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Polls every `poll` until no record of `kind` is open; `false` if `within` ran out first.
    pub async fn wait_all_final(&self, kind: RepairKind, within: Duration, poll: Duration) -> Result<bool, BenchError> {
        let deadline = Instant::now() + within;
        loop {
            if !self.any_open(kind).await? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Status and `UpdatedAt` of payments (`sk` = `PAYMENT`) or refunds (`sk` = `REFUND#<id>`),
    /// by (payment id, sk), read consistently in batches of 100.
    pub async fn read(&self, keys: &[(String, String)]) -> Result<HashMap<(String, String), Final>, BenchError> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|(pid, sk)| HashMap::from([(PK.to_owned(), s(format!("PAY#{pid}"))), (SK.to_owned(), s(sk))]))
                .collect();
            let mut attempts = 0;
            while !pending.is_empty() {
                attempts += 1;
                if attempts > 20 {
                    return Err(BenchError::Unexpected("BatchGetItem kept leaving keys unprocessed".into()));
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .projection_expression("PK, SK, #s, UpdatedAt")
                    .expression_attribute_names("#s", "Status")
                    .build()
                    .map_err(|_| BenchError::Unexpected("bad BatchGetItem request".into()))?;
                let out = self
                    .dynamodb
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| BenchError::Aws { op: "BatchGetItem", code: aws_code(&e) })?;
                for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                    let pk = text(PK);
                    let pid = pk.strip_prefix("PAY#").unwrap_or(&pk).to_owned();
                    let updated_ms = item.get("UpdatedAt").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
                    found
                        .insert((pid, text(SK)), Final { status: text("Status"), updated_ms: updated_ms.unwrap_or(0) });
                }
                if let Some(left) = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    pending = left.keys;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Ok(found)
    }
}

/// The key of a payment record for [`Tracker::read`].
pub fn payment_key(id: &str) -> (String, String) {
    (id.to_owned(), PAYMENT_SK.to_owned())
}

/// The key of a refund record for [`Tracker::read`].
pub fn refund_key(payment_id: &str, refund_id: &str) -> (String, String) {
    (payment_id.to_owned(), format!("{REFUND_SK_PREFIX}{refund_id}"))
}
