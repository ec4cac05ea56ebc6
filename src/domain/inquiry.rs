//! What to do about a charge or refund whose earlier attempt's outcome is unknown. The bank
//! remembers an idempotency key for a limited time (its key TTL, counted from the key's first
//! use) and may apply a request late, but never more than a known bound after receiving it. So
//! a request is sent again only when the bank says it applied nothing under the reference and
//! the key is well inside its window; past the window nothing is ever re-sent, and "nothing
//! applied" becomes definitive once the late-application bound has passed since the last
//! attempt. The table is in docs/DESIGN.md ("When the bank's answer is lost").

/// When requests were sent to the bank under one key: the bank's memory of the key runs from
/// the first; a late application can follow the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    pub first_ms: u64,
    pub last_ms: u64,
}

impl Attempts {
    pub fn at(now_ms: u64) -> Self {
        Self { first_ms: now_ms, last_ms: now_ms }
    }
}

/// What the platform relies on the bank for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankWindow {
    /// How long the bank remembers a key after its first use (`BANK_KEY_TTL_SECS`).
    pub key_ttl_ms: u64,
    /// How far inside that window a re-send must stay (`BANK_RESEND_MARGIN_SECS`): clocks,
    /// queues and the request's own travel all eat into it.
    pub margin_ms: u64,
    /// The longest the bank may take to apply a request it received (`BANK_LATE_APPLY_MS`).
    pub late_apply_ms: u64,
}

impl Default for BankWindow {
    /// A day of key memory (a usual acquirer's), an hour of margin, a minute of late application.
    fn default() -> Self {
        Self { key_ttl_ms: 86_400_000, margin_ms: 3_600_000, late_apply_ms: 60_000 }
    }
}

/// What a status inquiry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inquired<T> {
    /// The bank applied this (the first, if it shows several).
    Applied(T),
    /// Nothing under the reference, as of now.
    Nothing,
    /// The inquiry itself failed.
    Unreachable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<T> {
    /// Send the request (again, with the same key).
    Send,
    /// The bank applied it: this is the outcome.
    Settle(T),
    /// Nothing applied, for good, and the key is past the window: end it without the bank
    /// (a payment or refund that moved no money).
    GiveUp,
    /// Nothing applied yet, but a late application is still possible: ask again later.
    Wait,
    /// The bank cannot be asked and the key is past the window: nothing may be sent; ask again
    /// later, and tell the operators (metric, alarm, runbook).
    Unresolved,
}

impl BankWindow {
    /// Whether a re-send sent now would still find the key remembered, with the margin to spare.
    pub fn within(&self, attempts: Attempts, now_ms: u64) -> bool {
        now_ms.saturating_sub(attempts.first_ms) < self.key_ttl_ms.saturating_sub(self.margin_ms)
    }

    /// The decision for a request already attempted (`attempts`), given what the bank says.
    /// A request never attempted is simply sent: there is nothing to ask about.
    pub fn decide<T>(&self, attempts: Attempts, inquired: Inquired<T>, now_ms: u64) -> Decision<T> {
        let within = self.within(attempts, now_ms);
        let settled_late = now_ms.saturating_sub(attempts.last_ms) >= self.late_apply_ms;
        match inquired {
            Inquired::Applied(outcome) => Decision::Settle(outcome),
            Inquired::Nothing if within => Decision::Send,
            Inquired::Nothing if settled_late => Decision::GiveUp,
            Inquired::Nothing => Decision::Wait,
            Inquired::Unreachable if within => Decision::Wait,
            Inquired::Unreachable => Decision::Unresolved,
        }
    }

    /// The same for a request that cannot be sent again (its card can no longer be opened):
    /// "nothing applied" is final as soon as no late application is possible, window or not.
    pub fn decide_unsendable<T>(&self, attempts: Attempts, inquired: Inquired<T>, now_ms: u64) -> Decision<T> {
        let settled_late = now_ms.saturating_sub(attempts.last_ms) >= self.late_apply_ms;
        match (self.decide(attempts, inquired, now_ms), settled_late) {
            (Decision::Send, true) => Decision::GiveUp,
            (Decision::Send, false) => Decision::Wait,
            (other, _) => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: BankWindow = BankWindow { key_ttl_ms: 100_000, margin_ms: 20_000, late_apply_ms: 5_000 };

    fn tried(first: u64, last: u64) -> Attempts {
        Attempts { first_ms: first, last_ms: last }
    }

    #[test]
    fn what_the_bank_applied_is_taken_whenever_it_is_found() {
        for now in [1_000, 79_999, 80_000, 500_000] {
            assert_eq!(W.decide(tried(0, 0), Inquired::Applied("ch_1"), now), Decision::Settle("ch_1"));
        }
    }

    #[test]
    fn nothing_applied_is_sent_again_only_well_inside_the_key_window() {
        assert_eq!(W.decide::<()>(tried(0, 70_000), Inquired::Nothing, 79_999), Decision::Send);
        // From ttl - margin on, never: the key may be forgotten by the time it arrives.
        assert_eq!(W.decide::<()>(tried(0, 78_000), Inquired::Nothing, 80_000), Decision::Wait);
        assert_eq!(W.decide::<()>(tried(0, 78_000), Inquired::Nothing, 82_999), Decision::Wait);
        // Once the late-application bound has passed since the last attempt, "nothing" is final.
        assert_eq!(W.decide::<()>(tried(0, 78_000), Inquired::Nothing, 83_000), Decision::GiveUp);
    }

    #[test]
    fn an_unreachable_bank_gets_nothing_sent_and_is_reported_past_the_window() {
        assert_eq!(W.decide::<()>(tried(0, 0), Inquired::Unreachable, 10_000), Decision::Wait);
        assert_eq!(W.decide::<()>(tried(0, 0), Inquired::Unreachable, 80_000), Decision::Unresolved);
        assert_eq!(W.decide::<()>(tried(0, 0), Inquired::Unreachable, 9_000_000), Decision::Unresolved);
    }

    #[test]
    fn a_request_that_cannot_be_sent_again_ends_once_no_late_application_is_possible() {
        assert_eq!(W.decide_unsendable::<()>(tried(0, 0), Inquired::Nothing, 4_999), Decision::Wait);
        assert_eq!(W.decide_unsendable::<()>(tried(0, 0), Inquired::Nothing, 5_000), Decision::GiveUp);
        assert_eq!(W.decide_unsendable(tried(0, 0), Inquired::Applied(1), 5_000), Decision::Settle(1));
        assert_eq!(W.decide_unsendable::<()>(tried(0, 0), Inquired::Unreachable, 5_000), Decision::Wait);
    }

    #[test]
    fn a_window_smaller_than_its_margin_never_resends() {
        let tight = BankWindow { key_ttl_ms: 1_000, margin_ms: 5_000, late_apply_ms: 100 };
        assert_eq!(tight.decide::<()>(tried(0, 0), Inquired::Nothing, 0), Decision::Wait);
        assert_eq!(tight.decide::<()>(tried(0, 0), Inquired::Nothing, 100), Decision::GiveUp);
    }
}
