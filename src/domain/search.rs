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
