//! The platform's side of a reconciliation: every payment created in a time range, with its
//! refunds. An operator's batch read (`reconcile`), so a Scan of the table (filtered, paged), not
//! a request path: no route of the API ever scans.
use std::collections::{HashMap, HashSet};

use super::DynamoStore;
use super::attrs::{Item, n, s};
use super::error::classify;
use super::items::{Record, record_from_item};
use super::keys::*;
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::payment::{PaymentView, Refund};
use crate::domain::ports::StoreError;

impl DynamoStore {
    /// The payments created in `from_ms..=to_ms`, each with its refunds (oldest first), and the
    /// id of every refund in the table (a refund in the range may belong to an older payment).
    pub async fn payments_created_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<(Vec<PaymentView>, HashSet<RefundId>), StoreError> {
        let mut payments = Vec::new();
        let mut refunds: HashMap<PaymentId, Vec<Refund>> = HashMap::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("(SK = :p AND CreatedAt BETWEEN :from AND :to) OR begins_with(SK, :r)")
                .expression_attribute_values(":p", s(PAYMENT_SK))
                .expression_attribute_values(":r", s(REFUND_SK_PREFIX))
                .expression_attribute_values(":from", n(from_ms))
                .expression_attribute_values(":to", n(to_ms))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            for item in out.items() {
                match record_from_item(item)? {
                    Some(Record::Payment(p)) => payments.push(*p),
                    Some(Record::Refund(r)) => refunds.entry(r.payment_id).or_default().push(r),
                    Some(Record::Card(_)) | None => {}
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        payments.sort_by_key(|p| (p.created_at_ms, p.id.to_string()));
        let every_refund = refunds.values().flatten().map(|r| r.id).collect();
        let views = payments
            .into_iter()
            .map(|payment| {
                let mut refunds = refunds.remove(&payment.id).unwrap_or_default();
                refunds.sort_by_key(|r| (r.created_at_ms, r.id.to_string()));
                PaymentView { payment, refunds }
            })
            .collect();
        Ok((views, every_refund))
    }
}
