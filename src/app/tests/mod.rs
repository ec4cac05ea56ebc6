//! The use cases on the in-memory ports (`crate::testing`): every branch of creating,
//! refunding, charging, settling and repairing, without an emulator. The memory store is held
//! to the DynamoDB adapter by `testing::store_suite`, so what passes here holds there.
mod capture;
mod charge;
mod create;
mod events;
mod flaky;
mod inquiry;
mod notify;
mod refund;
mod repair;
mod webhooks;

use crate::app::KeyedRequest;
use crate::domain::card::{CardDetails, Expiry};
use crate::domain::change::{Change, Transition};
use crate::domain::events::{Actor, Cause};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::ids::{MerchantId, PaymentId};
use crate::domain::money::{Amount, Currency};
use crate::domain::payment::{PaymentOutcome, PaymentRequest, PaymentView};
use crate::testing::World;

fn merchant() -> MerchantId {
    MerchantId::parse("test@merchant").unwrap()
}

fn other_merchant() -> MerchantId {
    MerchantId::parse("other@merchant").unwrap()
}

fn request(card: &str, price: u64) -> PaymentRequest {
    PaymentRequest {
        customer_id: "cust-1".into(),
        customer_name: None,
        amount: Amount::parse(i128::from(price)).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        card: CardDetails::new(card.into(), "123".into(), Expiry { year: 2039, month: 12 }),
        tags: Default::default(),
        capture_method: Default::default(),
    }
}

fn keyed(key: &str, hash: &str) -> KeyedRequest {
    KeyedRequest::new(IdempotencyKey::parse(merchant(), key).unwrap(), hash)
}

fn amount(n: u64) -> Amount {
    Amount::parse(i128::from(n)).unwrap()
}

/// A payment as the API would write it, with `sealed` as its sealed card.
fn new_payment(id: PaymentId, sealed: &str, created_at_ms: u64) -> crate::domain::payment::NewPayment {
    crate::domain::payment::NewPayment {
        id,
        merchant_id: merchant(),
        customer_id: "c".into(),
        customer_name: None,
        amount: amount(100),
        currency: Currency::parse("EUR").unwrap(),
        card_last4: "4242".into(),
        sealed_card: crate::domain::card::SealedCard(sealed.into()),
        created_at_ms,
        tags: Default::default(),
        capture_method: Default::default(),
    }
}

/// The payment an answer is about.
fn id_of(resp: &crate::domain::idempotency::Accepted) -> PaymentId {
    resp.payment_id()
}

impl World {
    /// A PENDING payment of `price`, created through the use case.
    async fn payment(&self, price: u64) -> PaymentId {
        let resp = self.services.create_payment(&merchant(), request("4242424242424242", price), None).await.unwrap();
        id_of(&resp)
    }

    async fn view(&self, id: PaymentId) -> PaymentView {
        self.services.get_payment(&merchant(), id).await.unwrap()
    }

    async fn charge(&self, id: PaymentId) -> crate::app::Step {
        self.services.process_charge(self.bank.as_ref(), id).await
    }

    /// Writes `new` straight to the store (with `claim`), as a request that stopped after its write.
    async fn write(
        &self,
        new: &crate::domain::payment::NewPayment,
        claim: Option<&crate::domain::idempotency::IdempotencyClaim>,
    ) {
        let change = Change::payment_created(new, Cause::new(Actor::Merchant(merchant()), None));
        self.services.store.payments.commit(&change, claim).await.unwrap();
    }

    /// Settles `id` as succeeded straight in the store, as a worker that then died would have.
    async fn settle(&self, id: PaymentId) {
        let ok = PaymentOutcome::Succeeded { bank_charge_id: "ch".into() };
        let now = self.services.clock.now_ms();
        let change =
            self.view(id).await.apply(Transition::PaymentSettled(ok), now, Cause::new(Actor::PaymentWorker, None));
        self.services.store.payments.commit(&change.unwrap(), None).await.unwrap();
    }
}
