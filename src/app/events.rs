//! Reading the event log: a payment's audit trail, the merchant's feed, one event. Reads are
//! not events themselves (that would be a write per read). Another merchant's events are
//! reported exactly like missing ones.
use super::{AppError, Services};
use crate::domain::events::{Event, EventId, EventPage};
use crate::domain::ids::{MerchantId, PaymentId};
use crate::domain::search::EventFilter;

impl Services {
    /// The payment's events, oldest first.
    pub async fn payment_events(
        &self,
        merchant: &MerchantId,
        id: PaymentId,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, AppError> {
        let page = self.store.events.payment_events(id, limit, cursor).await?;
        match page.events.first() {
            Some(e) if e.merchant_id() == merchant => Ok(page),
            Some(_) => Err(AppError::NotFound),
            // No event on this page: the payment tells whose it is (past the last page, or a
            // payment written before the event log).
            None => self.get_payment(merchant, id).await.map(|_| page),
        }
    }

    /// The merchant's events that `filter` matches, newest first. A payment of another
    /// merchant's, or none, has no events here: the answer is an empty page, as for a payment
    /// without events, so the filter tells nothing of other merchants' payments.
    pub async fn list_events(
        &self,
        merchant: &MerchantId,
        filter: &EventFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EventPage, AppError> {
        Ok(self.store.events.merchant_events(merchant, filter, limit, cursor).await?)
    }

    pub async fn get_event(&self, merchant: &MerchantId, id: EventId) -> Result<Event, AppError> {
        match self.store.events.get_event(id).await? {
            Some(e) if e.merchant_id() == merchant => Ok(e),
            _ => Err(AppError::EventNotFound),
        }
    }
}
