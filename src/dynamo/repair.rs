//! The repair index: non-final records, by last touch, in a few shards of a sparse GSI.
use super::DynamoStore;
use super::attrs::{Item, get_parsed, s};
use super::error::classify;
use super::items::{BANK_FIRST_ATTEMPT, BANK_LAST_ATTEMPT};
use super::keys::*;
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::ports::RepairIndex;
use crate::domain::ports::StoreError;
use async_trait::async_trait;

#[async_trait]
impl RepairIndex for DynamoStore {
    async fn stale_payments(&self, older_than_ms: u64, limit: u32) -> Result<Vec<PaymentId>, StoreError> {
        let items = self.stale(RepairKind::Payment, older_than_ms, limit).await?;
        items.iter().map(|i| get_parsed(i, PK, |pk| PaymentId::parse(pk.trim_start_matches("PAY#")))).collect()
    }

    async fn stale_refunds(&self, older_than_ms: u64, limit: u32) -> Result<Vec<(PaymentId, RefundId)>, StoreError> {
        let items = self.stale(RepairKind::Refund, older_than_ms, limit).await?;
        items
            .iter()
            .map(|i| {
                let p = get_parsed(i, PK, |pk| PaymentId::parse(pk.trim_start_matches("PAY#")))?;
                let r = get_parsed(i, SK, |sk| RefundId::parse(sk.trim_start_matches(REFUND_SK_PREFIX)))?;
                Ok((p, r))
            })
            .collect()
    }

    async fn claim_stale(
        &self,
        payment: PaymentId,
        refund: Option<RefundId>,
        older_than_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let (sk, id) = match refund {
            Some(r) => (refund_sk(r), r.to_string()),
            None => (PAYMENT_SK.to_owned(), payment.to_string()),
        };
        self.claim_in_gsi2((payment_pk(payment), sk), older_than_ms, repair_sk(now_ms, &id)).await
    }

    async fn hold(&self, payment: PaymentId, refund: Option<RefundId>, now_ms: u64) -> Result<(), StoreError> {
        match self.touch(payment, refund, now_ms, None).await {
            // Final meanwhile: out of the index, nothing to hold.
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl DynamoStore {
    /// Moves a non-final record to the back of the repair index at `at_ms`; with `first_attempt`
    /// it notes a bank attempt at `at_ms` too (and `first_attempt` as the first, if none is noted).
    /// `Conflict` when the record is final or unknown.
    pub(super) async fn touch(
        &self,
        payment: PaymentId,
        refund: Option<RefundId>,
        at_ms: u64,
        first_attempt: Option<u64>,
    ) -> Result<(), StoreError> {
        let (sk, id) = match refund {
            Some(r) => (refund_sk(r), r.to_string()),
            None => (PAYMENT_SK.to_owned(), payment.to_string()),
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(payment_pk(payment)))
            .key(SK, s(sk))
            .update_expression("SET GSI2SK = :now")
            .condition_expression("attribute_exists(GSI2PK)")
            .expression_attribute_values(":now", s(repair_sk(at_ms, &id)));
        if let Some(first) = first_attempt {
            update = update
                .update_expression(format!(
                    "SET GSI2SK = :now, {BANK_LAST_ATTEMPT} = :at, \
                     {BANK_FIRST_ATTEMPT} = if_not_exists({BANK_FIRST_ATTEMPT}, :first)"
                ))
                .expression_attribute_values(":at", super::attrs::n(at_ms))
                .expression_attribute_values(":first", super::attrs::n(first));
        }
        update.send().await.map(|_| ()).map_err(classify)
    }
}

impl DynamoStore {
    /// Every item of `kind` last touched before `older_than_ms`, up to `limit` per shard.
    pub(super) async fn stale(
        &self,
        kind: RepairKind,
        older_than_ms: u64,
        limit: u32,
    ) -> Result<Vec<Item>, StoreError> {
        let shards = (0..REPAIR_SHARDS).map(|shard| repair_shard_pk(kind, shard));
        self.gsi2_shards(shards, Some(&format!("{older_than_ms:013}")), limit).await
    }

    /// Moves an item of a GSI2 index to `new_sk`, if it is in the index below `older_than_ms`
    /// (the repair index's and the due-time index's keys both start with 13 digits of ms): a
    /// claim only one of several racing claimers wins (`true`).
    pub(super) async fn claim_in_gsi2(
        &self,
        (pk, sk): (String, String),
        older_than_ms: u64,
        new_sk: String,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET GSI2SK = :now")
            .condition_expression("attribute_exists(GSI2PK) AND GSI2SK < :cut")
            .expression_attribute_values(":now", s(new_sk))
            .expression_attribute_values(":cut", s(format!("{older_than_ms:013}")))
            .send()
            .await;
        match res.map_err(classify) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The first `limit` items (by `GSI2SK`) of each of the GSI2 partitions `shards`, those below
    /// `below` only when given: one Query per shard, keys only.
    pub(super) async fn gsi2_shards(
        &self,
        shards: impl Iterator<Item = String>,
        below: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for pk in shards {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI2)
                .key_condition_expression("GSI2PK = :p")
                .expression_attribute_values(":p", s(pk))
                .limit(i32::try_from(limit).unwrap_or(i32::MAX));
            if let Some(cut) = below {
                query = query
                    .key_condition_expression("GSI2PK = :p AND GSI2SK < :cut")
                    .expression_attribute_values(":cut", s(cut));
            }
            found.extend(query.send().await.map_err(classify)?.items.unwrap_or_default());
        }
        Ok(found)
    }
}
