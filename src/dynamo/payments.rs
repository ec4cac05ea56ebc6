//! Payments and refunds: every change written with its event in one transaction, reads, lists.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::DynamoStore;
use super::attrs::{Item, s};
use super::error::{classify, classify_transaction};
use super::event_items::event_item;
use super::events::one_more;
use super::item_update::Repair;
use super::item_writer::{payment_attributes, refund_attributes};
use super::items::*;
use super::keys::*;
use super::queries::{CursorFit, ListIndex, cursor_fit};
use crate::domain::change::Change;
use crate::domain::events::EventType;
use crate::domain::idempotency::IdempotencyClaim;
use crate::domain::ids::{MerchantId, PaymentId, RefundId};
use crate::domain::inquiry::Attempts;
use crate::domain::payment::{Payment, PaymentView};
use crate::domain::ports::Payments;
use crate::domain::ports::{ConflictKind, PaymentPage, StoreError};
use crate::domain::search::{Lookup, PaymentFilter};
use crate::util;

#[async_trait]
impl Payments for DynamoStore {
    /// One transaction: the claim, a new refund's item, the payment (new, or updated on the
    /// version it was read at), and the event, in the order `Payments::commit` names their conflicts.
    async fn commit(&self, c: &Change, claim: Option<&IdempotencyClaim>) -> Result<(), StoreError> {
        let mut actions = Vec::with_capacity(4);
        let mut kinds = Vec::with_capacity(4);
        if let Some(claim) = claim {
            actions.push(self.put_if_absent(self.claim_item(claim))?);
            kinds.push(ConflictKind::IdempotencyKeyTaken);
        }
        let refund = c.written_refund();
        if let Some(r) = refund.filter(|_| c.creates_refund()) {
            actions.push(self.put_if_absent(new_refund_item(r))?);
            kinds.push(ConflictKind::AlreadyExists);
        }
        let p = &c.view.payment;
        if c.creates_payment() {
            for record in new_payment_records(p) {
                actions.push(self.put_if_absent(record)?);
                kinds.push(ConflictKind::AlreadyExists);
            }
        } else {
            let index = match c.event.kind {
                k if k.settles_payment() => Repair::Leave,
                k if k.touches_repair() => Repair::Touch(repair_sk(p.repair_due_ms(c.event.at_ms), &p.id.to_string())),
                _ => Repair::Keep,
            };
            let mut sets = payment_attributes(p);
            // The status index's key moves with the status; the others are set again so a
            // payment written before they existed is indexed from its next change on.
            sets.extend(filter_keys(p));
            let at = (payment_pk(p.id), PAYMENT_SK.to_owned());
            let guard = c.attempts_guard.filter(|_| c.refund.is_none());
            let optional = if c.event.kind.erases_card() { PAYMENT_OPTIONAL_FINAL } else { PAYMENT_OPTIONAL };
            actions.push(self.update_item(at, sets, optional, index, Some(c.read_version()), guard)?);
            kinds.push(ConflictKind::Changed);
            if c.event.kind.erases_card() {
                // The card is erased with the final state (or the authorization), in the same write.
                actions.push(self.delete_card(p.id)?);
                kinds.push(ConflictKind::Changed);
            }
        }
        if let Some(r) = refund.filter(|_| !c.creates_refund()) {
            let index = match c.event.kind {
                EventType::RefundProcessing => Repair::Touch(repair_sk(c.event.at_ms, &r.id.to_string())),
                _ if r.status.is_final() => Repair::Leave,
                _ => Repair::Keep,
            };
            // No condition of its own: the payment's version, in the same transaction, guards it.
            let at = (payment_pk(p.id), refund_sk(r.id));
            let guard = c.attempts_guard;
            actions.push(self.update_item(at, refund_attributes(r), REFUND_OPTIONAL, index, None, guard)?);
            kinds.push(ConflictKind::Changed);
        }
        actions.push(self.put_if_absent(event_item(&c.event, c.notify))?);
        kinds.push(ConflictKind::Changed);
        self.transact(actions, &kinds).await
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError> {
        let mut payment: Option<crate::domain::payment::Payment> = None;
        let mut card = None;
        let mut refunds = Vec::new();
        // Events sort before the payment's own items: skip them.
        for item in self.whole_partition(&payment_pk(id), "SK >= :sk", PAYMENT_SK).await? {
            match record_from_item(&item)? {
                Some(Record::Payment(p)) => payment = Some(*p),
                Some(Record::Refund(r)) => refunds.push(r),
                Some(Record::Card(c)) => card = Some(c),
                None => {}
            }
        }
        refunds.sort_by_key(|r| (r.created_at_ms, r.id.to_string()));
        if let (Some(p), Some(card)) = (payment.as_mut(), card) {
            p.sealed_card = Some(card);
        }
        Ok(payment.map(|payment| PaymentView { payment, refunds }))
    }

    async fn record_attempt(
        &self,
        payment: PaymentId,
        refund: Option<RefundId>,
        attempts: Attempts,
    ) -> Result<(), StoreError> {
        self.touch(payment, refund, attempts.last_ms, Some(attempts.first_ms)).await
    }

    async fn list_payments(
        &self,
        merchant: &MerchantId,
        filter: &PaymentFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<PaymentPage, StoreError> {
        // One index per filter, each sorted by creation: the time range is a key condition too,
        // so a page reads only what it answers with (and one more, to know a next page exists).
        let (index, pk_name, sk_name, pk) = match &filter.lookup {
            None => (GSI1, GSI1PK, GSI1SK, merchant_pk(merchant)),
            Some(Lookup::Status(status)) => (GSI4, GSI4PK, GSI4SK, status_pk(merchant, *status)),
            Some(Lookup::Reference(r)) => (GSI5, GSI5PK, GSI5SK, reference_pk(merchant, r)),
            Some(Lookup::Customer(c)) => (GSI6, GSI6PK, GSI6SK, customer_pk(merchant, c)),
        };
        let position = cursor.map(|c| util::position(c).ok_or(StoreError::InvalidCursor)).transpose()?;
        let start = match cursor_fit(position.as_deref(), filter.created_gte, filter.created_lt) {
            // An empty range, or a cursor already past its start: nothing is read.
            Some(CursorFit::Exhausted) => return Ok(PaymentPage { payments: Vec::new(), next_cursor: None }),
            Some(CursorFit::After) => None,
            Some(CursorFit::Within) | None => cursor.map(|c| decode_cursor(c, (pk_name, &pk), sk_name)).transpose()?,
        };
        let at = ListIndex { name: index, pk_name, sk_name, pk: &pk };
        let out = self
            .newest_first(&at, (filter.created_gte, filter.created_lt), one_more(limit), start)
            .send()
            .await
            .map_err(classify)?;
        let read = out.scanned_count().max(out.count());
        crate::telemetry::metrics::list_page(index, u64::try_from(read).unwrap_or(0));
        let payments = out.items().iter().map(payment_from_item).collect::<Result<Vec<_>, _>>()?;
        // DynamoDB stops early at 1 MB per query: more may exist then too.
        let (payments, next) = util::split_page(payments, limit, out.last_evaluated_key.is_some());
        Ok(PaymentPage { payments, next_cursor: next.as_ref().map(encode_cursor) })
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

    /// Deletes a payment's card item (`CARD_SK`), unconditionally: the payment's version, in the
    /// same transaction, guards it, and deleting an absent item changes nothing.
    fn delete_card(&self, id: PaymentId) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(payment_pk(id)))
            .key(SK, s(CARD_SK))
            .build()
            .map_err(|_| StoreError::Permanent("bad delete".into()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
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
}

/// The cursor names the last payment of the page; the merchant comes from the caller's token,
/// never from the cursor, so a cursor cannot page through another merchant's payments.
fn encode_cursor(last: &Payment) -> String {
    util::cursor(&list_sort_key(last.created_at_ms, last.id))
}

/// The start key of the page after `cursor` in the index whose keys are `(pk name, pk)` and
/// `sk_name`: every list index sorts by `<created ms>#<id>`, so one cursor form serves them all.
fn decode_cursor(cursor: &str, (pk_name, pk): (&str, &str), sk_name: &str) -> Result<Item, StoreError> {
    let sort_key = util::position(cursor).ok_or(StoreError::InvalidCursor)?;
    let (_, id) = parse_time_sort_key(&sort_key, |id| PaymentId::parse(id).ok()).ok_or(StoreError::InvalidCursor)?;
    Ok(Item::from([
        (PK.to_owned(), s(payment_pk(id))),
        (SK.to_owned(), s(PAYMENT_SK)),
        (pk_name.to_owned(), s(pk)),
        (sk_name.to_owned(), s(sort_key)),
    ]))
}
