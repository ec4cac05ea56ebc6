use super::*;

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

/// Claims and applies a charge as the handler does; returns its answer body.
fn do_charge(ledger: &mut Ledger, key: &str, body: &ChargeBody) -> serde_json::Value {
    match ledger.claim(key, body.fingerprint(b"salt")).unwrap() {
        Claim::New => ledger.apply_charge(key, body).body,
        Claim::Replay(answer) => answer.body,
    }
}

fn do_refund(ledger: &mut Ledger, key: &str, body: &RefundBody) -> serde_json::Value {
    match ledger.claim(key, body.fingerprint(b"salt")).unwrap() {
        Claim::New => ledger.apply_refund(key, body).body,
        Claim::Replay(answer) => answer.body,
    }
}

#[test]
fn outcomes_follow_the_test_cards() {
    let mut ledger = Ledger::default();
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
    assert_eq!(ledger.snapshot().charged, 1);
}

#[test]
fn a_key_is_in_flight_until_answered_then_replayed_and_counted() {
    let mut ledger = Ledger::default();
    let body = charge("p1", "1234123412341234", 500);
    let fp = body.fingerprint(b"salt");
    assert_eq!(ledger.claim("k", fp), Ok(Claim::New));
    assert_eq!(ledger.claim("k", fp), Err(SimError::KeyInFlight));
    assert!(ledger.entry("k").is_none());
    let first = ledger.apply_charge("k", &body);
    assert_eq!(ledger.claim("k", fp), Ok(Claim::Replay(first)));
    let other = charge("p1", "1234123412341234", 501).fingerprint(b"salt");
    assert_eq!(ledger.claim("k", other), Err(SimError::KeyReused));
    let snap = ledger.snapshot();
    assert_eq!((snap.charged, snap.charged_amount), (1, 500));
    assert_eq!(snap.entries[0].requests, 4);
    assert_eq!(snap.charges_by_reference["p1"], 1);
}

#[test]
fn an_abandoned_key_can_be_claimed_again() {
    let mut ledger = Ledger::default();
    let fp = charge("p", "1234123412341234", 1).fingerprint(b"salt");
    assert_eq!(ledger.claim("k", fp), Ok(Claim::New));
    ledger.abandon("k");
    assert!(ledger.snapshot().entries.is_empty());
    assert_eq!(ledger.claim("k", fp), Ok(Claim::New));
}

#[test]
fn refunds_never_exceed_the_charge_and_need_an_approved_charge() {
    let mut ledger = Ledger::default();
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
    let snap = ledger.snapshot();
    assert_eq!(snap.refunded_amount, 1000);
    assert_eq!(snap.refunds_by_reference.len(), 2);
}

#[test]
fn a_key_is_forgotten_after_its_ttl_but_the_books_keep_both_charges() {
    let mut ledger = Ledger::new(std::time::Duration::from_secs(60));
    let body = charge("pay-1", "1234123412341234", 500);
    let fp = body.fingerprint(b"salt");
    let t0 = std::time::Instant::now();
    assert_eq!(ledger.claim_at("k", fp, t0), Ok(Claim::New));
    let first = ledger.apply_charge("k", &body);
    let within = t0 + std::time::Duration::from_secs(59);
    assert_eq!(ledger.claim_at("k", fp, within), Ok(Claim::Replay(first.clone())), "remembered within the TTL");
    let after = t0 + std::time::Duration::from_secs(60);
    assert_eq!(ledger.claim_at("k", fp, after), Ok(Claim::New), "forgotten: the same key charges again");
    let second = ledger.apply_charge("k", &body);
    assert_ne!(first.body["ChargeID"], second.body["ChargeID"]);
    let snap = ledger.snapshot();
    assert_eq!((snap.charged, snap.charges_by_reference["pay-1"]), (2, 2), "the books show the double charge");
    let found = ledger.by_reference(Kind::Charge, "pay-1");
    assert_eq!(found.len(), 2);
    assert!(ledger.by_reference(Kind::Charge, "pay-2").is_empty());
    assert!(ledger.by_reference(Kind::Refund, "pay-1").is_empty());
}
