//! A merchant's webhook endpoints, in the merchant's item collection. Updates are conditioned on
//! the endpoint's revision, so a rotation and a worker disabling the endpoint cannot undo each other.
//!
//! The cap (`MAX_ENDPOINTS`) is held by a count item beside the endpoints (`WEBHOOK_COUNT`):
//! every create writes the endpoint in one transaction with the count's increment, conditioned
//! on the count being under the cap, and every delete with its decrement, so racing creates can
//! never make a 17th. Endpoints from before the count existed are counted by a consistent Query
//! the first time a create or delete finds no count item; that first count is written only
//! where there is still none, so two first writers cannot both start from a stale number. Each
//! create and delete also recounts (creates and deletes are rare; a Query of at most 16 items)
//! and corrects a count that differs, conditioned on the count's revision as read, so a count
//! that drifted (an old replica's create or delete during the roll-out of this one) heals at the
//! next create or delete instead of holding a merchant under or over the cap for good.
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Select, TransactWriteItem, Update};

use super::DynamoStore;
use super::attrs::{Item, n, opt_n, s};
use super::error::classify;
use super::keys::*;
use super::webhook_items::{
    ENDPOINT_COUNT, ENDPOINT_COUNT_REVISION, ENDPOINT_COUNT_SK, endpoint_from_item, endpoint_item,
};
use crate::domain::ids::MerchantId;
use crate::domain::ports::{ConflictKind, StoreError, WebhookEndpoints};
use crate::domain::webhooks::{Endpoint, EndpointId, MAX_ENDPOINTS};

/// Rounds a create or delete tries while other writes of the merchant's count land first.
const COUNT_ROUNDS: u32 = 12;

/// What a recount found.
enum Recount {
    /// The count as read is right.
    Right,
    /// It was wrong and is corrected: read it again.
    Corrected,
    /// It changed since it was read (another create or delete): the read is stale.
    Moved,
}

/// What the transaction of an endpoint's write and its count's came to.
enum Counted {
    Done,
    /// The endpoint's condition failed (a create's id is taken; a delete's endpoint is gone).
    Endpoint,
    /// The count's condition failed: it moved since it was read.
    Count,
    /// A condition failed and the store did not say which (some emulators omit the reasons).
    Unknown,
    /// Another transaction on the same items was under way: nothing written, try again.
    Contended,
}

fn full() -> StoreError {
    StoreError::Conflict(ConflictKind::WrongState)
}

/// Before round `round` (from 0): nothing, then a jittered wait that doubles up to 0.64 s.
async fn pause(round: u32) {
    if round > 0 {
        let ceiling = 20u64 << round.min(5);
        tokio::time::sleep(Duration::from_millis(rand::random_range(ceiling / 4..ceiling))).await;
    }
}

impl DynamoStore {
    fn count_key(m: &MerchantId) -> Item {
        Item::from([(PK.to_owned(), s(merchant_pk(m))), (SK.to_owned(), s(ENDPOINT_COUNT_SK))])
    }

    /// The merchant's count as stored: (endpoints, revision), `None` before the first counted write.
    async fn read_count(&self, m: &MerchantId) -> Result<Option<(u64, u64)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::count_key(m)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let Some(item) = out.item else { return Ok(None) };
        let count = opt_n(&item, ENDPOINT_COUNT)?.unwrap_or(0);
        Ok(Some((count, opt_n(&item, ENDPOINT_COUNT_REVISION)?.unwrap_or(0))))
    }

    /// The merchant's endpoint items, counted by a consistent Query.
    async fn count_endpoints(&self, m: &MerchantId) -> Result<u64, StoreError> {
        let mut total = 0;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :w)")
                .expression_attribute_values(":pk", s(merchant_pk(m)))
                .expression_attribute_values(":w", s(ENDPOINT_SK_PREFIX))
                .select(Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            total += u64::try_from(out.count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }

    async fn endpoint_exists(&self, m: &MerchantId, id: EndpointId) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(merchant_pk(m)))
            .key(SK, s(endpoint_sk(id)))
            .projection_expression("PK")
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item.is_some_and(|i| !i.is_empty()))
    }

    /// The count's part of a transaction: one more or one fewer (`up`) on a count that exists,
    /// only while under the cap (or above zero).
    fn count_step(&self, m: &MerchantId, up: bool) -> Result<TransactWriteItem, StoreError> {
        let (sign, condition, bound) =
            if up { ("+", "#n < :bound", MAX_ENDPOINTS as u64) } else { ("-", "#n > :bound", 0) };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::count_key(m)))
            .update_expression(format!("SET #n = #n {sign} :one, #r = if_not_exists(#r, :zero) + :one"))
            .condition_expression(condition)
            .expression_attribute_names("#n", ENDPOINT_COUNT)
            .expression_attribute_names("#r", ENDPOINT_COUNT_REVISION)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":bound", n(bound))
            .build()
            .map_err(|_| StoreError::Permanent("bad update".into()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The count's first write (none exists yet): `count`, only where there is still none.
    fn count_first(&self, m: &MerchantId, count: u64) -> Result<TransactWriteItem, StoreError> {
        let mut item = Self::count_key(m);
        item.extend([(ENDPOINT_COUNT.to_owned(), n(count)), (ENDPOINT_COUNT_REVISION.to_owned(), n(1))]);
        self.put_if_absent(item)
    }

    /// The count as read (`seen` endpoints, at `revision`) checked against a consistent count of
    /// the endpoints, and set to it when they differ, only while still at `revision`: no counted
    /// write landed since the read, so the recount saw only what the count missed.
    async fn recount(&self, m: &MerchantId, seen: u64, revision: u64) -> Result<Recount, StoreError> {
        let actual = self.count_endpoints(m).await?;
        if actual == seen {
            return Ok(Recount::Right);
        }
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::count_key(m)))
            .update_expression("SET #n = :actual, #r = #r + :one")
            .condition_expression("#r = :seen")
            .expression_attribute_names("#n", ENDPOINT_COUNT)
            .expression_attribute_names("#r", ENDPOINT_COUNT_REVISION)
            .expression_attribute_values(":actual", n(actual))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":seen", n(revision))
            .send()
            .await
            .map_err(classify);
        match res {
            Ok(_) => {
                tracing::warn!(merchant = %m, counted = seen, actual, "webhook endpoint count corrected");
                Ok(Recount::Corrected)
            }
            Err(StoreError::Conflict(_)) => Ok(Recount::Moved),
            Err(StoreError::Transient(code)) if code == "TransactionConflictException" => Ok(Recount::Moved),
            Err(e) => Err(e),
        }
    }

    /// Writes an endpoint's action and its count's in one transaction.
    async fn counted(&self, endpoint: TransactWriteItem, count: TransactWriteItem) -> Result<Counted, StoreError> {
        let res = self.client.transact_write_items().transact_items(endpoint).transact_items(count).send().await;
        let Err(err) = res else { return Ok(Counted::Done) };
        if let SdkError::ServiceError(se) = &err
            && let TransactWriteItemsError::TransactionCanceledException(tc) = se.err()
        {
            let reasons = tc.cancellation_reasons();
            let code = |i: usize| reasons.get(i).and_then(|r| r.code());
            return Ok(match (code(0), code(1)) {
                (Some("ConditionalCheckFailed"), _) => Counted::Endpoint,
                (_, Some("ConditionalCheckFailed")) => Counted::Count,
                _ if reasons.is_empty() => Counted::Unknown,
                _ if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) => Counted::Contended,
                _ => return Err(StoreError::Transient("transaction cancelled".into())),
            });
        }
        Err(classify(err))
    }
}

#[async_trait]
impl WebhookEndpoints for DynamoStore {
    /// With its count's increment, while the merchant has fewer than `MAX_ENDPOINTS`: a full
    /// merchant is `Conflict(WrongState)`.
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let m = &endpoint.merchant_id;
        let cap = MAX_ENDPOINTS as u64;
        for round in 0..COUNT_ROUNDS {
            pause(round).await;
            let count = match self.read_count(m).await? {
                // A stale read is fine under the cap: the increment's condition is checked as it lands.
                Some((seen, revision)) => match self.recount(m, seen, revision).await? {
                    Recount::Corrected => continue,
                    Recount::Moved if seen >= cap => continue,
                    _ if seen >= cap => return Err(full()),
                    _ => self.count_step(m, true)?,
                },
                None => match self.count_endpoints(m).await? {
                    before if before >= cap => return Err(full()),
                    before => self.count_first(m, before + 1)?,
                },
            };
            match self.counted(self.put_if_absent(endpoint_item(endpoint))?, count).await? {
                Counted::Done => return Ok(()),
                Counted::Endpoint => return Err(StoreError::Conflict(ConflictKind::AlreadyExists)),
                Counted::Unknown if self.endpoint_exists(m, endpoint.id).await? => {
                    return Err(StoreError::Conflict(ConflictKind::AlreadyExists));
                }
                Counted::Unknown | Counted::Count | Counted::Contended => continue,
            }
        }
        Err(StoreError::Transient("the merchant's webhook endpoint count is contended".into()))
    }

    async fn update_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let next = Endpoint { revision: endpoint.revision + 1, ..endpoint.clone() };
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(endpoint_item(&next)))
            .condition_expression("Revision = :seen")
            .expression_attribute_values(":seen", n(endpoint.revision))
            .send()
            .await;
        match res.map_err(classify) {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict(_)) => {
                let still_there = self.endpoints(&endpoint.merchant_id).await?.iter().any(|e| e.id == endpoint.id);
                Err(if still_there { StoreError::Conflict(ConflictKind::Changed) } else { StoreError::NotFound })
            }
            Err(e) => Err(e),
        }
    }

    async fn endpoints(&self, merchant: &MerchantId) -> Result<Vec<Endpoint>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :w)")
            .expression_attribute_values(":pk", s(merchant_pk(merchant)))
            .expression_attribute_values(":w", s(ENDPOINT_SK_PREFIX))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let mut all = out.items().iter().map(endpoint_from_item).collect::<Result<Vec<_>, _>>()?;
        all.sort_by_key(|e| (e.created_ms, e.id));
        Ok(all)
    }

    /// With its count's decrement.
    async fn delete_endpoint(&self, merchant: &MerchantId, id: EndpointId) -> Result<bool, StoreError> {
        for round in 0..COUNT_ROUNDS {
            pause(round).await;
            let count = match self.read_count(merchant).await? {
                Some((seen, revision)) => match self.recount(merchant, seen, revision).await? {
                    Recount::Corrected => continue,
                    Recount::Moved if seen == 0 => continue,
                    _ if seen == 0 => return Ok(false),
                    _ => self.count_step(merchant, false)?,
                },
                None => match self.count_endpoints(merchant).await? {
                    0 => return Ok(false),
                    before => self.count_first(merchant, before - 1)?,
                },
            };
            let delete = Delete::builder()
                .table_name(&self.table)
                .key(PK, s(merchant_pk(merchant)))
                .key(SK, s(endpoint_sk(id)))
                .condition_expression("attribute_exists(PK)")
                .build()
                .map_err(|_| StoreError::Permanent("bad delete".into()))?;
            match self.counted(TransactWriteItem::builder().delete(delete).build(), count).await? {
                Counted::Done => return Ok(true),
                Counted::Endpoint => return Ok(false),
                Counted::Unknown if !self.endpoint_exists(merchant, id).await? => return Ok(false),
                Counted::Unknown | Counted::Count | Counted::Contended => continue,
            }
        }
        Err(StoreError::Transient("the merchant's webhook endpoint count is contended".into()))
    }
}
