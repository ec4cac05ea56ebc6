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
        Ok(out.item.as_ref().is_some_and(|item| !disabled(item.get("Disabled"))))
    }
}

/// A merchant is switched off by `Disabled` on its profile item (docs/OPERATIONS.md): a boolean
/// `true`, or the string `"true"` as a console or CLI edit may write it. Anything else leaves it on.
fn disabled(value: Option<&aws_sdk_dynamodb::types::AttributeValue>) -> bool {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    match value {
        Some(V::Bool(b)) => *b,
        Some(V::S(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue as V;

    #[test]
    fn disabled_is_a_boolean_or_the_string_true() {
        assert!(super::disabled(Some(&V::Bool(true))));
        assert!(super::disabled(Some(&V::S("true".into()))));
        assert!(super::disabled(Some(&V::S(" TRUE ".into()))));
        assert!(!super::disabled(Some(&V::Bool(false))));
        assert!(!super::disabled(Some(&V::S("false".into()))));
        assert!(!super::disabled(None));
    }
}
