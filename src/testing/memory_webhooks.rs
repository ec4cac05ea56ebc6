//! The webhook ports in memory, with the DynamoDB adapter's semantics: a merchant's endpoints
//! are capped in the write that adds one, endpoint updates land on the revision read, an event's deliveries are leased to one worker at a time, and every event
//! enters the due-time index when it is recorded.
use std::collections::HashMap;

use async_trait::async_trait;

use super::memory::MemoryStore;
use crate::domain::events::{Event, EventId};
use crate::domain::ids::MerchantId;
use crate::domain::ports::{
    ConflictKind, Deliveries, DeliveryClaim, DueEvent, Events, PlannedEvent, PlannedPage, StoreError, WebhookEndpoints,
};
use crate::domain::search::EventFilter;
use crate::domain::webhooks::{AttemptRecord, Delivery, Endpoint, EndpointId, MAX_ENDPOINTS, next_due};

#[derive(Default)]
pub(super) struct WebhookState {
    endpoints: Vec<Endpoint>,
    deliveries: HashMap<EventId, Row>,
    attempts: HashMap<EventId, Vec<AttemptRecord>>,
}

#[derive(Default)]
struct Row {
    deliveries: Option<Vec<Delivery>>,
    lease_ms: Option<u64>,
    /// Its place in the due-time index: (due, event time); `None` when out of it.
    due: Option<(u64, u64)>,
}

impl WebhookState {
    /// A recorded event is due for delivery at once (see `Payments::commit`).
    pub(super) fn announce(&mut self, e: &Event) {
        self.deliveries.insert(e.id(), Row { due: Some((e.at_ms, e.at_ms)), ..Row::default() });
    }
}

#[async_trait]
impl WebhookEndpoints for MemoryStore {
    async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.webhooks.endpoints.iter().any(|e| e.id == endpoint.id) {
            return Err(StoreError::Conflict(ConflictKind::AlreadyExists));
        }
        // Counted under the same lock as the push, as the adapter counts in the same transaction.
        let theirs = state.webhooks.endpoints.iter().filter(|e| e.merchant_id == endpoint.merchant_id).count();
        if theirs >= MAX_ENDPOINTS {
            return Err(StoreError::Conflict(ConflictKind::WrongState));
        }
        state.webhooks.endpoints.push(endpoint.clone());
        Ok(())
    }

    async fn update_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let mut state = self.lock();
        let stored = state.webhooks.endpoints.iter_mut().find(|e| e.id == endpoint.id).ok_or(StoreError::NotFound)?;
        if stored.revision != endpoint.revision {
            return Err(StoreError::Conflict(ConflictKind::Changed));
        }
        *stored = Endpoint { revision: endpoint.revision + 1, ..endpoint.clone() };
        Ok(())
    }

    async fn endpoints(&self, merchant: &MerchantId) -> Result<Vec<Endpoint>, StoreError> {
        let state = self.lock();
        let mut all: Vec<_> = state.webhooks.endpoints.iter().filter(|e| &e.merchant_id == merchant).cloned().collect();
        all.sort_by_key(|e| (e.created_ms, e.id));
        Ok(all)
    }

    async fn delete_endpoint(&self, merchant: &MerchantId, id: EndpointId) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let before = state.webhooks.endpoints.len();
        state.webhooks.endpoints.retain(|e| !(e.id == id && &e.merchant_id == merchant));
        Ok(state.webhooks.endpoints.len() < before)
    }
}

#[async_trait]
impl Deliveries for MemoryStore {
    async fn claim_delivery(
        &self,
        event: EventId,
        now_ms: u64,
        lease_ms: u64,
        reopen: bool,
    ) -> Result<DeliveryClaim, StoreError> {
        let mut state = self.lock();
        let Some(found) = state.events.iter().find(|e| e.id() == event).cloned() else {
            return Ok(DeliveryClaim::Settled);
        };
        let row = state.webhooks.deliveries.entry(event).or_default();
        if row.lease_ms.is_some_and(|l| l >= now_ms) && (row.due.is_some() || reopen) {
            return Ok(DeliveryClaim::Busy);
        }
        if row.due.is_none() && !reopen {
            return Ok(DeliveryClaim::Settled);
        }
        if reopen {
            row.due = Some((now_ms, now_ms));
        }
        row.lease_ms = Some(lease_ms);
        Ok(DeliveryClaim::Claimed { event: Box::new(found), deliveries: row.deliveries.clone(), lease_ms })
    }

    async fn save_delivery(
        &self,
        event: &Event,
        lease_ms: u64,
        deliveries: &[Delivery],
        attempts: &[AttemptRecord],
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let row = state.webhooks.deliveries.entry(event.id()).or_default();
        if row.lease_ms != Some(lease_ms) {
            return Err(StoreError::Conflict(ConflictKind::Changed));
        }
        row.lease_ms = None;
        row.deliveries = Some(deliveries.to_vec());
        row.due = next_due(deliveries).map(|due| (due, event.at_ms));
        state.webhooks.attempts.entry(event.id()).or_default().extend_from_slice(attempts);
        Ok(())
    }

    async fn attempts(&self, event: EventId) -> Result<Vec<AttemptRecord>, StoreError> {
        let mut found = self.lock().webhooks.attempts.get(&event).cloned().unwrap_or_default();
        found.sort_by_key(|a| (a.at_ms, a.number));
        Ok(found)
    }

    async fn planned_events(
        &self,
        merchant: &MerchantId,
        kind: Option<crate::domain::events::EventType>,
        (from_ms, until_ms): (u64, u64),
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PlannedPage, StoreError> {
        let range = EventFilter { kind, created_gte: Some(from_ms), created_lt: Some(until_ms), payment: None };
        let page = self.merchant_events(merchant, &range, limit, cursor).await?;
        let state = self.lock();
        let planned = |e: &Event| PlannedEvent {
            id: e.id(),
            kind: e.kind,
            at_ms: e.at_ms,
            deliveries: state.webhooks.deliveries.get(&e.id()).and_then(|row| row.deliveries.clone()),
        };
        Ok(PlannedPage { events: page.events.iter().map(planned).collect(), next_cursor: page.next_cursor })
    }

    async fn outstanding(&self, limit: u32) -> Result<Vec<DueEvent>, StoreError> {
        let state = self.lock();
        let mut found: Vec<DueEvent> = state
            .webhooks
            .deliveries
            .iter()
            .filter_map(|(event, row)| row.due.map(|(due_ms, at_ms)| DueEvent { event: *event, due_ms, at_ms }))
            .collect();
        found.sort_by_key(|d| d.due_ms);
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(found)
    }

    async fn claim_due(&self, due: DueEvent, older_than_ms: u64, again_ms: u64) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state.webhooks.deliveries.get_mut(&due.event).and_then(|r| r.due.as_mut()) {
            Some(d) if d.0 < older_than_ms => {
                d.0 = again_ms;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
