//! Idempotency records: one item per (merchant, key), expiring through DynamoDB's TTL.
use super::DynamoStore;
use super::attrs::{Item, ItemBuilder, get_n, get_s, n, opt_s, s};
use super::error::classify;
use super::keys::*;
use crate::domain::idempotency::{Accepted, IdempotencyClaim, IdempotencyKey, IdempotencyRecord, IdempotencyState};
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
            DONE => IdempotencyState::Done(answer_of(&item)?),
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

    async fn complete_idempotency(&self, key: &IdempotencyKey, response: &Accepted) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(idempotency_pk(key)))
            .key(SK, s(IDEMPOTENCY_SK))
            .condition_expression("attribute_exists(PK)")
            .update_expression(format!("SET #st = :done, {ANSWER} = :answer"))
            .expression_attribute_names("#st", "State")
            .expression_attribute_values(":done", s(DONE))
            .expression_attribute_values(":answer", s(answer_json(response)))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

const IN_PROGRESS: &str = "IN_PROGRESS";
const DONE: &str = "DONE";

impl DynamoStore {
    pub(super) fn claim_item(&self, c: &IdempotencyClaim) -> Item {
        let mut item = ItemBuilder::with_capacity(9);
        item.s(PK, idempotency_pk(&c.key))
            .s(SK, IDEMPOTENCY_SK)
            .s("MerchantID", c.key.merchant_id.as_str())
            .s("RequestHash", c.request_hash.as_str())
            .s("ResourceID", c.resource_id.as_str())
            .n("LockedUntil", c.locked_until_ms)
            .n(TTL_ATTRIBUTE, c.expires_at_secs);
        match &c.response {
            None => item.s("State", IN_PROGRESS),
            Some(answer) => item.s("State", DONE).s(ANSWER, answer_json(answer)),
        };
        item.build()
    }
}

/// The answer of a finished key, as JSON (`{"Kind":"Payment","PaymentID":...}`).
const ANSWER: &str = "Answer";

pub(super) fn answer_json(answer: &Accepted) -> String {
    serde_json::to_string(answer).expect("an answer serialises")
}

/// The answer of a finished key. Keys finished by earlier versions kept the rendered HTTP body
/// (`ResponseBody`) instead, for 48 hours at most: it names the same ids, so it is read back
/// into the same answer.
fn answer_of(item: &Item) -> Result<Accepted, StoreError> {
    let corrupt = || StoreError::Permanent("stored idempotency answer is not readable".into());
    if let Some(json) = opt_s(item, ANSWER) {
        return serde_json::from_str(json).map_err(|_| corrupt());
    }
    let body: serde_json::Value = serde_json::from_str(get_s(item, "ResponseBody")?).map_err(|_| corrupt())?;
    let legacy = match body.get("RefundID") {
        Some(_) => serde_json::json!({ "Kind": "Refund", "RefundID": body["RefundID"], "PaymentID": body["PaymentID"],
            "Amount": body["Amount"], "Currency": body["Currency"] }),
        None => serde_json::json!({ "Kind": "Payment", "PaymentID": body["paymentID"] }),
    };
    serde_json::from_value(legacy).map_err(|_| corrupt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{PaymentId, RefundId};
    use crate::domain::money::{Amount, Currency};

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), s(*v))).collect()
    }

    #[test]
    fn answers_round_trip_and_keys_finished_by_earlier_versions_read_the_same() {
        let payment = PaymentId::parse("6f1c8a7e-2b7d-4c1e-9a55-0d2f3b4c5d6e").unwrap();
        let refund = RefundId::parse("7a0b3c1e-2b7d-4c1e-9a55-0d2f3b4c5d6e").unwrap();
        let paid = Accepted::Payment { payment_id: payment };
        let refunded = Accepted::Refund {
            refund_id: refund,
            payment_id: payment,
            amount: Amount::parse(250).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
        };
        for answer in [&paid, &refunded] {
            assert_eq!(&answer_of(&item(&[(ANSWER, &answer_json(answer))])).unwrap(), answer);
        }
        let old_payment = format!(r#"{{"Status":"PENDING","paymentID":"{payment}"}}"#);
        assert_eq!(answer_of(&item(&[("ResponseBody", &old_payment)])).unwrap(), paid);
        let old_refund = format!(
            r#"{{"Amount":250,"Currency":"EUR","PaymentID":"{payment}","RefundID":"{refund}","Status":"PENDING"}}"#
        );
        assert_eq!(answer_of(&item(&[("ResponseBody", &old_refund)])).unwrap(), refunded);
        assert!(answer_of(&item(&[("ResponseBody", "{}")])).is_err());
    }
}
