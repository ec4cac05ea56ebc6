//! The floor: what one accepted payment costs in DynamoDB and SQS, made directly with the SDK.
//! `POST /payments` with an `Idempotency-Key` makes exactly these calls, in this order
//! (src/app/payments.rs, src/dynamo/payments.rs, src/dynamo/idempotency.rs):
//! 1. `TransactWriteItems`: put the key's claim, already DONE with the stored 202 answer, the
//!    PENDING payment (in the filters' indexes too), its sealed card's item and its
//!    `payment.created` event, each `attribute_not_exists(PK)`;
//! 2. the charge job (ids only) to the payments queue, through the same sender as the API's
//!    (`sqs::BatchSender`): a `SendMessageBatch` of its own when it finds a call free, a share of
//!    one when many are sent at once.
//!
//! The bench's merchant has no webhook endpoint in these runs, so, as for the API, the event is
//! not put in the webhooks' due-time index and not announced (`app::notify`).
//!
//! Items carry the same attributes and sizes as the API's, in the same table (same indexes): a
//! test holds them to what the API's store writes (`dynamo::new_payment_items`).
//! [`CALLS`] lists the calls; the bench checks it against the API's counted requests per payment
//! and warns when the API's create path changed and this file did not follow. The requests it
//! made are counted ([`Floor::requests`]): a share of a batch is not a whole request.
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use base64::Engine;

use super::error::BenchError;
use payment_platform::domain::idempotency::IdempotencyKey;
use payment_platform::domain::ids::{MerchantId, PaymentId};
use payment_platform::domain::ports::Job;
use payment_platform::domain::status::PaymentStatus;
use payment_platform::dynamo::keys::*;
use payment_platform::dynamo::{CARD, CARD_SK};
use payment_platform::sqs::{BatchSender, job_entry};

type Item = HashMap<String, AttributeValue>;

/// The (service, operation, times) calls of one accepted payment, as made below; a batch
/// operation's "times" is at most that (`requests::api_matches`).
pub const CALLS: &[(&str, &str, u32)] = &[("dynamodb", "TransactWriteItems", 1), ("sqs", "SendMessageBatch", 1)];

/// Calls per accepted payment, all operations, when none are batched together: what a figure
/// falls back on where the floor's own count is missing.
pub fn calls_per_payment() -> u64 {
    CALLS.iter().map(|(_, _, n)| u64::from(*n)).sum()
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The bench's card (`load::payment_body`), sealed by the API's vault under a random key.
fn sealed_bench_card() -> Result<String, BenchError> {
    use payment_platform::domain::card::{CardDetails, Expiry};
    use payment_platform::domain::ports::CardVault;
    let unexpected = |what: &str| BenchError::Unexpected(format!("sealing the floor's card: {what}"));
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let vault = payment_platform::vault::AeadVault::new(&key, &[]).map_err(|_| unexpected("key"))?;
    let expiry = Expiry::parse(super::load::CARD_EXPIRY, (2026, 1)).map_err(|_| unexpected("expiry"))?;
    let card = CardDetails::new(super::load::CARD.into(), super::load::CARD_CVV.to_string(), expiry);
    vault.seal(&card, PaymentId::new()).map(|sealed| sealed.0).map_err(|_| unexpected("seal"))
}

#[derive(Clone)]
pub struct Floor {
    dynamodb: aws_sdk_dynamodb::Client,
    sender: BatchSender,
    /// `TransactWriteItems` calls made (the sender counts its own).
    transactions: Arc<AtomicU64>,
    /// Payments made, which name their customer as the bench's load does (`load::customer_id`).
    payments: Arc<AtomicU64>,
    table: String,
    merchant: MerchantId,
    /// The bench's card sealed as the API seals it (`vault::AeadVault`, a key of its own): the
    /// same size as the API's, sealed once, since the floor prices the AWS calls alone.
    sealed_card: String,
    /// Whether the transaction carries the payment's event, as the API's does; without it, the
    /// same calls without the event, which prices the event in the same run.
    with_event: bool,
}

impl Floor {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        table: String,
        queue_url: String,
    ) -> Result<Self, BenchError> {
        let merchant = MerchantId::parse("test@merchant").map_err(|_| BenchError::Unexpected("merchant id".into()))?;
        let sealed_card = sealed_bench_card()?;
        let (sender, transactions) = (BatchSender::spawn(sqs, queue_url), Arc::new(AtomicU64::new(0)));
        let payments = Arc::new(AtomicU64::new(0));
        Ok(Self { dynamodb, sender, transactions, payments, table, merchant, sealed_card, with_event: true })
    }

    /// AWS requests made so far, by this floor and its clones.
    pub fn requests(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed) + self.sender.calls()
    }

    /// The same calls without the event item.
    pub fn without_event(&self) -> Self {
        Self { with_event: false, ..self.clone() }
    }

    fn payment_item(&self, id: PaymentId, now: u64, customer: &str) -> Item {
        let sid = id.to_string();
        HashMap::from([
            (PK.to_owned(), s(payment_pk(id))),
            (SK.to_owned(), s(PAYMENT_SK)),
            ("PaymentID".to_owned(), s(&sid)),
            ("MerchantID".to_owned(), s(self.merchant.as_str())),
            ("CustomerID".to_owned(), s(customer)),
            ("CustomerName".to_owned(), s("Bench Customer")),
            ("Price".to_owned(), n(1999)),
            ("Currency".to_owned(), s("EUR")),
            ("Status".to_owned(), s("PENDING")),
            ("CardLast4".to_owned(), s("4242")),
            ("CreatedAt".to_owned(), n(now)),
            ("UpdatedAt".to_owned(), n(now)),
            ("RefundedAmount".to_owned(), n(0)),
            ("RefundableLeft".to_owned(), n(1999)),
            ("Version".to_owned(), n(1)),
            (GSI1PK.to_owned(), s(merchant_pk(&self.merchant))),
            (GSI1SK.to_owned(), s(list_sort_key(now, id))),
            (GSI2PK.to_owned(), s(repair_pk(RepairKind::Payment, &sid))),
            (GSI2SK.to_owned(), s(repair_sk(now, &sid))),
            (GSI4PK.to_owned(), s(status_pk(&self.merchant, PaymentStatus::Pending))),
            (GSI4SK.to_owned(), s(list_sort_key(now, id))),
            (GSI6PK.to_owned(), s(customer_pk(&self.merchant, customer))),
            (GSI6SK.to_owned(), s(list_sort_key(now, id))),
        ])
    }

    /// The sealed card, in an item of its own that no index holds.
    fn card_item(&self, id: PaymentId) -> Item {
        HashMap::from([
            (PK.to_owned(), s(payment_pk(id))),
            (SK.to_owned(), s(CARD_SK)),
            (CARD.to_owned(), s(&self.sealed_card)),
        ])
    }

    /// The payment's first event as the API writes it: the payment without its card as `Data`,
    /// in the merchant's feed (GSI1) and its type's (GSI3).
    fn event_item(&self, payment: &Item, id: PaymentId, now: u64) -> Item {
        let event_id = format!("evt_{}_1", id.simple());
        let keys = [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI4PK, GSI4SK, GSI6PK, GSI6SK];
        let data: Item =
            payment.iter().filter(|(k, _)| !keys.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        let feed = format!("{now:013}#{event_id}");
        HashMap::from([
            (PK.to_owned(), s(payment_pk(id))),
            (SK.to_owned(), s(event_sk(1))),
            ("EventID".to_owned(), s(&event_id)),
            ("Type".to_owned(), s("payment.created")),
            ("Timestamp".to_owned(), n(now)),
            ("Version".to_owned(), n(1)),
            ("Actor".to_owned(), s(format!("merchant:{}", self.merchant))),
            ("TraceID".to_owned(), s("4bf92f3577b34da6a3ce929d0e0e4736")),
            ("IdempotencyKey".to_owned(), AttributeValue::Bool(true)),
            ("PaymentID".to_owned(), s(id.to_string())),
            ("MerchantID".to_owned(), s(self.merchant.as_str())),
            (
                "Data".to_owned(),
                AttributeValue::M(HashMap::from([
                    ("Payment".to_owned(), AttributeValue::M(data)),
                    ("Refunds".to_owned(), AttributeValue::L(vec![])),
                ])),
            ),
            (GSI1PK.to_owned(), s(merchant_events_pk(&self.merchant))),
            (GSI1SK.to_owned(), s(&feed)),
            (GSI3PK.to_owned(), s(format!("EVENTS#{}#payment.created", self.merchant))),
            (GSI3SK.to_owned(), s(feed)),
            (TTL_ATTRIBUTE.to_owned(), n(now / 1000 + 30 * 86_400)),
        ])
    }

    /// The claim as the API writes it: done, with the 202 answer a replay gets.
    fn claim_item(&self, pk: &str, id: PaymentId, now: u64) -> Item {
        let hash = payment_platform::util::sha256_hex(&[id.to_string().as_bytes()]);
        HashMap::from([
            (PK.to_owned(), s(pk)),
            (SK.to_owned(), s(IDEMPOTENCY_SK)),
            ("MerchantID".to_owned(), s(self.merchant.as_str())),
            ("RequestHash".to_owned(), s(hash)),
            ("ResourceID".to_owned(), s(id.to_string())),
            ("State".to_owned(), s("DONE")),
            ("Answer".to_owned(), s(format!(r#"{{"Kind":"Payment","PaymentID":"{id}"}}"#))),
            ("LockedUntil".to_owned(), n(now + 10_000)),
            (TTL_ATTRIBUTE.to_owned(), n(now / 1000 + 48 * 3600)),
        ])
    }

    /// The transaction's items, in the API's order (`Payments::commit`): the claim, the payment,
    /// its card, and its event unless `without_event`.
    fn items(&self, claim_pk: &str, id: PaymentId, now: u64, customer: &str) -> Vec<Item> {
        let payment = self.payment_item(id, now, customer);
        let event = self.with_event.then(|| self.event_item(&payment, id, now));
        let mut items = vec![self.claim_item(claim_pk, id, now), payment, self.card_item(id)];
        items.extend(event);
        items
    }

    fn put_if_absent(&self, item: Item) -> Result<TransactWriteItem, String> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|_| "bad put".to_owned())?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The calls of one accepted payment; `Err` names the failing call and its error code.
    pub async fn one(&self) -> Result<(), String> {
        let now = super::load::now_ms();
        let id = PaymentId::new();
        let key = IdempotencyKey::parse(self.merchant.clone(), &uuid::Uuid::new_v4().to_string())
            .map_err(|_| "bad key".to_owned())?;
        let claim_pk = idempotency_pk(&key);
        let mut actions = Vec::with_capacity(4);
        let customer = super::load::customer_id(self.payments.fetch_add(1, Ordering::Relaxed) as usize);
        for item in self.items(&claim_pk, id, now, &customer) {
            actions.push(self.put_if_absent(item)?);
        }
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.dynamodb
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
            .map_err(|e| format!("TransactWriteItems {}", super::error::aws_code(&e)))?;
        // The API's very message (`sqs::job_entry`); the bench sets up no tracing, so no trace beside it.
        let entry = job_entry(&Job::Charge { payment_id: id }, 0).map_err(|e| format!("charge job: {e}"))?;
        self.sender.send(entry).await.map_err(|e| format!("SendMessageBatch {e}"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
    use payment_platform::domain::card::SealedCard;
    use payment_platform::domain::change::Change;
    use payment_platform::domain::events::{Actor, Cause};
    use payment_platform::domain::money::{Amount, Currency};
    use payment_platform::domain::payment::NewPayment;

    use super::*;

    /// Each attribute's name with its value's size (a string's bytes, a list's or map's
    /// entries), a nested map's under `<name>.`, so `Data.Payment.Price` is one.
    fn shape(item: &Item, prefix: &str, out: &mut BTreeMap<String, usize>) {
        for (name, v) in item {
            let name = format!("{prefix}{name}");
            let size = match v {
                AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                AttributeValue::M(m) => {
                    shape(m, &format!("{name}."), out);
                    m.len()
                }
                AttributeValue::L(l) => l.len(),
                _ => 1,
            };
            out.insert(name, size);
        }
    }

    fn shape_of(item: &Item) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        shape(item, "", &mut out);
        out
    }

    /// The floor's payment, card and event items hold the attributes the API's store writes for
    /// the bench's payment, of the same sizes: when the API's create writes something new, this
    /// fails until the floor writes it too.
    #[tokio::test]
    async fn the_floor_writes_what_the_api_writes_for_the_same_payment() {
        let region = Region::new("us-east-1");
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region.clone())
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder().behavior_version(BehaviorVersion::latest()).region(region).build(),
        );
        let floor = Floor::new(dynamodb, sqs, "payments".into(), "http://127.0.0.1:9/queue".into()).unwrap();
        let (id, now) = (PaymentId::new(), 1_700_000_000_123);
        let key = IdempotencyKey::parse(floor.merchant.clone(), "k").unwrap();
        let customer = super::super::load::customer_id(7);
        let floors = floor.items(&idempotency_pk(&key), id, now, &customer);
        let new = NewPayment {
            id,
            merchant_id: floor.merchant.clone(),
            customer_id: customer.clone(),
            customer_name: Some("Bench Customer".into()),
            amount: Amount::parse(1999).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            card_last4: "4242".into(),
            sealed_card: SealedCard(floor.sealed_card.clone()),
            created_at_ms: now,
            tags: Default::default(),
            capture_method: Default::default(),
        };
        let mut cause =
            Cause::new(Actor::Merchant(floor.merchant.clone()), Some("4bf92f3577b34da6a3ce929d0e0e4736".into()));
        cause.idempotency_key = true;
        let apis = payment_platform::dynamo::new_payment_items(&Change::payment_created(&new, cause));
        // The claim is left out: the API's is built by the store's idempotency code, from the key.
        assert_eq!(floors.len(), apis.len() + 1, "the claim, then one floor item per API item");
        for (f, a) in floors[1..].iter().zip(&apis) {
            assert_eq!(shape_of(f), shape_of(a), "item {:?}", a[SK]);
        }
    }
}
