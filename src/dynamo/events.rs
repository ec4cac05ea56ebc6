//! The event log: a payment's audit trail (its item collection), a merchant's feed (GSI1, or
//! GSI3 for one type) and one event by id. Cursors name the last event of a page; the merchant
//! comes from the caller, never from a cursor.
use async_trait::async_trait;

use super::DynamoStore;
use super::attrs::{Item, s};
use super::error::classify;
use super::event_items::event_from_item;
use super::keys::*;
use super::queries::{CursorFit, ListIndex, cursor_fit, time_bounds};
use crate::domain::events::{Event, EventId, EventPage};
use crate::domain::ids::{MerchantId, PaymentId};
use crate::domain::ports::{Events, StoreError};
use crate::domain::search::EventFilter;
use crate::util;

#[async_trait]
impl Events for DynamoStore {
    async fn payment_events(&self, id: PaymentId, limit: u32, cursor: Option<&str>) -> Result<EventPage, StoreError> {
        let pk = payment_pk(id);
        let start = match cursor {
            None => None,
            Some(c) => {
                let version = decode(c)?.parse::<u64>().map_err(|_| StoreError::InvalidCursor)?;
                Some(Item::from([(PK.to_owned(), s(&pk)), (SK.to_owned(), s(event_sk(version)))]))
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :e)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":e", s(EVENT_SK_PREFIX))
            .consistent_read(true)
            .limit(one_more(limit))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let (events, next) = page(out.items(), out.last_evaluated_key.is_some(), limit)?;
        Ok(EventPage { events, next_cursor: next.map(|e| util::cursor(&e.version.to_string())) })
    }

    async fn merchant_events(
        &self,
        merchant: &MerchantId,
        filter: &EventFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, StoreError> {
        let before = before(cursor)?;
        match filter.payment {
            Some(payment) => self.events_of_payment(merchant, payment, filter, limit, before).await,
            None => {
                let (items, next_cursor) = self.feed_page(merchant, filter, limit, before, None).await?;
                let events = items.iter().map(event_from_item).collect::<Result<Vec<_>, _>>()?;
                Ok(EventPage { events, next_cursor })
            }
        }
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(payment_pk(id.payment_id)))
            .key(SK, s(event_sk(id.version)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item().map(event_from_item).transpose()
    }
}

/// One more than asked: whether a next page exists is known without a second query, so a page
/// that is exactly full does not hand out a cursor to an empty page.
pub(super) fn one_more(limit: u32) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX - 1).saturating_add(1)
}

/// A page of events read (DynamoDB stops early at 1 MB), split where the next page starts.
fn page(items: &[Item], stopped_early: bool, limit: u32) -> Result<(Vec<Event>, Option<Event>), StoreError> {
    let events = items.iter().map(event_from_item).collect::<Result<Vec<_>, _>>()?;
    Ok(util::split_page(events, limit, stopped_early))
}

fn decode(cursor: &str) -> Result<String, StoreError> {
    util::position(cursor).ok_or(StoreError::InvalidCursor)
}

/// A feed cursor is the feed sort key of the last event of the page before: (key, event id).
pub(super) fn before(cursor: Option<&str>) -> Result<Option<(String, EventId)>, StoreError> {
    let before = cursor.map(|c| {
        let key = decode(c)?;
        let (_, id) = parse_time_sort_key(&key, EventId::parse).ok_or(StoreError::InvalidCursor)?;
        Ok::<_, StoreError>((key, id))
    });
    before.transpose()
}

impl DynamoStore {
    /// A page of `merchant`'s feed (GSI1, or GSI3 for one type) that `filter`'s type and time
    /// range match, newest first, as the index holds its items (both project every attribute;
    /// `projection` names fewer: the expression and its attribute names), with the next page's
    /// cursor.
    pub(super) async fn feed_page(
        &self,
        merchant: &MerchantId,
        filter: &EventFilter,
        limit: u32,
        before: Option<(String, EventId)>,
        projection: Option<(&str, &[(&str, &str)])>,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let (index, pk_name, sk_name, pk) = match filter.kind {
            None => (GSI1, GSI1PK, GSI1SK, merchant_events_pk(merchant)),
            Some(k) => (GSI3, GSI3PK, GSI3SK, merchant_events_of_type_pk(merchant, k)),
        };
        let start =
            match cursor_fit(before.as_ref().map(|(key, _)| key.as_str()), filter.created_gte, filter.created_lt) {
                Some(CursorFit::Exhausted) => return Ok((Vec::new(), None)),
                Some(CursorFit::After) => None,
                Some(CursorFit::Within) | None => before,
            };
        let start = start.map(|(key, id)| {
            Item::from([
                (PK.to_owned(), s(payment_pk(id.payment_id))),
                (SK.to_owned(), s(event_sk(id.version))),
                (pk_name.to_owned(), s(&pk)),
                (sk_name.to_owned(), s(key)),
            ])
        });
        // The time range is a key condition on the feed's sort key (`<ms>#<event id>`).
        let at = ListIndex { name: index, pk_name, sk_name, pk: &pk };
        let mut query = self.newest_first(&at, (filter.created_gte, filter.created_lt), one_more(limit), start);
        if let Some((expression, names)) = projection {
            query = query.projection_expression(expression);
            for (placeholder, name) in names {
                query = query.expression_attribute_names(*placeholder, *name);
            }
        }
        let out = query.send().await.map_err(classify)?;
        let (items, next) = util::split_page(out.items().to_vec(), limit, out.last_evaluated_key.is_some());
        // The cursor is the last item's feed sort key, which GSI1SK holds (GSI3SK the same).
        let key = next.map(|item| item.get(GSI1SK).and_then(|v| v.as_s().ok()).cloned());
        let next_cursor = match key {
            Some(Some(key)) => Some(util::cursor(&key)),
            Some(None) => return Err(StoreError::Permanent("an event item without its feed key".into())),
            None => None,
        };
        Ok((items, next_cursor))
    }

    /// `merchant`'s events of one payment that `filter` matches, newest first: the payment's own
    /// item collection, read from the cursor a page and one more at a time, type and time as a
    /// filter, until the page is full or the collection ends (so a filter that leaves few never
    /// ends a list early).
    async fn events_of_payment(
        &self,
        merchant: &MerchantId,
        payment: PaymentId,
        filter: &EventFilter,
        limit: u32,
        before: Option<(String, EventId)>,
    ) -> Result<EventPage, StoreError> {
        // Whose payment it is, first, in one small read: another merchant's has no events here,
        // and none of them is read.
        let owner = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(payment_pk(payment)))
            .key(SK, s(PAYMENT_SK))
            .projection_expression("MerchantID")
            .send()
            .await
            .map_err(classify)?;
        let owned = owner.item.as_ref().and_then(|i| i.get("MerchantID")).and_then(|v| v.as_s().ok());
        if owned.map(String::as_str) != Some(merchant.as_str()) {
            return Ok(EventPage { events: Vec::new(), next_cursor: None });
        }
        // Newest (highest version) first from the cursor, type and time as a filter on the
        // payment's own few events: each request reads at most a page and one more.
        let mut conditions = Vec::new();
        let mut values = vec![(":pk", s(payment_pk(payment))), (":e", s(EVENT_SK_PREFIX))];
        if let Some(kind) = filter.kind {
            conditions.push("GSI3PK = :kind");
            values.push((":kind", s(merchant_events_of_type_pk(merchant, kind))));
        }
        let (from, to) = time_bounds(filter.created_gte, filter.created_lt);
        if let Some(from) = from {
            conditions.push("GSI1SK >= :from");
            values.push((":from", s(from)));
        }
        if let Some(to) = to {
            conditions.push("GSI1SK < :to");
            values.push((":to", s(to)));
        }
        let mut start = before.map(|(_, id)| {
            Item::from([(PK.to_owned(), s(payment_pk(payment))), (SK.to_owned(), s(event_sk(id.version)))])
        });
        let mut events = Vec::new();
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :e)")
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(one_more(limit))
                .set_exclusive_start_key(start);
            if !conditions.is_empty() {
                query = query.filter_expression(conditions.join(" AND "));
            }
            for (name, value) in &values {
                query = query.expression_attribute_values(*name, value.clone());
            }
            let out = query.send().await.map_err(classify)?;
            for item in out.items() {
                events.push(event_from_item(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() || events.len() > limit as usize {
                break;
            }
        }
        let more = start.is_some();
        let (events, next) = util::split_page(events, limit, more);
        Ok(EventPage { events, next_cursor: next.map(|e| util::cursor(&feed_sort_key(&e))) })
    }
}
