//! Refunds: the reservation that caps them at the price, and their transitions.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::DynamoStore;
use super::attrs::{n, s};
use super::items::*;
use super::keys::*;
use super::payments::{status_in, status_values};
use crate::domain::idempotency::IdempotencyClaim;
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::payment::{NewRefund, Refund, RefundOutcome};
use crate::domain::ports::Refunds;
use crate::domain::ports::{ConflictKind, StoreError};
use crate::domain::status::{PaymentStatus, RefundStatus};

#[async_trait]
impl Refunds for DynamoStore {
    /// The payment keeps `RefundableLeft` (price minus every refund that has not failed).
    /// DynamoDB conditions cannot add, so the cap is `RefundableLeft >= :amt` and the write
    /// subtracts: two concurrent refunds cannot both take the last of it.
    async fn insert_refund(&self, r: &NewRefund, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        let reserve = update(
            Update::builder()
                .table_name(&self.table)
                .key(PK, s(payment_pk(r.payment_id)))
                .key(SK, s(PAYMENT_SK))
                .update_expression(format!("SET {REFUNDABLE_LEFT} = {REFUNDABLE_LEFT} - :amt"))
                .condition_expression(format!(
                    "attribute_exists(PK) AND MerchantID = :m AND {REFUNDABLE_LEFT} >= :amt AND NOT (#s IN (:d, :f))"
                ))
                .expression_attribute_names("#s", STATUS)
                .expression_attribute_values(":amt", n(r.amount.get()))
                .expression_attribute_values(":m", s(r.merchant_id.as_str()))
                .expression_attribute_values(":d", s(PaymentStatus::Declined.as_str()))
                .expression_attribute_values(":f", s(PaymentStatus::Failed.as_str())),
        )?;
        let mut actions = Vec::new();
        let mut kinds = Vec::new();
        if let Some(claim) = claim {
            actions.push(self.put_if_absent(self.claim_item(claim))?);
            kinds.push(ConflictKind::IdempotencyKeyTaken);
        }
        actions.push(reserve);
        kinds.push(ConflictKind::InsufficientRefundable);
        actions.push(self.put_if_absent(new_refund_item(r))?);
        kinds.push(ConflictKind::AlreadyExists);
        self.transact(actions, &kinds).await
    }

    async fn start_refund(&self, payment: PaymentId, id: RefundId, now_ms: u64) -> Result<Refund, StoreError> {
        let to = RefundStatus::Processing;
        let from = to.allowed_from().iter().map(|s| s.as_str());
        let item = self
            .mark_processing(payment_pk(payment), refund_sk(id), &id.to_string(), to.as_str(), from, now_ms)
            .await?;
        refund_from_item(&item)
    }

    /// The refund's final state and its effect on the payment commit together or not at all,
    /// and the refund's state condition makes a duplicate settle a conflict, not a second effect.
    async fn settle_refund(&self, refund: &Refund, outcome: &RefundOutcome, now_ms: u64) -> Result<(), StoreError> {
        let (to, extra_set, extra) = match outcome {
            RefundOutcome::Succeeded { bank_refund_id } => {
                (RefundStatus::Succeeded, ", BankRefundID = :x", s(bank_refund_id))
            }
            RefundOutcome::Failed { reason } => (RefundStatus::Failed, ", Reason = :x", s(reason)),
        };
        let settle = update(
            Update::builder()
                .table_name(&self.table)
                .key(PK, s(payment_pk(refund.payment_id)))
                .key(SK, s(refund_sk(refund.id)))
                .update_expression(format!("SET #s = :to, UpdatedAt = :now{extra_set} REMOVE {GSI2PK}, {GSI2SK}"))
                .condition_expression(status_in(to.allowed_from().len()))
                .expression_attribute_names("#s", STATUS)
                .set_expression_attribute_values(Some(status_values(
                    to.allowed_from().iter().map(|s| s.as_str()),
                    [(":to", s(to.as_str())), (":now", n(now_ms)), (":x", extra)],
                ))),
        )?;
        let payment = Update::builder()
            .table_name(&self.table)
            .key(PK, s(payment_pk(refund.payment_id)))
            .key(SK, s(PAYMENT_SK))
            .expression_attribute_values(":amt", n(refund.amount.get()));
        let payment = match outcome {
            RefundOutcome::Succeeded { .. } => payment
                .update_expression(format!("ADD {REFUNDED_AMOUNT} :amt SET RefundTimestamp = :now"))
                .expression_attribute_values(":now", n(now_ms)),
            RefundOutcome::Failed { .. } => payment.update_expression(format!("ADD {REFUNDABLE_LEFT} :amt")),
        };
        self.transact(vec![settle, update(payment)?], &[ConflictKind::WrongState, ConflictKind::WrongState]).await
    }
}

fn update(b: aws_sdk_dynamodb::types::builders::UpdateBuilder) -> Result<TransactWriteItem, StoreError> {
    let u: Update = b.build().map_err(|_| StoreError::Permanent("bad update".into()))?;
    Ok(TransactWriteItem::builder().update(u).build())
}
