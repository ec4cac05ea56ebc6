use std::net::IpAddr;

use super::*;
use crate::domain::events::EventType;
use crate::domain::ids::MerchantId;

fn endpoint(types: Vec<EventType>) -> Endpoint {
    Endpoint {
        id: EndpointId::new(),
        merchant_id: MerchantId::parse("test@merchant").unwrap(),
        url: WebhookUrl::parse("https://hooks.example.com/payments", false).unwrap(),
        event_types: types,
        description: None,
        status: EndpointStatus::Enabled,
        disabled_reason: None,
        secrets: vec![SecretEntry { sealed: "s1".into(), created_ms: 0, expires_ms: None }],
        created_ms: 0,
        failing_since_ms: None,
        revision: 0,
    }
}

#[test]
fn endpoint_ids_round_trip_and_nothing_else_parses() {
    let id = EndpointId::new();
    assert_eq!(EndpointId::parse(&id.to_string()), Some(id));
    for bad in ["", "we_", "we_XYZ", "evt_0b6f8c1e2b7d4c1e9a550d2f3b4c5d6e", "we_0B6F8C1E2B7D4C1E9A550D2F3B4C5D6E"] {
        assert_eq!(EndpointId::parse(bad), None, "{bad}");
    }
}

#[test]
fn production_accepts_only_https_to_public_hosts() {
    assert!(WebhookUrl::parse("https://hooks.example.com/x?y=1", false).is_ok());
    assert!(WebhookUrl::parse("https://93.184.216.34/x", false).is_ok());
    for (url, why) in [
        ("http://hooks.example.com/x", UrlError::NotHttps),
        ("https://169.254.169.254/latest/meta-data", UrlError::NotPublic),
        ("https://10.1.2.3/", UrlError::NotPublic),
        ("https://127.0.0.1:8080/", UrlError::NotPublic),
        ("https://[::1]/", UrlError::NotPublic),
        ("https://[::ffff:10.0.0.1]/", UrlError::NotPublic),
        ("https://[fd00::1]/", UrlError::NotPublic),
        ("https://localhost/", UrlError::NotPublic),
        ("https://metadata.google.internal/", UrlError::NotPublic),
        ("https://intranet/", UrlError::NotPublic),
        ("https://user:pw@hooks.example.com/", UrlError::Credentials),
        ("ftp://hooks.example.com/", UrlError::Malformed),
        ("not a url", UrlError::Malformed),
    ] {
        assert_eq!(WebhookUrl::parse(url, false), Err(why), "{url}");
    }
    assert_eq!(
        WebhookUrl::parse(&format!("https://a.example.com/{}", "x".repeat(2048)), true),
        Err(UrlError::Malformed)
    );
}

#[test]
fn the_emulator_allows_local_http_receivers() {
    assert!(WebhookUrl::parse("http://127.0.0.1:4700/", true).is_ok());
    assert_eq!(WebhookUrl::parse("file:///etc/passwd", true), Err(UrlError::Malformed));
}

#[test]
fn public_addresses_are_told_from_internal_ones() {
    for ip in ["8.8.8.8", "2606:4700:4700::1111", "100.128.0.1", "172.32.0.1", "64:ff9b::808:808", "2002:808:808::1"] {
        assert!(is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
    for ip in [
        "0.0.0.0",
        "100.64.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "224.0.0.1",
        "255.255.255.255",
        "::",
        "fe80::1",
        "64:ff9b::a9fe:a9fe",
    ] {
        assert!(!is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
}

#[test]
fn an_endpoint_wants_its_types_while_enabled() {
    let mut e = endpoint(vec![EventType::PaymentSucceeded]);
    assert!(e.wants(EventType::PaymentSucceeded));
    assert!(!e.wants(EventType::PaymentCreated));
    assert!(endpoint(vec![]).wants(EventType::RefundFailed), "no types means every type");
    assert!(e.apply(EndpointEffect::Gone, 10, 1000));
    assert_eq!((e.status, e.disabled_reason.as_deref()), (EndpointStatus::Disabled, Some("gone")));
    assert!(!e.wants(EventType::PaymentSucceeded));
}

#[test]
fn an_endpoint_failing_without_a_success_for_long_enough_is_disabled() {
    let mut e = endpoint(vec![]);
    assert!(e.apply(EndpointEffect::Failed, 1_000, 5_000));
    assert!(!e.apply(EndpointEffect::Failed, 3_000, 5_000), "still failing since 1000: nothing to write");
    assert!(e.apply(EndpointEffect::Succeeded, 4_000, 5_000));
    assert_eq!(e.failing_since_ms, None);
    e.apply(EndpointEffect::Failed, 10_000, 5_000);
    assert_eq!(e.status, EndpointStatus::Enabled);
    assert!(e.apply(EndpointEffect::Failed, 15_000, 5_000));
    assert_eq!((e.status, e.disabled_reason.as_deref()), (EndpointStatus::Disabled, Some("failing")));
}

#[test]
fn a_rotated_secret_signs_beside_the_new_one_for_a_day() {
    let mut e = endpoint(vec![]);
    e.rotate("s2".into(), 1_000);
    let at = |ms| e.signing_secrets(ms).map(|s| s.sealed.clone()).collect::<Vec<_>>();
    assert_eq!(at(1_000), ["s2", "s1"]);
    assert_eq!(at(1_000 + ROTATION_OVERLAP_MS), ["s2"]);
    e.rotate("s3".into(), 2_000 + ROTATION_OVERLAP_MS);
    assert_eq!(e.secrets.len(), 2, "an expired secret is dropped at the next rotation");
    // Rotated again within the day (a retry after a lost answer): the secret the receivers had
    // keeps its own overlap, it is not cut off.
    e.rotate("s4".into(), 3_000 + ROTATION_OVERLAP_MS);
    let signing = |e: &Endpoint, ms| e.signing_secrets(ms).map(|s| s.sealed.clone()).collect::<Vec<_>>();
    assert_eq!(signing(&e, 3_000 + ROTATION_OVERLAP_MS), ["s4", "s3", "s2"]);
    assert_eq!(signing(&e, 2_000 + 2 * ROTATION_OVERLAP_MS), ["s4", "s3"], "s2 ends a day after its rotation");
    // A third rotation within the day: three sign at most, the oldest stops.
    e.rotate("s5".into(), 4_000 + ROTATION_OVERLAP_MS);
    assert_eq!(signing(&e, 4_000 + ROTATION_OVERLAP_MS), ["s5", "s4", "s3"]);
    assert_eq!(e.secrets.len(), MAX_SIGNING_SECRETS);
}

#[test]
fn the_default_schedule_is_the_contracts() {
    let s = RetrySchedule::default();
    let min = 60_000;
    let delays: Vec<_> = (1..=8).map(|n| s.after(n)).collect();
    assert_eq!(
        delays,
        [
            Some(5_000),
            Some(5 * min),
            Some(30 * min),
            Some(120 * min),
            Some(300 * min),
            Some(600 * min),
            Some(600 * min),
            None
        ]
    );
    assert_eq!(s.attempts(), 8);
    assert_eq!(
        RetrySchedule::parse("200ms, 1s,2m,1h").unwrap(),
        RetrySchedule::parse("200ms,1000ms,120000ms,3600000ms").unwrap()
    );
    for bad in ["", "5", "5x", "s", "-1s", "1s,,2s"] {
        assert!(RetrySchedule::parse(bad).is_err(), "{bad}");
    }
}

fn failed(status: u16) -> AttemptOutcome {
    AttemptOutcome::Answered { status, retry_after_ms: None }
}

#[test]
fn a_delivery_is_retried_on_the_schedule_with_jitter_until_it_runs_out() {
    let schedule = RetrySchedule::parse("1s,10s").unwrap();
    let mut d = Delivery::new(EndpointId::new(), 0);
    let (effect, record) = d.settle(&failed(500), 100, 7, &schedule, 0.5);
    assert_eq!((effect, d.state, d.due_ms), (EndpointEffect::Failed, DeliveryState::Pending, 1_100));
    assert_eq!((record.number, record.status_code, record.latency_ms), (1, Some(500), 7));
    d.settle(&AttemptOutcome::Timeout, 2_000, 15, &schedule, 0.0);
    assert_eq!(d.due_ms, 2_000 + 10_000 - 1_000, "jitter takes up to 10 % off");
    let (_, record) = d.settle(&AttemptOutcome::Unreachable, 11_000, 1, &schedule, 0.99);
    assert_eq!((d.state, record.error.as_deref(), record.number), (DeliveryState::Failed, Some("unreachable"), 3));
    assert_eq!(next_due(&[d]), None);
}

#[test]
fn success_delivers_410_fails_at_once_and_retry_after_is_honoured() {
    let schedule = RetrySchedule::default();
    let mut ok = Delivery::new(EndpointId::new(), 0);
    assert_eq!(ok.settle(&failed(204), 0, 1, &schedule, 0.5).0, EndpointEffect::Succeeded);
    assert_eq!(ok.state, DeliveryState::Delivered);
    let mut gone = Delivery::new(EndpointId::new(), 0);
    assert_eq!(gone.settle(&failed(410), 0, 1, &schedule, 0.5).0, EndpointEffect::Gone);
    assert_eq!(gone.state, DeliveryState::Failed);
    let mut redirected = Delivery::new(EndpointId::new(), 0);
    assert_eq!(redirected.settle(&failed(301), 0, 1, &schedule, 0.5).0, EndpointEffect::Failed);
    let mut busy = Delivery::new(EndpointId::new(), 0);
    busy.settle(&AttemptOutcome::Answered { status: 429, retry_after_ms: Some(60_000) }, 0, 1, &schedule, 0.5);
    assert_eq!(busy.due_ms, 60_000, "Retry-After beyond the 5 s step");
    let mut huge = Delivery::new(EndpointId::new(), 0);
    huge.settle(&AttemptOutcome::Answered { status: 503, retry_after_ms: Some(u64::MAX) }, 0, 1, &schedule, 0.5);
    assert_eq!(huge.due_ms, MAX_RETRY_AFTER_MS);
    let mut replanned = gone.clone();
    replanned.replan(99);
    assert!(replanned.is_due(99));
    assert_eq!((replanned.tries, replanned.attempts), (0, 1));
}

#[test]
fn what_a_merchant_s_endpoints_want_is_the_union_of_the_enabled_ones() {
    assert!(EventType::ALL.len() <= 32, "one bit per type");
    let one = endpoint(vec![EventType::PaymentSucceeded]);
    let two = endpoint(vec![EventType::RefundSucceeded, EventType::PaymentFailed]);
    let wanted = Wanted::of([&one, &two]);
    for kind in EventType::ALL {
        let expected =
            matches!(kind, EventType::PaymentSucceeded | EventType::RefundSucceeded | EventType::PaymentFailed);
        assert_eq!(wanted.wants(*kind), expected, "{kind:?}");
    }
    let mut off = endpoint(vec![]);
    off.status = EndpointStatus::Disabled;
    assert_eq!(Wanted::of([&off]), Wanted::NONE, "a disabled endpoint wants nothing");
    assert_eq!(Wanted::of([&one, &endpoint(vec![])]), Wanted::ALL, "no types: every type");
    assert!(EventType::ALL.iter().all(|k| Wanted::ALL.wants(*k) && !Wanted::NONE.wants(*k)));
}
