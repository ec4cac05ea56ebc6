//! The bank's books: idempotency records, the charges they made, and the refunds against them.
//!
//! One `Ledger` sits behind one mutex, so claiming a key, applying a request and recording its
//! answer are each atomic; money moves only inside `apply_*`, which runs once per live key.
//! Like a real acquirer's, idempotency records are forgotten `key_ttl` after a key was first
//! seen (the same key then makes a new charge), while the books (`Entry`s) are kept for good
//! and answer status inquiries by the merchant's reference.
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::error::SimError;
use super::wire::{ChargeBody, Fingerprint, RefundBody};
use payment_platform::domain::money::Currency;

/// The first answer given for a key, replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

/// What a request with a key may do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is new and now in flight: apply the request, then its answer is recorded.
    New,
    /// The key was answered before with the same request: give that answer again.
    Replay(Answer),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Charge,
    Refund,
}

/// One idempotency key's line in `GET /ledger`. Holds no card data beyond the last four digits.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    pub idempotency_key: String,
    pub kind: Kind,
    pub reference: String,
    pub amount: u64,
    pub currency: Currency,
    /// `approved` | `declined` for charges, `succeeded` | `rejected` for refunds.
    pub outcome: &'static str,
    /// The decline code or rejection reason, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(rename = "ChargeID")]
    pub charge_id: Option<String>,
    #[serde(rename = "RefundID", skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_last4: Option<String>,
    /// How many requests carried this key, the first and every replay or refused duplicate.
    pub requests: u64,
    /// When it was applied, ms since the epoch: what a settlement file dates a line by.
    pub applied_at: u64,
}

/// `GET /ledger`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Snapshot {
    pub entries: Vec<Entry>,
    /// The number of approved charges.
    pub charged: u64,
    pub charged_amount: u64,
    pub refunded_amount: u64,
    /// Approved charges per Reference (payment id): more than 1 means a payment was charged twice.
    pub charges_by_reference: BTreeMap<String, u64>,
    /// Succeeded refunds per Reference (refund id).
    pub refunds_by_reference: BTreeMap<String, u64>,
}

enum State {
    InFlight,
    /// Answered: the answer, and the line of the books the request wrote.
    Done(Answer, usize),
}

struct Record {
    fingerprint: Fingerprint,
    requests: u64,
    state: State,
    first_seen: Instant,
}

struct Charge {
    amount: u64,
    currency: Currency,
    approved: bool,
    refunded: u64,
}

pub struct Ledger {
    /// Live idempotency records by key.
    records: HashMap<String, Record>,
    /// Every request applied, in the order it was applied; never forgotten.
    books: Vec<Entry>,
    charges: HashMap<String, Charge>,
    key_ttl: Duration,
}

impl Default for Ledger {
    /// Keys kept 24 hours, the default of `BANK_KEY_TTL_SECS`.
    fn default() -> Self {
        Self::new(Duration::from_secs(86_400))
    }
}

impl Ledger {
    pub fn new(key_ttl: Duration) -> Self {
        Self { records: HashMap::new(), books: Vec::new(), charges: HashMap::new(), key_ttl }
    }

    /// Counts the request against its key and says whether to apply it, replay, or refuse it.
    pub fn claim(&mut self, key: &str, fingerprint: Fingerprint) -> Result<Claim, SimError> {
        self.claim_at(key, fingerprint, Instant::now())
    }

    /// `claim` at `now`: a key first seen `key_ttl` ago or longer is forgotten first.
    pub fn claim_at(&mut self, key: &str, fingerprint: Fingerprint, now: Instant) -> Result<Claim, SimError> {
        let expired = self
            .records
            .get(key)
            .is_some_and(|r| matches!(r.state, State::Done(..)) && now.duration_since(r.first_seen) >= self.key_ttl);
        if expired {
            self.records.remove(key);
        }
        let Some(record) = self.records.get_mut(key) else {
            let record = Record { fingerprint, requests: 1, state: State::InFlight, first_seen: now };
            self.records.insert(key.to_owned(), record);
            return Ok(Claim::New);
        };
        record.requests += 1;
        if record.fingerprint != fingerprint {
            return Err(SimError::KeyReused);
        }
        match &record.state {
            State::InFlight => Err(SimError::KeyInFlight),
            State::Done(answer, _) => Ok(Claim::Replay(answer.clone())),
        }
    }

    /// Forgets a claimed key whose request was never applied (e.g. the bank shut down mid-way).
    pub fn abandon(&mut self, key: &str) {
        if matches!(self.records.get(key), Some(Record { state: State::InFlight, .. })) {
            self.records.remove(key);
        }
    }

    /// Decides a claimed charge by its card and records the answer.
    pub fn apply_charge(&mut self, key: &str, body: &ChargeBody) -> Answer {
        let decline = match body.card_number.as_str() {
            "4000000000000002" => Some("card_declined"),
            "4000000000009995" => Some("insufficient_funds"),
            "4000000000000069" => Some("expired_card"),
            _ => None,
        };
        let charge_id = Uuid::new_v4().to_string();
        let charge = Charge { amount: body.amount, currency: body.currency, approved: decline.is_none(), refunded: 0 };
        self.charges.insert(charge_id.clone(), charge);
        let answer_body = match decline {
            None => json!({ "ChargeID": charge_id, "Status": "approved" }),
            Some(code) => {
                json!({ "ChargeID": charge_id, "Status": "declined", "DeclineCode": code })
            }
        };
        let entry = Entry {
            idempotency_key: key.to_owned(),
            kind: Kind::Charge,
            reference: body.reference.clone(),
            amount: body.amount,
            currency: body.currency,
            outcome: if decline.is_none() { "approved" } else { "declined" },
            reason: decline,
            charge_id: Some(charge_id),
            refund_id: None,
            card_last4: Some(body.card_last4().to_owned()),
            requests: 0,
            applied_at: payment_platform::util::now_ms(),
        };
        self.record(key, answer_body, entry)
    }

    /// Decides a claimed refund against its charge and records the answer.
    pub fn apply_refund(&mut self, key: &str, body: &RefundBody) -> Answer {
        let rejection = match self.charges.get_mut(&body.charge_id) {
            None => Some("unknown_charge"),
            Some(c) if !c.approved => Some("charge_not_approved"),
            Some(c) if c.currency != body.currency => Some("currency_mismatch"),
            Some(c) if c.refunded.saturating_add(body.amount) > c.amount => Some("exceeds_charged_amount"),
            Some(c) => {
                c.refunded += body.amount;
                None
            }
        };
        let refund_id = Uuid::new_v4().to_string();
        let answer_body = match rejection {
            None => json!({ "RefundID": refund_id, "Status": "succeeded" }),
            Some(reason) => {
                json!({ "RefundID": refund_id, "Status": "rejected", "Reason": reason })
            }
        };
        let entry = Entry {
            idempotency_key: key.to_owned(),
            kind: Kind::Refund,
            reference: body.reference.clone(),
            amount: body.amount,
            currency: body.currency,
            outcome: if rejection.is_none() { "succeeded" } else { "rejected" },
            reason: rejection,
            charge_id: Some(body.charge_id.clone()),
            refund_id: Some(refund_id),
            card_last4: None,
            requests: 0,
            applied_at: payment_platform::util::now_ms(),
        };
        self.record(key, answer_body, entry)
    }

    fn record(&mut self, key: &str, body: serde_json::Value, mut entry: Entry) -> Answer {
        let answer = Answer { status: StatusCode::OK, body };
        if let Some(record) = self.records.get_mut(key) {
            entry.requests = record.requests;
            record.state = State::Done(answer.clone(), self.books.len());
        }
        self.books.push(entry);
        answer
    }

    /// The entry of a live, answered key; `None` while it is unknown, forgotten or in flight.
    pub fn entry(&self, key: &str) -> Option<Entry> {
        match self.records.get(key)? {
            Record { state: State::Done(_, line), requests, .. } => {
                Some(Entry { requests: *requests, ..self.books[*line].clone() })
            }
            Record { state: State::InFlight, .. } => None,
        }
    }

    /// Everything applied under `reference` of `kind`, oldest first: the status inquiry.
    pub fn by_reference(&self, kind: Kind, reference: &str) -> Vec<Entry> {
        self.books.iter().filter(|e| e.kind == kind && e.reference == reference).cloned().collect()
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot {
            entries: Vec::new(),
            charged: 0,
            charged_amount: 0,
            refunded_amount: 0,
            charges_by_reference: BTreeMap::new(),
            refunds_by_reference: BTreeMap::new(),
        };
        // A line's request count goes on growing while its key is remembered (replays, refusals).
        let live: HashMap<usize, u64> = self
            .records
            .values()
            .filter_map(|r| match r.state {
                State::Done(_, line) => Some((line, r.requests)),
                State::InFlight => None,
            })
            .collect();
        for (line, entry) in self.books.iter().enumerate() {
            let entry = Entry { requests: live.get(&line).copied().unwrap_or(entry.requests), ..entry.clone() };
            match (entry.kind, entry.outcome) {
                (Kind::Charge, "approved") => {
                    snap.charged += 1;
                    snap.charged_amount += entry.amount;
                    *snap.charges_by_reference.entry(entry.reference.clone()).or_default() += 1;
                }
                (Kind::Refund, "succeeded") => {
                    snap.refunded_amount += entry.amount;
                    *snap.refunds_by_reference.entry(entry.reference.clone()).or_default() += 1;
                }
                _ => {}
            }
            snap.entries.push(entry);
        }
        snap
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
