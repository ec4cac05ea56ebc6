//! Which of a merchant's payments a list asks for (`GET /payments` filters): at most one of the
//! merchant's reference, a status or a customer, and a creation-time range. Each is served by
//! an index of its own, so a list never reads payments it does not answer with; two of the
//! three at once is a combination no index serves (`Unsupported`).
use super::payment::Payment;
use super::reference::MerchantReference;
use super::status::PaymentStatus;

/// The one lookup a list may narrow by, besides time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Reference(MerchantReference),
    Status(PaymentStatus),
    Customer(String),
}

/// A list's filters. `created_gte` and `created_lt` are ms since the epoch, `[gte, lt)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    pub lookup: Option<Lookup>,
    pub created_gte: Option<u64>,
    pub created_lt: Option<u64>,
}

/// Two lookups at once: no index serves that.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter by at most one of reference, status and customer (each with created_gte and created_lt)")]
pub struct Unsupported;

impl PaymentFilter {
    /// The filter of these query values; more than one lookup is `Unsupported`.
    pub fn new(
        reference: Option<MerchantReference>,
        status: Option<PaymentStatus>,
        customer: Option<String>,
        created_gte: Option<u64>,
        created_lt: Option<u64>,
    ) -> Result<Self, Unsupported> {
        let mut lookups =
            [reference.map(Lookup::Reference), status.map(Lookup::Status), customer.map(Lookup::Customer)]
                .into_iter()
                .flatten();
        let lookup = lookups.next();
        if lookups.next().is_some() {
            return Err(Unsupported);
        }
        Ok(Self { lookup, created_gte, created_lt })
    }

    /// Whether `p` is one the list answers with: the in-memory store's whole filter, and what
    /// a test compares both stores' answers with.
    pub fn matches(&self, p: &Payment) -> bool {
        let lookup = match &self.lookup {
            None => true,
            Some(Lookup::Reference(r)) => p.tags.merchant_reference.as_ref() == Some(r),
            Some(Lookup::Status(s)) => p.status == *s,
            Some(Lookup::Customer(c)) => &p.customer_id == c,
        };
        lookup
            && self.created_gte.is_none_or(|t| p.created_at_ms >= t)
            && self.created_lt.is_none_or(|t| p.created_at_ms < t)
    }
}

/// Which of a merchant's events `GET /events` asks for: of one type, of one payment, in a
/// time range `[gte, lt)` (ms), in any combination. The type and the time are index keys; a
/// payment's events are its own item collection, read whole at most (a few dozen events).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub kind: Option<super::events::EventType>,
    pub payment: Option<super::ids::PaymentId>,
    pub created_gte: Option<u64>,
    pub created_lt: Option<u64>,
}

impl EventFilter {
    pub fn matches(&self, e: &super::events::Event) -> bool {
        self.kind.is_none_or(|k| e.kind == k)
            && self.payment.is_none_or(|p| e.id().payment_id == p)
            && self.created_gte.is_none_or(|t| e.at_ms >= t)
            && self.created_lt.is_none_or(|t| e.at_ms < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lookup_at_most_with_any_time_range() {
        let r = || Some(MerchantReference::parse("o-1").unwrap());
        assert!(PaymentFilter::new(r(), None, None, Some(1), Some(2)).is_ok());
        assert!(PaymentFilter::new(None, Some(PaymentStatus::Pending), None, None, None).is_ok());
        assert_eq!(PaymentFilter::new(r(), Some(PaymentStatus::Pending), None, None, None), Err(Unsupported));
        assert_eq!(
            PaymentFilter::new(None, Some(PaymentStatus::Failed), Some("c".into()), None, None),
            Err(Unsupported)
        );
        assert_eq!(PaymentFilter::new(None, None, None, None, None).unwrap(), PaymentFilter::default());
    }
}
