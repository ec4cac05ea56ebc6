//! The two read shapes more than one port needs: a partition read whole (a payment's item
//! collection, consistently), and a list's page from an index sorted by time, its `[gte, lt)`
//! range a key condition so a page reads only what it answers with; and how a time range and a
//! page's cursor meet the sort keys (`<ms, 13 digits>#...`) those indexes hold.
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::DynamoStore;
use super::attrs::{Item, s};
use super::error::classify;
use crate::domain::ports::StoreError;

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

/// The key bounds of a `[gte, lt)` time range over sort keys that start `<ms, 13 digits>#`:
/// `<ms>` alone sorts before every `<ms>#...`, so `>= gte` keeps the items of `gte` and
/// `< lt` (or BETWEEN's upper end) leaves those of `lt` out.
/// Times past 13 digits (the year 2286) are taken as the largest 13-digit one, so their keys
/// still compare as numbers do.
pub fn time_bounds(gte: Option<u64>, lt: Option<u64>) -> (Option<String>, Option<String>) {
    let key = |t: u64| format!("{:013}", t.min(MAX_KEY_MS));
    (gte.map(key), lt.map(key))
}

/// Where a page's cursor (a sort key `<ms>#...`, the last item of the previous page, newest
/// first) falls against a time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorFit {
    /// Inside the range: the next page starts after it.
    Within,
    /// At or past the range's end (`lt`): everything in the range is older, start at its end.
    After,
    /// Before the range's start (`gte`), or the range is empty: nothing is left.
    Exhausted,
}

/// Where `position` (a sort key) falls against `[gte, lt)`; `None` without a position.
pub fn cursor_fit(position: Option<&str>, gte: Option<u64>, lt: Option<u64>) -> Option<CursorFit> {
    let (from, to) = time_bounds(gte, lt);
    if let (Some(f), Some(t)) = (&from, &to)
        && f >= t
    {
        return Some(CursorFit::Exhausted);
    }
    let position = position?;
    Some(if from.is_some_and(|f| position < f.as_str()) {
        CursorFit::Exhausted
    } else if to.is_some_and(|t| position >= t.as_str()) {
        CursorFit::After
    } else {
        CursorFit::Within
    })
}

/// The largest time a 13-digit key holds.
const MAX_KEY_MS: u64 = 9_999_999_999_999;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_sort_as_the_times_do_even_past_13_digits() {
        let (gte, lt) = time_bounds(Some(5), Some(10_000_000_000_000));
        assert_eq!(gte.as_deref(), Some("0000000000005"));
        let key = "1767225600000#x";
        assert!(lt.as_deref().unwrap() > key, "a time in the far future is past every key");
        assert!(time_bounds(Some(99_999_999_999_999), None).0.unwrap().as_str() > key);
    }

    #[test]
    fn a_cursor_outside_the_range_starts_at_its_end_or_ends_the_list() {
        let key = "0000000000050#id";
        assert_eq!(cursor_fit(Some(key), Some(10), Some(100)), Some(CursorFit::Within));
        assert_eq!(cursor_fit(Some(key), Some(60), None), Some(CursorFit::Exhausted));
        assert_eq!(cursor_fit(Some(key), None, Some(50)), Some(CursorFit::After), "the item at lt is outside");
        assert_eq!(cursor_fit(None, Some(5), Some(3)), Some(CursorFit::Exhausted), "an empty range");
        assert_eq!(cursor_fit(None, Some(5), None), None);
    }
}
