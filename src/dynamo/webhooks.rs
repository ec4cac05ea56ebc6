//! A merchant's webhook endpoints, in the merchant's item collection. Updates are conditioned on
//! the endpoint's revision, so a rotation and a worker disabling the endpoint cannot undo each other.
use async_trait::async_trait;

use super::DynamoStore;
use super::attrs::{n, s};
use super::error::classify;
use super::keys::*;
use super::webhook_items::{endpoint_from_item, endpoint_item};
use crate::domain::ids::MerchantId;
use crate::domain::ports::{ConflictKind, StoreError, WebhookEndpoints};
use crate::domain::webhooks::{Endpoint, EndpointId};

#[async_trait]
impl WebhookEndpoints for DynamoStore {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(endpoint_item(endpoint)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match res.map_err(classify) {
            Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(ConflictKind::AlreadyExists)),
            other => other.map(|_| ()),
        }
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

    async fn delete_endpoint(&self, merchant: &MerchantId, id: EndpointId) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(merchant_pk(merchant)))
            .key(SK, s(endpoint_sk(id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}
