//! The merchants known to the platform: one profile item each, seeded by SETUP; a profile with
//! `Disabled = true` is known but refused.
use async_trait::async_trait;

use super::DynamoStore;
use super::attrs::s;
use super::error::classify;
use super::keys::*;
use crate::domain::ids::MerchantId;
use crate::domain::ports::{Merchants, StoreError};

#[async_trait]
impl Merchants for DynamoStore {
    async fn merchant_exists(&self, m: &MerchantId) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(merchant_pk(m)))
            .key(SK, s(MERCHANT_SK))
            .projection_expression("PK, Disabled")
            .send()
            .await
            .map_err(classify)?;
        // A merchant is switched off by `Disabled = true` on its profile item (docs/OPERATIONS.md).
        let disabled = |item: &super::attrs::Item| item.get("Disabled").and_then(|v| v.as_bool().ok()).copied();
        Ok(out.item.as_ref().is_some_and(|item| disabled(item) != Some(true)))
    }
}
