//! Payments: insert (with an idempotency claim), read, list, and the worker's transitions.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use super::DynamoStore;
use super::attrs::{Item, n, s};
use super::error::{classify, classify_transaction};
use super::items::*;
use super::keys::*;
use crate::domain::idempotency::IdempotencyClaim;
use crate::domain::ids::{MerchantId, PaymentId};
use crate::domain::payment::{ListPosition, NewPayment, Payment, PaymentOutcome, PaymentView};
use crate::domain::ports::Payments;
use crate::domain::ports::{ConflictKind, PaymentPage, StoreError};
use crate::domain::status::PaymentStatus;

#[async_trait]
impl Payments for DynamoStore {
    async fn insert_payment(&self, p: &NewPayment, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        let item = new_payment_item(p);
        let Some(claim) = claim else {
            return self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| match classify(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(ConflictKind::AlreadyExists),
                    other => other,
                });
        };
        let actions = vec![self.put_if_absent(self.claim_item(claim))?, self.put_if_absent(item)?];
        self.transact(actions, &[ConflictKind::IdempotencyKeyTaken, ConflictKind::AlreadyExists]).await
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError> {
        let mut payment = None;
        let mut refunds = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(payment_pk(id)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            for item in out.items() {
                match item.get(SK).and_then(|v| v.as_s().ok()).map(String::as_str) {
                    Some(PAYMENT_SK) => payment = Some(payment_from_item(item)?),
                    Some(sk) if sk.starts_with(REFUND_SK_PREFIX) => refunds.push(refund_from_item(item)?),
                    _ => {}
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        refunds.sort_by_key(|r| (r.created_at_ms, r.id.to_string()));
        Ok(payment.map(|payment| PaymentView { payment, refunds }))
    }

    async fn list_payments(
        &self,
        merchant: &MerchantId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PaymentPage, StoreError> {
        let gsi_pk = merchant_pk(merchant);
        let start = cursor.map(|c| decode_cursor(c, &gsi_pk)).transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :m")
            .expression_attribute_values(":m", s(&gsi_pk))
            .scan_index_forward(false)
            // One more than asked: whether a next page exists is known without a second query,
            // so a page that is exactly full does not hand out a cursor to an empty page.
            .limit(i32::try_from(limit).unwrap_or(i32::MAX - 1).saturating_add(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let mut payments = out.items().iter().map(payment_from_item).collect::<Result<Vec<_>, _>>()?;
        // More exists if the extra item came, or if DynamoDB stopped early (1 MB per query).
        let more = payments.len() > limit as usize || out.last_evaluated_key.is_some();
        payments.truncate(limit as usize);
        let next_cursor = if more { payments.last().map(encode_cursor) } else { None };
        Ok(PaymentPage { payments, next_cursor })
    }

    async fn start_payment(&self, id: PaymentId, now_ms: u64) -> Result<Payment, StoreError> {
        let to = PaymentStatus::Processing;
        let from = to.allowed_from().iter().map(|s| s.as_str());
        let item = self
            .mark_processing(payment_pk(id), PAYMENT_SK.to_owned(), &id.to_string(), to.as_str(), from, now_ms)
            .await?;
        payment_from_item(&item)
    }

    async fn settle_payment(
        &self,
        id: PaymentId,
        outcome: &PaymentOutcome,
        now_ms: u64,
    ) -> Result<Payment, StoreError> {
        let to = outcome.status();
        let (extra_set, extra) = match outcome {
            PaymentOutcome::Succeeded { bank_charge_id } => (", BankChargeID = :x", s(bank_charge_id)),
            PaymentOutcome::Declined { reason } | PaymentOutcome::Failed { reason } => (", Reason = :x", s(reason)),
        };
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(payment_pk(id)))
            .key(SK, s(PAYMENT_SK))
            .update_expression(format!("SET #s = :to, UpdatedAt = :now{extra_set} REMOVE {CARD}, {GSI2PK}, {GSI2SK}"))
            .set_condition_expression(Some(format!("attribute_exists(PK) AND {}", status_in(to.allowed_from().len()))))
            .expression_attribute_names("#s", STATUS)
            .set_expression_attribute_values(Some(status_values(
                to.allowed_from().iter().map(|s| s.as_str()),
                [(":to", s(to.as_str())), (":now", n(now_ms)), (":x", extra)],
            )))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        payment_from_item(out.attributes().ok_or(StoreError::NotFound)?)
    }
}

impl DynamoStore {
    pub(super) fn put_if_absent(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|_| StoreError::Permanent("bad put".into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a transaction; a failed condition on action `i` becomes `Conflict(kinds[i])`.
    pub(super) async fn transact(
        &self,
        actions: Vec<TransactWriteItem>,
        kinds: &[ConflictKind],
    ) -> Result<(), StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(actions)).send().await {
            Ok(_) => Ok(()),
            Err(e) => match classify_transaction(e)? {
                Some(i) => Err(StoreError::Conflict(kinds.get(i).copied().unwrap_or(ConflictKind::WrongState))),
                None => Err(StoreError::Conflict(ConflictKind::WrongState)),
            },
        }
    }

    /// Moves a payment or refund item to `to` (PROCESSING) from one of `from`, bumping its repair-index
    /// timestamp so the repair path leaves it alone while a worker holds it; returns the new item.
    pub(super) async fn mark_processing<'a>(
        &self,
        pk: String,
        sk: String,
        id: &str,
        to: &str,
        from: impl ExactSizeIterator<Item = &'a str>,
        now_ms: u64,
    ) -> Result<Item, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET #s = :to, UpdatedAt = :now, GSI2SK = :rsk")
            .set_condition_expression(Some(format!("attribute_exists(PK) AND {}", status_in(from.len()))))
            .expression_attribute_names("#s", STATUS)
            .set_expression_attribute_values(Some(status_values(
                from,
                [(":to", s(to)), (":now", n(now_ms)), (":rsk", s(repair_sk(now_ms, id)))],
            )))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        out.attributes.ok_or(StoreError::NotFound)
    }
}

/// `#s IN (:f0, :f1, ...)` for `count` allowed source states.
pub(super) fn status_in(count: usize) -> String {
    let names: Vec<String> = (0..count).map(|i| format!(":f{i}")).collect();
    format!("#s IN ({})", names.join(", "))
}

pub(super) fn status_values<'a, const K: usize>(
    from: impl Iterator<Item = &'a str>,
    extra: [(&str, AttributeValue); K],
) -> std::collections::HashMap<String, AttributeValue> {
    let mut values: std::collections::HashMap<String, AttributeValue> =
        from.enumerate().map(|(i, f)| (format!(":f{i}"), s(f))).collect();
    values.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    values
}

/// The cursor names the last payment of the page; the merchant comes from the caller's token,
/// never from the cursor, so a cursor cannot page through another merchant's payments.
fn encode_cursor(last: &Payment) -> String {
    B64.encode(list_sort_key(last.created_at_ms, last.id))
}

fn decode_cursor(cursor: &str, gsi_pk: &str) -> Result<Item, StoreError> {
    let raw = B64.decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
    let sort_key = String::from_utf8(raw).map_err(|_| StoreError::InvalidCursor)?;
    let at = ListPosition::parse(&sort_key).ok_or(StoreError::InvalidCursor)?;
    Ok(Item::from([
        (PK.to_owned(), s(payment_pk(at.id))),
        (SK.to_owned(), s(PAYMENT_SK)),
        (GSI1PK.to_owned(), s(gsi_pk)),
        (GSI1SK.to_owned(), s(sort_key)),
    ]))
}
