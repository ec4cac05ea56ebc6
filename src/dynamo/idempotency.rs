//! Idempotency records: one item per (merchant, key), expiring through DynamoDB's TTL.
use super::DynamoStore;
use super::attrs::{Item, ItemBuilder, get_n, get_s, n, opt_s, s};
use super::error::classify;
use super::keys::*;
use crate::domain::idempotency::{
    IdempotencyClaim, IdempotencyKey, IdempotencyRecord, IdempotencyState, StoredResponse,
};
use crate::domain::ports::IdempotencyKeys;
use crate::domain::ports::StoreError;
use async_trait::async_trait;

#[async_trait]
impl IdempotencyKeys for DynamoStore {
    async fn get_idempotency(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(idempotency_pk(key)))
            .key(SK, s(IDEMPOTENCY_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let Some(item) = out.item else { return Ok(None) };
        let state = match get_s(&item, "State")? {
            DONE => IdempotencyState::Done(StoredResponse {
                status: get_n(&item, "ResponseStatus")? as u16,
                location: opt_s(&item, "ResponseLocation").map(str::to_owned),
                body: get_s(&item, "ResponseBody")?.to_owned(),
            }),
            _ => IdempotencyState::InProgress { locked_until_ms: get_n(&item, "LockedUntil")? },
        };
        Ok(Some(IdempotencyRecord {
            request_hash: get_s(&item, "RequestHash")?.to_owned(),
            resource_id: get_s(&item, "ResourceID")?.to_owned(),
            state,
        }))
    }

    async fn renew_idempotency(
        &self,
        key: &IdempotencyKey,
        seen_locked_until_ms: u64,
        locked_until_ms: u64,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(idempotency_pk(key)))
            .key(SK, s(IDEMPOTENCY_SK))
            .update_expression("SET LockedUntil = :new")
            .condition_expression("#st = :ip AND LockedUntil = :seen")
            .expression_attribute_names("#st", "State")
            .expression_attribute_values(":ip", s(IN_PROGRESS))
            .expression_attribute_values(":seen", n(seen_locked_until_ms))
            .expression_attribute_values(":new", n(locked_until_ms))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn complete_idempotency(&self, key: &IdempotencyKey, response: &StoredResponse) -> Result<(), StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(idempotency_pk(key)))
            .key(SK, s(IDEMPOTENCY_SK))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#st", "State")
            .expression_attribute_values(":done", s(DONE))
            .expression_attribute_values(":code", n(u64::from(response.status)))
            .expression_attribute_values(":body", s(&response.body));
        let mut expr = String::from("SET #st = :done, ResponseStatus = :code, ResponseBody = :body");
        if let Some(loc) = &response.location {
            expr.push_str(", ResponseLocation = :loc");
            req = req.expression_attribute_values(":loc", s(loc));
        }
        req.update_expression(expr).send().await.map(|_| ()).map_err(classify)
    }
}

const IN_PROGRESS: &str = "IN_PROGRESS";
const DONE: &str = "DONE";

impl DynamoStore {
    pub(super) fn claim_item(&self, c: &IdempotencyClaim) -> Item {
        let item = ItemBuilder::new()
            .set(PK, s(idempotency_pk(&c.key)))
            .set(SK, s(IDEMPOTENCY_SK))
            .set("MerchantID", s(c.key.merchant_id.as_str()))
            .set("RequestHash", s(&c.request_hash))
            .set("ResourceID", s(&c.resource_id))
            .set("LockedUntil", n(c.locked_until_ms))
            .set(TTL_ATTRIBUTE, n(c.expires_at_secs));
        match &c.response {
            None => item.set("State", s(IN_PROGRESS)).build(),
            Some(r) => {
                let item = item
                    .set("State", s(DONE))
                    .set("ResponseStatus", n(u64::from(r.status)))
                    .set("ResponseBody", s(&r.body));
                match &r.location {
                    Some(loc) => item.set("ResponseLocation", s(loc)).build(),
                    None => item.build(),
                }
            }
        }
    }
}
