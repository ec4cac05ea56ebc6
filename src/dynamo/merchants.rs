//! The merchants known to the platform: one profile item each, seeded by SETUP.
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
            .projection_expression("PK")
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item.is_some())
    }
}
