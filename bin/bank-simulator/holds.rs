//! Authorizations, captures and voids: money held on the card, then taken in one or more
//! captures or released. An authorization holds its amount until `auth_validity` after it was
//! applied; a capture takes part or all of what is left (never more), and a final one releases the
//! rest; a void releases what is left; an authorization nobody closes expires. Each is one line of
//! the books, applied once per live key like a charge, and found again by reference.
use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::super::error::SimError;
use super::super::wire::{CaptureBody, ChargeBody, VoidBody};
use super::{Answer, Entry, Kind, Ledger, decline_of};
use payment_platform::domain::money::Currency;

/// `BANK_AUTH_VALIDITY_SECS`'s default: 7 days, as card schemes commonly allow.
pub const DEFAULT_VALIDITY_MS: u64 = 7 * 24 * 3_600_000;

/// An approved authorization as the books hold it.
struct Authorization {
    amount: u64,
    currency: String,
    expires_at: u64,
}

/// Where the money of every approved authorization is now (`GET /ledger`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Holds {
    pub authorized_amount: u64,
    pub captured_amount: u64,
    /// Still held: live authorizations, less what was captured.
    pub held_amount: u64,
    /// Given back before expiry: by a void, or the rest after a final capture.
    pub released_amount: u64,
    /// Given back by expiry: what nobody captured or released in time.
    pub expired_amount: u64,
    /// Authorizations whose captures add up to more than they held: always empty (the bank
    /// refuses such a capture); a reconciliation checks it.
    pub over_captured: Vec<String>,
}

impl Holds {
    /// The holds of `entries` (the whole books) at `now_ms`.
    pub fn of(entries: &[Entry], now_ms: u64) -> Self {
        struct Hold {
            amount: u64,
            expires_at: u64,
            captured: u64,
            closed_at: Option<u64>,
        }
        let mut holds: BTreeMap<&str, Hold> = BTreeMap::new();
        for e in entries {
            let id = e.authorization_id.as_deref().unwrap_or_default();
            match (e.kind, e.outcome.as_str()) {
                (Kind::Authorization, "approved") => {
                    let expires_at = e.expires_at.unwrap_or(u64::MAX);
                    holds.insert(id, Hold { amount: e.amount, expires_at, captured: 0, closed_at: None });
                }
                (Kind::Capture, "succeeded") => {
                    if let Some(h) = holds.get_mut(id) {
                        h.captured += e.amount;
                        if e.final_capture == Some(true) {
                            h.closed_at = h.closed_at.or(Some(e.applied_at));
                        }
                    }
                }
                (Kind::Void, "succeeded") => {
                    if let Some(h) = holds.get_mut(id) {
                        h.closed_at = h.closed_at.or(Some(e.applied_at));
                    }
                }
                _ => {}
            }
        }
        let mut out = Self::default();
        for (id, h) in holds {
            out.authorized_amount += h.amount;
            out.captured_amount += h.captured;
            if h.captured > h.amount {
                out.over_captured.push(id.to_owned());
            }
            let rest = h.amount.saturating_sub(h.captured);
            match h.closed_at {
                Some(at) if at < h.expires_at => out.released_amount += rest,
                _ if now_ms >= h.expires_at => out.expired_amount += rest,
                _ => out.held_amount += rest,
            }
        }
        out
    }
}

impl Ledger {
    /// Decides a claimed authorization by its card, like a charge, and records the answer.
    pub fn apply_authorization(&mut self, key: &str, body: &ChargeBody) -> Result<Answer, SimError> {
        let decline = decline_of(&body.card_number);
        let id = Uuid::new_v4().to_string();
        let mut entry = Entry::new(
            key,
            Kind::Authorization,
            &body.reference,
            body.amount,
            body.currency,
            if decline.is_none() { "approved" } else { "declined" },
        );
        let expires_at = entry.applied_at.saturating_add(self.auth_validity_ms);
        let answer = match decline {
            None => json!({ "AuthorizationID": id, "Status": "approved", "ExpiresAt": expires_at }),
            Some(code) => json!({ "AuthorizationID": id, "Status": "declined", "DeclineCode": code }),
        };
        entry.reason = decline.map(str::to_owned);
        entry.authorization_id = Some(id);
        entry.card_last4 = Some(body.card_last4().to_owned());
        entry.expires_at = decline.is_none().then_some(expires_at);
        self.write(key, |_| Ok((entry, answer)))
    }

    /// Decides a claimed capture against what is left of its authorization.
    pub fn apply_capture(&mut self, key: &str, body: &CaptureBody) -> Result<Answer, SimError> {
        self.write(key, |tx| {
            let now = payment_platform::util::now_ms();
            let rejection = match authorization(tx, &body.authorization_id)? {
                None => Some("unknown_authorization"),
                Some(a) if a.currency != body.currency.as_str() => Some("currency_mismatch"),
                Some(_) if closed(tx, &body.authorization_id)?.is_some() => Some("authorization_closed"),
                Some(a) if now >= a.expires_at => Some("authorization_expired"),
                Some(a) if captured(tx, &body.authorization_id)?.saturating_add(body.amount) > a.amount => {
                    Some("exceeds_authorized_amount")
                }
                Some(_) => None,
            };
            let id = Uuid::new_v4().to_string();
            let answer = match rejection {
                None => json!({ "CaptureID": id, "Status": "succeeded" }),
                Some(reason) => json!({ "CaptureID": id, "Status": "rejected", "Reason": reason }),
            };
            let outcome = if rejection.is_none() { "succeeded" } else { "rejected" };
            let mut entry = Entry::new(key, Kind::Capture, &body.reference, body.amount, body.currency, outcome);
            entry.reason = rejection.map(str::to_owned);
            entry.authorization_id = Some(body.authorization_id.clone());
            entry.issued_id = Some(id);
            entry.final_capture = Some(body.r#final);
            Ok((entry, answer))
        })
    }

    /// Decides a claimed void: what is left of the authorization is released. A void of an
    /// authorization already voided or expired succeeds and releases nothing; one closed by a
    /// final capture is refused (its rest was released then).
    pub fn apply_void(&mut self, key: &str, body: &VoidBody) -> Result<Answer, SimError> {
        self.write(key, |tx| {
            let now = payment_platform::util::now_ms();
            let auth = authorization(tx, &body.authorization_id)?;
            let closing = closed(tx, &body.authorization_id)?;
            let (rejection, released) = match &auth {
                None => (Some("unknown_authorization"), 0),
                Some(_) if closing == Some(Kind::Capture) => (Some("authorization_closed"), 0),
                Some(a) if closing.is_some() || now >= a.expires_at => (None, 0),
                Some(a) => (None, a.amount.saturating_sub(captured(tx, &body.authorization_id)?)),
            };
            // A void of an unknown authorization has no currency of its own: its line says EUR.
            let currency = auth.as_ref().map_or("EUR", |a| a.currency.as_str());
            let currency = Currency::parse(currency).unwrap_or_else(|_| Currency::parse("EUR").expect("a currency"));
            let id = Uuid::new_v4().to_string();
            let answer = match rejection {
                None => json!({ "VoidID": id, "Status": "succeeded", "Released": released }),
                Some(reason) => json!({ "VoidID": id, "Status": "rejected", "Reason": reason }),
            };
            let outcome = if rejection.is_none() { "succeeded" } else { "rejected" };
            let mut entry = Entry::new(key, Kind::Void, &body.reference, released, currency, outcome);
            entry.reason = rejection.map(str::to_owned);
            entry.authorization_id = Some(body.authorization_id.clone());
            entry.issued_id = Some(id);
            entry.released = rejection.is_none().then_some(released);
            Ok((entry, answer))
        })
    }
}

/// The approved authorization `id`, if the books hold one.
fn authorization(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Option<Authorization>> {
    tx.prepare_cached(
        "SELECT amount, currency, expires_at FROM books \
         WHERE authorization_id = ?1 AND kind = 'authorization' AND outcome = 'approved'",
    )?
    .query_row([id], |r| Ok(Authorization { amount: r.get(0)?, currency: r.get(1)?, expires_at: r.get(2)? }))
    .optional()
}

/// What succeeded captures of `id` took.
fn captured(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<u64> {
    tx.prepare_cached(
        "SELECT COALESCE(SUM(amount), 0) FROM books \
         WHERE authorization_id = ?1 AND kind = 'capture' AND outcome = 'succeeded'",
    )?
    .query_row([id], |r| r.get(0))
}

/// What closed `id`, if anything did: a succeeded final capture or a succeeded void.
fn closed(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Option<Kind>> {
    let kind: Option<String> = tx
        .prepare_cached(
            "SELECT kind FROM books WHERE authorization_id = ?1 AND outcome = 'succeeded' \
             AND ((kind = 'capture' AND final_capture = 1) OR kind = 'void') ORDER BY line LIMIT 1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(kind.as_deref().and_then(Kind::parse))
}

/// For a refund naming an authorization: what its captures took, as a charge would show it
/// (amount, currency, `approved`), so a refund never returns more than was captured.
pub fn captured_of(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Option<(u64, String, String)>> {
    let Some(auth) = authorization(tx, id)? else { return Ok(None) };
    Ok(Some((captured(tx, id)?, auth.currency, "approved".to_owned())))
}
