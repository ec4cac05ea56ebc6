//! The two read shapes more than one port needs: a partition read whole (a payment's item
//! collection, consistently), and a list's page from an index sorted by time, its `[gte, lt)`
//! range a key condition so a page reads only what it answers with.
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::DynamoStore;
use super::attrs::{Item, s};
use super::error::classify;
use crate::domain::ports::StoreError;
use crate::domain::search::time_bounds;

/// Where a list reads: an index, and the partition it reads in it.
pub struct ListIndex<'a> {
    pub name: &'static str,
    pub pk_name: &'static str,
    pub sk_name: &'static str,
    pub pk: &'a str,
}

impl DynamoStore {
    /// Every item of the partition `pk` whose sort key meets `sk_condition` (over `:sk`, e.g.
    /// `SK >= :sk`), read consistently, a page per MB.
    pub(super) async fn whole_partition(
        &self,
        pk: &str,
        sk_condition: &str,
        sk: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let (mut items, mut start) = (Vec::new(), None);
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("PK = :pk AND {sk_condition}"))
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":sk", s(sk))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// A Query of `at`, newest first, from `start`, reading `limit` items, its time range
    /// `[gte, lt)` (ms) a key condition on sort keys that start `<ms, 13 digits>#`.
    pub(super) fn newest_first(
        &self,
        at: &ListIndex<'_>,
        (gte, lt): (Option<u64>, Option<u64>),
        limit: i32,
        start: Option<Item>,
    ) -> QueryFluentBuilder {
        let (condition, bounds) = match time_bounds(gte, lt) {
            (None, None) => ("#pk = :pk", vec![]),
            (Some(from), None) => ("#pk = :pk AND #sk >= :from", vec![(":from", from)]),
            (None, Some(to)) => ("#pk = :pk AND #sk < :to", vec![(":to", to)]),
            (Some(from), Some(to)) => ("#pk = :pk AND #sk BETWEEN :from AND :to", vec![(":from", from), (":to", to)]),
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(at.name)
            .key_condition_expression(condition)
            .expression_attribute_names("#pk", at.pk_name)
            .expression_attribute_values(":pk", s(at.pk));
        if !bounds.is_empty() {
            query = query.expression_attribute_names("#sk", at.sk_name);
        }
        for (name, value) in bounds {
            query = query.expression_attribute_values(name, s(value));
        }
        query.scan_index_forward(false).limit(limit).set_exclusive_start_key(start)
    }
}
