use std::path::PathBuf;

use super::*;
use crate::wire::{CaptureBody, VoidBody};

const DAY: Duration = Duration::from_secs(86_400);

fn charge(reference: &str, card: &str, amount: u64) -> ChargeBody {
    let json = format!(
        r#"{{"Reference":"{reference}","Amount":{amount},"Currency":"EUR",
            "CardNumber":"{card}","CardCVV":"123","CardExpiryDate":"12/30"}}"#
    );
    ChargeBody::parse(json.as_bytes()).unwrap()
}

fn refund(reference: &str, charge_id: &str, amount: u64, currency: &str) -> RefundBody {
    let json =
        format!(r#"{{"Reference":"{reference}","ChargeID":"{charge_id}","Amount":{amount},"Currency":"{currency}"}}"#);
    RefundBody::parse(json.as_bytes()).unwrap()
}

fn memory(key_ttl: Duration) -> Ledger {
    Ledger::open(Path::new(":memory:"), key_ttl).unwrap()
}

/// A fresh file of its own under the target's scratch directory.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("bank-books-{}", Uuid::new_v4().simple()));
        Self(dir.join("books.db"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Claims and applies a charge as the handler does; returns its answer body.
fn do_charge(ledger: &mut Ledger, key: &str, body: &ChargeBody) -> serde_json::Value {
    let salt = ledger.salt();
    match ledger.claim(key, body.fingerprint("charge", &salt)).unwrap() {
        Claim::New => ledger.apply_charge(key, body).unwrap().body,
        Claim::Replay(answer) => answer.body,
    }
}

fn do_refund(ledger: &mut Ledger, key: &str, body: &RefundBody) -> serde_json::Value {
    let salt = ledger.salt();
    match ledger.claim(key, body.fingerprint(&salt)).unwrap() {
        Claim::New => ledger.apply_refund(key, body).unwrap().body,
        Claim::Replay(answer) => answer.body,
    }
}

#[test]
fn outcomes_follow_the_test_cards() {
    let mut ledger = memory(DAY);
    let cases = [
        ("4000000000000002", "card_declined"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000069", "expired_card"),
    ];
    for (i, (card, code)) in cases.into_iter().enumerate() {
        let body = do_charge(&mut ledger, &format!("k{i}"), &charge("p", card, 10));
        assert_eq!(body["Status"], "declined");
        assert_eq!(body["DeclineCode"], code);
    }
    let body = do_charge(&mut ledger, "ok", &charge("p", "1234123412341234", 10));
    assert_eq!(body["Status"], "approved");
    assert_eq!(ledger.snapshot().unwrap().charged, 1);
}

#[test]
fn a_key_is_in_flight_until_answered_then_replayed_and_counted() {
    let mut ledger = memory(DAY);
    let body = charge("p1", "1234123412341234", 500);
    let fp = body.fingerprint("charge", b"salt");
    assert_eq!(ledger.claim("k", fp), Ok(Claim::New));
    assert_eq!(ledger.claim("k", fp), Err(SimError::KeyInFlight));
    assert_eq!(ledger.entry("k"), Ok(None));
    assert_eq!(ledger.in_flight(), 1);
    let first = ledger.apply_charge("k", &body).unwrap();
    assert_eq!(ledger.in_flight(), 0);
    assert_eq!(ledger.claim("k", fp), Ok(Claim::Replay(first)));
    let other = charge("p1", "1234123412341234", 501).fingerprint("charge", b"salt");
    assert_eq!(ledger.claim("k", other), Err(SimError::KeyReused));
    let snap = ledger.snapshot().unwrap();
    assert_eq!((snap.charged, snap.charged_amount), (1, 500));
    assert_eq!(snap.entries[0].requests, 4);
    assert_eq!(snap.charges_by_reference["p1"], 1);
    assert_eq!(ledger.entry("k").unwrap().map(|e| e.requests), Some(4));
}

#[test]
fn an_abandoned_key_can_be_claimed_again() {
    let mut ledger = memory(DAY);
    let fp = charge("p", "1234123412341234", 1).fingerprint("charge", b"salt");
    assert_eq!(ledger.claim("k", fp), Ok(Claim::New));
    ledger.abandon("k");
    assert!(ledger.snapshot().unwrap().entries.is_empty());
    assert_eq!(ledger.claim("k", fp), Ok(Claim::New));
}

#[test]
fn refunds_never_exceed_the_charge_and_need_an_approved_charge() {
    let mut ledger = memory(DAY);
    let approved = do_charge(&mut ledger, "c1", &charge("p1", "1234123412341234", 1000));
    let id = approved["ChargeID"].as_str().unwrap().to_owned();
    let declined = do_charge(&mut ledger, "c2", &charge("p2", "4000000000000002", 1000));
    let declined_id = declined["ChargeID"].as_str().unwrap().to_owned();

    let cases = [
        ("r1", refund("f1", &id, 600, "EUR"), "succeeded", None),
        ("r2", refund("f2", &id, 500, "EUR"), "rejected", Some("exceeds_charged_amount")),
        ("r3", refund("f3", &id, 400, "USD"), "rejected", Some("currency_mismatch")),
        ("r4", refund("f4", "nope", 1, "EUR"), "rejected", Some("unknown_charge")),
        ("r5", refund("f5", &declined_id, 1, "EUR"), "rejected", Some("charge_not_approved")),
        ("r6", refund("f6", &id, 400, "EUR"), "succeeded", None),
        ("r7", refund("f7", &id, 1, "EUR"), "rejected", Some("exceeds_charged_amount")),
    ];
    for (key, body, status, reason) in &cases {
        let answer = do_refund(&mut ledger, key, body);
        assert_eq!(answer["Status"], *status, "{key}");
        assert_eq!(answer["Reason"].as_str(), *reason, "{key}");
    }
    // A replay of the first refund moves nothing.
    do_refund(&mut ledger, "r1", &cases[0].1);
    let snap = ledger.snapshot().unwrap();
    assert_eq!(snap.refunded_amount, 1000);
    assert_eq!(snap.refunds_by_reference.len(), 2);
}

#[test]
fn a_key_is_forgotten_after_its_ttl_but_the_books_keep_both_charges() {
    let mut ledger = memory(Duration::from_secs(60));
    let body = charge("pay-1", "1234123412341234", 500);
    let fp = body.fingerprint("charge", b"salt");
    let t0 = payment_platform::util::now_ms();
    assert_eq!(ledger.claim_at("k", fp, t0), Ok(Claim::New));
    let first = ledger.apply_charge("k", &body).unwrap();
    let within = t0 + 59_999;
    assert_eq!(ledger.claim_at("k", fp, within), Ok(Claim::Replay(first.clone())), "remembered within the TTL");
    let after = t0 + 60_000;
    assert_eq!(ledger.claim_at("k", fp, after), Ok(Claim::New), "forgotten: the same key charges again");
    let second = ledger.apply_charge("k", &body).unwrap();
    assert_ne!(first.body["ChargeID"], second.body["ChargeID"]);
    let snap = ledger.snapshot().unwrap();
    assert_eq!((snap.charged, snap.charges_by_reference["pay-1"]), (2, 2), "the books show the double charge");
    assert_eq!(
        snap.entries.iter().map(|e| e.requests).collect::<Vec<_>>(),
        [2, 1],
        "the first line keeps its count, the key now counts for the second"
    );
    let found = ledger.by_reference(Kind::Charge, "pay-1").unwrap();
    assert_eq!(found.len(), 2);
    assert!(ledger.by_reference(Kind::Charge, "pay-2").unwrap().is_empty());
    assert!(ledger.by_reference(Kind::Refund, "pay-1").unwrap().is_empty());
}

#[test]
fn the_books_keys_and_answers_survive_a_reopen() {
    let scratch = Scratch::new();
    let body = charge("pay-1", "1234123412341234", 700);
    let (salt, first, refunded) = {
        let mut ledger = Ledger::open(&scratch.0, DAY).unwrap();
        let first = do_charge(&mut ledger, "charge-pay-1", &body);
        let id = first["ChargeID"].as_str().unwrap().to_owned();
        let refunded = do_refund(&mut ledger, "refund-r1", &refund("r1", &id, 300, "EUR"));
        // Claimed, never applied: the process dies with it in flight.
        assert_eq!(
            ledger.claim("charge-pay-2", charge("pay-2", "1234123412341234", 1).fingerprint("charge", &ledger.salt())),
            Ok(Claim::New)
        );
        (ledger.salt(), first, refunded)
    };
    let mut ledger = Ledger::open(&scratch.0, DAY).unwrap();
    assert_eq!(ledger.salt(), salt, "fingerprints still compare");
    assert_eq!(do_charge(&mut ledger, "charge-pay-1", &body), first, "the key replays its answer");
    let other = charge("pay-1", "1234123412341234", 701).fingerprint("charge", &salt);
    assert_eq!(ledger.claim("charge-pay-1", other), Err(SimError::KeyReused));
    let id = first["ChargeID"].as_str().unwrap();
    let over = do_refund(&mut ledger, "refund-r2", &refund("r2", id, 401, "EUR"));
    assert_eq!(over["Reason"], "exceeds_charged_amount", "the refund before the restart still counts");
    assert_eq!(do_refund(&mut ledger, "refund-r1", &refund("r1", id, 300, "EUR")), refunded);
    let found = ledger.by_reference(Kind::Charge, "pay-1").unwrap();
    assert_eq!((found.len(), found[0].charge_id.as_deref(), found[0].requests), (1, Some(id), 3));
    assert!(ledger.by_reference(Kind::Charge, "pay-2").unwrap().is_empty(), "never applied");
    let fp = charge("pay-2", "1234123412341234", 1).fingerprint("charge", &salt);
    assert_eq!(ledger.claim("charge-pay-2", fp), Ok(Claim::New), "a key in flight at the crash is free again");
    let snap = ledger.snapshot().unwrap();
    assert_eq!((snap.charged, snap.charged_amount, snap.refunded_amount), (1, 700, 300));
}

#[test]
fn expired_keys_are_dropped_at_open_and_their_lines_kept() {
    let scratch = Scratch::new();
    let mut ledger = Ledger::open(&scratch.0, Duration::from_secs(60)).unwrap();
    do_charge(&mut ledger, "k", &charge("pay-1", "1234123412341234", 5));
    let now = payment_platform::util::now_ms();
    assert_eq!(ledger.tidy(now).unwrap().live_keys, 1);
    let opened = ledger.tidy(now + 60_000).unwrap();
    assert_eq!((opened.lines, opened.live_keys), (1, 0));
    assert_eq!(ledger.entry("k"), Ok(None));
    assert_eq!(ledger.by_reference(Kind::Charge, "pay-1").unwrap().len(), 1);
}

#[test]
fn a_second_simulator_cannot_open_the_same_books() {
    let scratch = Scratch::new();
    let _first = Ledger::open(&scratch.0, DAY).unwrap();
    let second = Ledger::open_waiting(&scratch.0, DAY, Duration::from_millis(100));
    let err = second.err().expect("refused while the first holds them").to_string();
    assert!(err.contains("open in another bank simulator"), "{err}");
}

fn capture(reference: &str, auth: &str, amount: u64, last: bool) -> CaptureBody {
    let json = format!(
        r#"{{"Reference":"{reference}","AuthorizationID":"{auth}","Amount":{amount},"Currency":"EUR","Final":{last}}}"#
    );
    CaptureBody::parse(json.as_bytes()).unwrap()
}

fn void(reference: &str, auth: &str) -> VoidBody {
    VoidBody::parse(format!(r#"{{"Reference":"{reference}","AuthorizationID":"{auth}"}}"#).as_bytes()).unwrap()
}

fn do_authorize(ledger: &mut Ledger, key: &str, body: &ChargeBody) -> serde_json::Value {
    let salt = ledger.salt();
    match ledger.claim(key, body.fingerprint("authorization", &salt)).unwrap() {
        Claim::New => ledger.apply_authorization(key, body).unwrap().body,
        Claim::Replay(answer) => answer.body,
    }
}

fn do_capture(ledger: &mut Ledger, key: &str, body: &CaptureBody) -> serde_json::Value {
    let salt = ledger.salt();
    match ledger.claim(key, body.fingerprint(&salt)).unwrap() {
        Claim::New => ledger.apply_capture(key, body).unwrap().body,
        Claim::Replay(answer) => answer.body,
    }
}

fn do_void(ledger: &mut Ledger, key: &str, body: &VoidBody) -> serde_json::Value {
    let salt = ledger.salt();
    match ledger.claim(key, body.fingerprint(&salt)).unwrap() {
        Claim::New => ledger.apply_void(key, body).unwrap().body,
        Claim::Replay(answer) => answer.body,
    }
}

#[test]
fn captures_never_take_more_than_was_authorized_and_a_final_one_releases_the_rest() {
    let mut ledger = memory(DAY);
    let auth = do_authorize(&mut ledger, "a1", &charge("pay-1", "1234123412341234", 1_000));
    assert_eq!(auth["Status"], "approved");
    let id = auth["AuthorizationID"].as_str().unwrap().to_owned();
    assert_eq!(do_capture(&mut ledger, "c1", &capture("cap-1", &id, 400, false))["Status"], "succeeded");
    let over = do_capture(&mut ledger, "c2", &capture("cap-2", &id, 601, false));
    assert_eq!(
        (over["Status"].as_str(), over["Reason"].as_str()),
        (Some("rejected"), Some("exceeds_authorized_amount"))
    );
    assert_eq!(do_capture(&mut ledger, "c3", &capture("cap-3", &id, 100, true))["Status"], "succeeded");
    let after = do_capture(&mut ledger, "c4", &capture("cap-4", &id, 1, false));
    assert_eq!(after["Reason"], "authorization_closed", "nothing after a final capture");
    assert_eq!(do_void(&mut ledger, "v1", &void("pay-1", &id))["Reason"], "authorization_closed");
    let holds = ledger.snapshot().unwrap().holds;
    assert_eq!(
        (holds.authorized_amount, holds.captured_amount, holds.released_amount, holds.held_amount),
        (1_000, 500, 500, 0)
    );
    assert!(holds.over_captured.is_empty());
    // Refunds of a manual payment name its authorization: only captured money comes back.
    let too_much = do_refund(&mut ledger, "r1", &refund("ref-1", &id, 501, "EUR"));
    assert_eq!(too_much["Reason"], "exceeds_charged_amount");
    assert_eq!(do_refund(&mut ledger, "r2", &refund("ref-2", &id, 500, "EUR"))["Status"], "succeeded");
}

#[test]
fn a_void_releases_what_is_left_and_an_expired_authorization_takes_no_capture() {
    let mut ledger = memory(DAY);
    let id = |v: &serde_json::Value| v["AuthorizationID"].as_str().unwrap().to_owned();
    let held = id(&do_authorize(&mut ledger, "a1", &charge("pay-1", "1234123412341234", 700)));
    do_capture(&mut ledger, "c1", &capture("cap-1", &held, 200, false));
    let voided = do_void(&mut ledger, "v1", &void("pay-1", &held));
    assert_eq!((voided["Status"].as_str(), voided["Released"].as_u64()), (Some("succeeded"), Some(500)));
    assert_eq!(do_void(&mut ledger, "v2", &void("pay-1", &held))["Released"], 0, "a second void releases nothing");
    assert_eq!(do_capture(&mut ledger, "c2", &capture("cap-2", &held, 1, false))["Reason"], "authorization_closed");
    let mut short = memory(DAY).with_auth_validity(Duration::from_millis(1));
    let gone = id(&do_authorize(&mut short, "a2", &charge("pay-2", "1234123412341234", 300)));
    std::thread::sleep(Duration::from_millis(5)); // the books' own clock must pass the expiry
    assert_eq!(do_capture(&mut short, "c3", &capture("cap-3", &gone, 1, false))["Reason"], "authorization_expired");
    let holds = short.snapshot().unwrap().holds;
    assert_eq!((holds.expired_amount, holds.held_amount, holds.released_amount), (300, 0, 0));
    let declined = do_authorize(&mut ledger, "a3", &charge("pay-3", "4000000000000002", 10));
    assert_eq!(declined["DeclineCode"], "card_declined");
    let found = ledger.by_reference(Kind::Authorization, "pay-1").unwrap();
    assert_eq!((found.len(), found[0].authorization_id.as_deref()), (1, Some(held.as_str())));
    assert_eq!(ledger.by_reference(Kind::Void, "pay-1").unwrap().len(), 2);
}

#[test]
fn books_from_before_authorizations_are_moved_to_the_new_shape_with_every_line() {
    let scratch = Scratch::new();
    std::fs::create_dir_all(scratch.0.parent().unwrap()).unwrap();
    {
        let old = Connection::open(&scratch.0).unwrap();
        old.execute_batch(
            "CREATE TABLE books (line INTEGER PRIMARY KEY, idempotency_key TEXT NOT NULL, \
             kind TEXT NOT NULL CHECK (kind IN ('charge', 'refund')), reference TEXT NOT NULL, amount INTEGER NOT NULL, \
             currency TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT, charge_id TEXT, refund_id TEXT, \
             card_last4 TEXT, requests INTEGER NOT NULL, applied_at INTEGER NOT NULL, answer TEXT NOT NULL);
             INSERT INTO books VALUES (7, 'k', 'charge', 'pay-1', 500, 'EUR', 'approved', NULL, 'ch-1', NULL, '1234', 1, 1, '{}');",
        )
        .unwrap();
    }
    let mut ledger = Ledger::open(&scratch.0, DAY).unwrap();
    let old = ledger.by_reference(Kind::Charge, "pay-1").unwrap();
    assert_eq!((old.len(), old[0].charge_id.as_deref()), (1, Some("ch-1")));
    let auth = do_authorize(&mut ledger, "a1", &charge("pay-2", "1234123412341234", 5));
    assert_eq!(auth["Status"], "approved", "the new kinds are accepted");
}
