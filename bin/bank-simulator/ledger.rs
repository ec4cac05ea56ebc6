//! The bank's books: the lines of every charge, refund, authorization, capture and void applied, the idempotency keys with the
//! answers they replay, and the refunds against each charge, kept in SQLite so they survive the
//! simulator's crash and restart, as a real acquirer's books do.
//!
//! One `Ledger` (one connection) sits behind one mutex, so claiming a key, applying a request and
//! recording its answer are each atomic; money moves only inside `apply_*`, which runs once per
//! live key and writes its line and its key in one transaction, committed before the answer goes
//! out. Keys in flight (claimed, not yet applied) live in memory only: a request the bank dies
//! before applying was never applied, and its key is free again after the restart. Like a real
//! acquirer's, idempotency records are forgotten `key_ttl` after a key was first seen (the same
//! key then makes a new charge), while the lines are kept for good and answer status inquiries by
//! the merchant's reference.
//!
//! Durability: WAL journal with `synchronous=NORMAL`. A commit has been written to the WAL file
//! (the kernel's page cache) before it returns, so a killed process loses nothing it answered; a
//! power cut or kernel crash may lose the last commits, which a simulator need not survive (a
//! real acquirer would use `FULL`, one fsync per commit). The file is locked for the process's
//! life (`locking_mode=EXCLUSIVE`): a second simulator on the same books would not see the first
//! one's keys in flight, so it is refused at start.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::error::SimError;
#[path = "holds.rs"]
mod holds;

use super::wire::{ChargeBody, Fingerprint, RefundBody};
use payment_platform::domain::money::Currency;

/// The schema, created on first open. `line` orders the books as they were applied.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS books (
    line             INTEGER PRIMARY KEY,
    idempotency_key  TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('charge', 'refund', 'authorization', 'capture', 'void')),
    reference        TEXT NOT NULL,
    amount           INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    reason           TEXT,
    charge_id        TEXT,
    refund_id        TEXT,
    card_last4       TEXT,
    requests         INTEGER NOT NULL,
    applied_at       INTEGER NOT NULL,
    answer           TEXT NOT NULL,
    authorization_id TEXT,
    issued_id        TEXT,
    final_capture    INTEGER,
    expires_at       INTEGER,
    released         INTEGER
);
CREATE INDEX IF NOT EXISTS books_by_reference ON books (kind, reference);
CREATE INDEX IF NOT EXISTS books_by_charge ON books (charge_id, kind);
CREATE INDEX IF NOT EXISTS books_by_authorization ON books (authorization_id, kind);
CREATE TABLE IF NOT EXISTS keys (
    idempotency_key TEXT PRIMARY KEY,
    fingerprint     BLOB NOT NULL,
    first_seen      INTEGER NOT NULL,
    line            INTEGER NOT NULL REFERENCES books (line)
);
";

/// How long opening waits for a file another process holds (a predecessor still exiting).
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The first answer given for a key, replayed as it was.
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
    Authorization,
    Capture,
    Void,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::Refund => "refund",
            Self::Authorization => "authorization",
            Self::Capture => "capture",
            Self::Void => "void",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Charge, Self::Refund, Self::Authorization, Self::Capture, Self::Void]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One idempotency key's line in `GET /ledger`. Holds no card data beyond the last four digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    pub idempotency_key: String,
    pub kind: Kind,
    pub reference: String,
    pub amount: u64,
    pub currency: Currency,
    /// `approved` | `declined` for charges and authorizations, `succeeded` | `rejected` for
    /// refunds, captures and voids.
    pub outcome: String,
    /// The decline code or rejection reason, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(rename = "ChargeID")]
    pub charge_id: Option<String>,
    #[serde(rename = "RefundID", skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_last4: Option<String>,
    /// The authorization an authorization line issued, or a capture, void or refund acts on.
    #[serde(rename = "AuthorizationID", skip_serializing_if = "Option::is_none")]
    pub authorization_id: Option<String>,
    /// The capture's or void's own id.
    #[serde(rename = "OperationID", skip_serializing_if = "Option::is_none")]
    pub issued_id: Option<String>,
    /// A capture's `Final`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_capture: Option<bool>,
    /// Until when an authorization holds its amount, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// What a void released of its authorization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released: Option<u64>,
    /// How many requests carried this key, the first and every replay or refused duplicate.
    pub requests: u64,
    /// When it was applied, ms since the epoch: what a settlement file dates a line by.
    pub applied_at: u64,
}

impl Entry {
    /// A line of `kind` under `key`, its other fields to be filled in by who writes it.
    fn new(key: &str, kind: Kind, reference: &str, amount: u64, currency: Currency, outcome: &str) -> Self {
        Self {
            idempotency_key: key.to_owned(),
            kind,
            reference: reference.to_owned(),
            amount,
            currency,
            outcome: outcome.to_owned(),
            reason: None,
            charge_id: None,
            refund_id: None,
            card_last4: None,
            authorization_id: None,
            issued_id: None,
            final_capture: None,
            expires_at: None,
            released: None,
            requests: 0,
            applied_at: payment_platform::util::now_ms(),
        }
    }
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
    /// Approved authorizations per Reference (payment id): more than 1 means held twice.
    pub authorizations_by_reference: BTreeMap<String, u64>,
    /// Succeeded captures per Reference (capture id): more than 1 means captured twice.
    pub captures_by_reference: BTreeMap<String, u64>,
    /// What the approved authorizations came to, and where that money is now: captured, still
    /// held, released (a void, or the rest after a final capture) or expired.
    pub holds: holds::Holds,
}

/// A key claimed and not yet applied (memory only: it dies with the process, unapplied).
struct InFlight {
    fingerprint: Fingerprint,
    requests: u64,
    first_seen_ms: u64,
}

/// What the books hold, for the start-up log.
#[derive(Debug, Clone, Copy)]
pub struct Held {
    pub lines: u64,
    pub live_keys: u64,
}

pub struct Ledger {
    conn: Connection,
    in_flight: HashMap<String, InFlight>,
    key_ttl_ms: u64,
    /// How long an authorization holds its amount (`BANK_AUTH_VALIDITY_SECS`).
    auth_validity_ms: u64,
    /// Salt of the request fingerprints, kept in the books so a key's fingerprint still compares
    /// after a restart.
    salt: [u8; 16],
}

impl Ledger {
    /// Opens (or creates) the books at `path`; `:memory:` keeps them in memory only.
    pub fn open(path: &Path, key_ttl: Duration) -> anyhow::Result<Self> {
        Self::open_waiting(path, key_ttl, LOCK_WAIT)
    }

    /// How long authorizations applied from now on hold their amount.
    pub fn with_auth_validity(mut self, validity: Duration) -> Self {
        self.auth_validity_ms = u64::try_from(validity.as_millis()).unwrap_or(u64::MAX);
        self
    }

    fn open_waiting(path: &Path, key_ttl: Duration, lock_wait: Duration) -> anyhow::Result<Self> {
        let in_memory = path.as_os_str() == ":memory:";
        if !in_memory && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let conn = Connection::open(path).with_context(|| format!("opening the books at {}", path.display()))?;
        let mode = Self::prepare(&conn, lock_wait).map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                anyhow::anyhow!("the books at {} are open in another bank simulator", path.display())
            }
            _ => anyhow::Error::new(e).context(format!("preparing the books at {}", path.display())),
        })?;
        anyhow::ensure!(in_memory || mode == "wal", "the books at {} refused WAL mode ({mode})", path.display());
        let fresh: [u8; 16] = rand::random();
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('fingerprint_salt', ?1)",
            params![fresh.as_slice()],
        )?;
        let salt: Vec<u8> =
            conn.query_row("SELECT value FROM meta WHERE name = 'fingerprint_salt'", [], |r| r.get(0))?;
        let salt = salt.try_into().map_err(|_| anyhow::anyhow!("the books' fingerprint salt is damaged"))?;
        let key_ttl_ms = u64::try_from(key_ttl.as_millis()).unwrap_or(u64::MAX);
        Ok(Self { conn, in_flight: HashMap::new(), key_ttl_ms, auth_validity_ms: holds::DEFAULT_VALIDITY_MS, salt })
    }

    /// Settings and schema; the first write takes the file's lock, held until the process ends.
    /// Returns the journal mode in force.
    fn prepare(conn: &Connection, lock_wait: Duration) -> rusqlite::Result<String> {
        conn.busy_timeout(lock_wait)?;
        // Before WAL is entered, so no shared-memory index is needed: this process alone uses it.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(conn)?;
        conn.execute_batch(SCHEMA)?;
        Ok(mode)
    }

    /// The salt of request fingerprints.
    pub fn salt(&self) -> [u8; 16] {
        self.salt
    }

    /// Forgets keys past their TTL (their lines stay); what the books hold.
    pub fn tidy(&mut self, now_ms: u64) -> rusqlite::Result<Held> {
        let expired_before = now_ms.saturating_sub(self.key_ttl_ms);
        self.conn.execute("DELETE FROM keys WHERE first_seen <= ?1", [expired_before])?;
        let lines = self.conn.query_row("SELECT COUNT(*) FROM books", [], |r| r.get(0))?;
        let live_keys = self.conn.query_row("SELECT COUNT(*) FROM keys", [], |r| r.get(0))?;
        Ok(Held { lines, live_keys })
    }

    /// Counts the request against its key and says whether to apply it, replay, or refuse it.
    pub fn claim(&mut self, key: &str, fingerprint: Fingerprint) -> Result<Claim, SimError> {
        self.claim_at(key, fingerprint, payment_platform::util::now_ms())
    }

    /// `claim` at `now_ms`: a key first seen `key_ttl` ago or longer counts as unknown.
    pub fn claim_at(&mut self, key: &str, fingerprint: Fingerprint, now_ms: u64) -> Result<Claim, SimError> {
        if let Some(claim) = self.in_flight.get_mut(key) {
            claim.requests += 1;
            return Err(if claim.fingerprint == fingerprint { SimError::KeyInFlight } else { SimError::KeyReused });
        }
        let live = self
            .conn
            .prepare_cached(
                "SELECT k.fingerprint, k.first_seen, k.line, b.answer FROM keys k JOIN books b ON b.line = k.line \
                 WHERE k.idempotency_key = ?1",
            )
            .and_then(|mut s| {
                s.query_row([key], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, u64>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
                })
                .optional()
            })
            .map_err(books_failed)?;
        match live {
            Some((stored, first_seen, line, answer)) if now_ms.saturating_sub(first_seen) < self.key_ttl_ms => {
                // Counted whatever comes of it: a replay or a refused duplicate.
                self.conn
                    .prepare_cached("UPDATE books SET requests = requests + 1 WHERE line = ?1")
                    .and_then(|mut s| s.execute([line]))
                    .map_err(books_failed)?;
                if stored != fingerprint {
                    return Err(SimError::KeyReused);
                }
                let body = serde_json::from_str(&answer).map_err(|_| SimError::Internal)?;
                Ok(Claim::Replay(Answer { status: StatusCode::OK, body }))
            }
            _ => {
                let claim = InFlight { fingerprint, requests: 1, first_seen_ms: now_ms };
                self.in_flight.insert(key.to_owned(), claim);
                Ok(Claim::New)
            }
        }
    }

    /// Forgets a claimed key whose request was never applied (e.g. the bank shut down mid-way).
    pub fn abandon(&mut self, key: &str) {
        self.in_flight.remove(key);
    }

    /// Decides a claimed charge by its card and records the answer.
    pub fn apply_charge(&mut self, key: &str, body: &ChargeBody) -> Result<Answer, SimError> {
        let decline = decline_of(&body.card_number);
        let charge_id = Uuid::new_v4().to_string();
        let answer_body = match decline {
            None => json!({ "ChargeID": charge_id, "Status": "approved" }),
            Some(code) => {
                json!({ "ChargeID": charge_id, "Status": "declined", "DeclineCode": code })
            }
        };
        let outcome = if decline.is_none() { "approved" } else { "declined" };
        let mut entry = Entry::new(key, Kind::Charge, &body.reference, body.amount, body.currency, outcome);
        entry.reason = decline.map(str::to_owned);
        entry.charge_id = Some(charge_id);
        entry.card_last4 = Some(body.card_last4().to_owned());
        self.write(key, |_| Ok((entry, answer_body)))
    }

    /// Decides a claimed refund against its charge (or the captures of its authorization, when
    /// `ChargeID` names one) and records the answer.
    pub fn apply_refund(&mut self, key: &str, body: &RefundBody) -> Result<Answer, SimError> {
        self.write(key, |tx| {
            let charge = tx
                .prepare_cached("SELECT amount, currency, outcome FROM books WHERE charge_id = ?1 AND kind = 'charge'")?
                .query_row([&body.charge_id], |r| {
                    Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                })
                .optional()?;
            let charge = match charge {
                Some(charge) => Some(charge),
                None => holds::captured_of(tx, &body.charge_id)?,
            };
            let refunded: u64 = tx
                .prepare_cached(
                    "SELECT COALESCE(SUM(amount), 0) FROM books \
                     WHERE charge_id = ?1 AND kind = 'refund' AND outcome = 'succeeded'",
                )?
                .query_row([&body.charge_id], |r| r.get(0))?;
            let rejection = match charge {
                None => Some("unknown_charge"),
                Some((_, _, outcome)) if outcome != "approved" => Some("charge_not_approved"),
                Some((_, currency, _)) if currency != body.currency.as_str() => Some("currency_mismatch"),
                Some((amount, _, _)) if refunded.saturating_add(body.amount) > amount => Some("exceeds_charged_amount"),
                Some(_) => None,
            };
            let refund_id = Uuid::new_v4().to_string();
            let answer_body = match rejection {
                None => json!({ "RefundID": refund_id, "Status": "succeeded" }),
                Some(reason) => {
                    json!({ "RefundID": refund_id, "Status": "rejected", "Reason": reason })
                }
            };
            let outcome = if rejection.is_none() { "succeeded" } else { "rejected" };
            let mut entry = Entry::new(key, Kind::Refund, &body.reference, body.amount, body.currency, outcome);
            entry.reason = rejection.map(str::to_owned);
            entry.charge_id = Some(body.charge_id.clone());
            entry.refund_id = Some(refund_id);
            Ok((entry, answer_body))
        })
    }

    /// One transaction: `decide` reads what it needs and returns the line and its answer, which
    /// are written with the key's record. The key leaves the in-flight set either way: applied,
    /// or (the transaction rolled back) never applied.
    fn write<F>(&mut self, key: &str, decide: F) -> Result<Answer, SimError>
    where
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<(Entry, serde_json::Value)>,
    {
        let claim = self.in_flight.remove(key);
        let written = (|| {
            let tx = self.conn.transaction()?;
            let (mut entry, body) = decide(&tx)?;
            entry.requests = claim.as_ref().map_or(0, |c| c.requests);
            tx.prepare_cached(
                "INSERT INTO books (idempotency_key, kind, reference, amount, currency, outcome, reason, charge_id, \
                 refund_id, card_last4, requests, applied_at, answer, authorization_id, issued_id, final_capture, \
                 expires_at, released) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?
            .execute(params![
                entry.idempotency_key,
                entry.kind.as_str(),
                entry.reference,
                entry.amount,
                entry.currency.as_str(),
                entry.outcome,
                entry.reason,
                entry.charge_id,
                entry.refund_id,
                entry.card_last4,
                entry.requests,
                entry.applied_at,
                body.to_string(),
                entry.authorization_id,
                entry.issued_id,
                entry.final_capture,
                entry.expires_at,
                entry.released,
            ])?;
            let line = tx.last_insert_rowid();
            if let Some(claim) = &claim {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO keys (idempotency_key, fingerprint, first_seen, line) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![key, claim.fingerprint.as_slice(), claim.first_seen_ms, line])?;
            }
            tx.commit()?;
            Ok(body)
        })();
        let body = written.map_err(books_failed)?;
        Ok(Answer { status: StatusCode::OK, body })
    }

    /// The line of a remembered, answered key; `None` while it is unknown or in flight.
    pub fn entry(&self, key: &str) -> Result<Option<Entry>, SimError> {
        if self.in_flight.contains_key(key) {
            return Ok(None);
        }
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM books WHERE line = (SELECT line FROM keys WHERE idempotency_key = ?1)"
            ))
            .and_then(|mut s| s.query_row([key], entry_of).optional())
            .map_err(books_failed)
    }

    /// Everything applied under `reference` of `kind`, oldest first: the status inquiry.
    pub fn by_reference(&self, kind: Kind, reference: &str) -> Result<Vec<Entry>, SimError> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM books WHERE kind = ?1 AND reference = ?2 ORDER BY line"))
            .and_then(|mut s| s.query_map([kind.as_str(), reference], entry_of)?.collect())
            .map_err(books_failed)
    }

    pub fn snapshot(&self) -> Result<Snapshot, SimError> {
        let entries: Vec<Entry> = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM books ORDER BY line"))
            .and_then(|mut s| s.query_map([], entry_of)?.collect())
            .map_err(books_failed)?;
        let holds = holds::Holds::of(&entries, payment_platform::util::now_ms());
        let mut snap = Snapshot {
            entries: Vec::new(),
            charged: 0,
            charged_amount: 0,
            refunded_amount: 0,
            charges_by_reference: BTreeMap::new(),
            refunds_by_reference: BTreeMap::new(),
            authorizations_by_reference: BTreeMap::new(),
            captures_by_reference: BTreeMap::new(),
            holds,
        };
        for entry in entries {
            match (entry.kind, entry.outcome.as_str()) {
                (Kind::Charge, "approved") => {
                    snap.charged += 1;
                    snap.charged_amount += entry.amount;
                    *snap.charges_by_reference.entry(entry.reference.clone()).or_default() += 1;
                }
                (Kind::Refund, "succeeded") => {
                    snap.refunded_amount += entry.amount;
                    *snap.refunds_by_reference.entry(entry.reference.clone()).or_default() += 1;
                }
                (Kind::Authorization, "approved") => {
                    *snap.authorizations_by_reference.entry(entry.reference.clone()).or_default() += 1;
                }
                (Kind::Capture, "succeeded") => {
                    *snap.captures_by_reference.entry(entry.reference.clone()).or_default() += 1;
                }
                _ => {}
            }
            snap.entries.push(entry);
        }
        Ok(snap)
    }

    /// How many keys are claimed and not yet applied.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

/// The columns `entry_of` reads, in its order.
const COLUMNS: &str = "idempotency_key, kind, reference, amount, currency, outcome, reason, charge_id, refund_id, \
                       card_last4, requests, applied_at, authorization_id, issued_id, final_capture, expires_at, released";

fn entry_of(r: &Row<'_>) -> rusqlite::Result<Entry> {
    let bad = |i: usize, what: &str| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, what.into());
    let kind = Kind::parse(r.get_ref(1)?.as_str()?).ok_or_else(|| bad(1, "unknown kind"))?;
    let currency = Currency::parse(r.get_ref(4)?.as_str()?).map_err(|_| bad(4, "unknown currency"))?;
    Ok(Entry {
        idempotency_key: r.get(0)?,
        kind,
        reference: r.get(2)?,
        amount: r.get(3)?,
        currency,
        outcome: r.get(5)?,
        reason: r.get(6)?,
        charge_id: r.get(7)?,
        refund_id: r.get(8)?,
        card_last4: r.get(9)?,
        requests: r.get(10)?,
        applied_at: r.get(11)?,
        authorization_id: r.get(12)?,
        issued_id: r.get(13)?,
        final_capture: r.get(14)?,
        expires_at: r.get(15)?,
        released: r.get(16)?,
    })
}

/// The decline a test card number asks for, if any.
fn decline_of(card_number: &str) -> Option<&'static str> {
    match card_number {
        "4000000000000002" => Some("card_declined"),
        "4000000000009995" => Some("insufficient_funds"),
        "4000000000000069" => Some("expired_card"),
        _ => None,
    }
}

/// Books written before authorizations existed: their table allowed only charges and refunds
/// and lacked the columns of holds. SQLite cannot change a CHECK in place, so the table is
/// copied into the new shape once (every line kept, `line` numbers included).
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let old: bool = conn
        .query_row("SELECT COUNT(*) FROM pragma_table_info('books') WHERE name = 'kind'", [], |r| r.get::<_, u64>(0))?
        > 0;
    let new: bool =
        conn.query_row("SELECT COUNT(*) FROM pragma_table_info('books') WHERE name = 'authorization_id'", [], |r| {
            r.get::<_, u64>(0)
        })? > 0;
    if !old || new {
        return Ok(());
    }
    // `legacy_alter_table`: the rename leaves `keys`'s reference naming `books`, the new table.
    conn.execute_batch(
        "PRAGMA legacy_alter_table = ON;
         BEGIN;
         ALTER TABLE books RENAME TO books_v1;
         DROP INDEX IF EXISTS books_by_reference;
         DROP INDEX IF EXISTS books_by_charge;",
    )?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(
        "INSERT INTO books (line, idempotency_key, kind, reference, amount, currency, outcome, reason, charge_id, \
                            refund_id, card_last4, requests, applied_at, answer) \
         SELECT line, idempotency_key, kind, reference, amount, currency, outcome, reason, charge_id, refund_id, \
                card_last4, requests, applied_at, answer FROM books_v1;
         DROP TABLE books_v1;
         COMMIT;
         PRAGMA legacy_alter_table = OFF;",
    )
}

/// A read or write of the books failed: the request gets a 500 and nothing it did is kept.
fn books_failed(e: rusqlite::Error) -> SimError {
    tracing::error!(error = %e, "the books could not be read or written");
    SimError::Internal
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
