//! The dashboard's forms and sessions as a hostile or clumsy client meets them, over plain HTTP
//! against real processes: a double-submitted refund is one refund; a form without its CSRF
//! token, or with another session's, changes nothing; a session the API no longer accepts, or
//! past its expiry, is sent to sign in (no 500); a crafted id never reaches another route; every
//! page carries the security headers and no cookie leaves its attributes behind; the payments
//! list filters by status, customer and dates. Every page these tests meet, error pages and the
//! one that shows a secret among them, goes through the HTML checker.
use std::time::Duration;

use payment_platform::dashboard::session::{Cookies, SESSION, Session};
use payment_platform::vault::AeadVault;
use reqwest::StatusCode;

use super::support::app::card_request;
use super::support::dashboard::{self, HtmlCheck, Visitor};
use super::support::system::System;

const WITHIN: Duration = Duration::from_secs(60);

/// A session cookie sealed with the development key, as the dashboard seals them, holding
/// `token` until `expires_at_ms`: what a stolen-and-replayed or long-kept cookie looks like.
fn sealed_session(token: &str, expires_at_ms: u64) -> String {
    let cookies =
        Cookies::new(AeadVault::new(payment_platform::config::DEV_DASHBOARD_SESSION_KEY, &[]).unwrap(), false);
    let set = cookies.set(SESSION, Some(&Session::new(token.into(), "test@merchant".into(), expires_at_ms)), 3600);
    let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
    pair.split_once('=').unwrap().1.to_owned()
}

#[tokio::test]
async fn forms_refuse_forgery_a_double_submit_refunds_once_and_a_dead_session_signs_in_again() {
    let sys = System::start("dash-forms", &[], &[]).await;
    // Short, so the test's stalled API is "no answer" quickly.
    let dash = dashboard::start(&sys, &[("DASHBOARD_API_TIMEOUT_MS", "2000")]).await;
    let base = format!("http://127.0.0.1:{}", dash.port);
    let id = sys.app.create_ok(&card_request("4242424242424242", 5000)).await;
    sys.settled(&id, WITHIN).await;

    let mut html = HtmlCheck::new("dashboard-forms");
    let mut staff = Visitor::new(&base);
    staff.sign_in_dev().await;
    let page = staff.get(&format!("/payments/{id}")).await;
    assert_eq!(page.status, 200);
    for (header, expected) in [
        ("content-security-policy", "script-src 'none'"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
    ] {
        let value = page.headers.get(header).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(value.contains(expected), "{header}: {value}");
    }
    let action = format!("/payments/{id}/refund");
    let csrf = page.field(&action, "csrf").expect("the refund form's csrf");
    let key = page.field(&action, "idempotency_key").expect("the refund form's key");

    // A double click: the same form, twice at once, is one refund.
    let form = [("csrf", csrf.as_str()), ("idempotency_key", key.as_str()), ("currency", "EUR"), ("amount", "10.00")];
    let mut twin = Visitor::new(&base);
    twin.cookies = staff.cookies.clone();
    let (a, b) = tokio::join!(staff.post(&action, &form), twin.post(&action, &form));
    for answer in [&a, &b] {
        assert!(
            answer.status == StatusCode::SEE_OTHER || answer.body.contains("busy with another change"),
            "{}: {}",
            answer.status,
            answer.body
        );
    }
    let again = staff.post(&action, &form).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "a later resubmit replays: {}", again.body);
    let settled = sys.settled(&id, WITHIN).await;
    let refunds = settled["Refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "one refund for three submits of one form: {refunds:?}");
    assert_eq!(refunds[0]["Amount"], 1000);

    // The API stalls mid-refund (SIGSTOP): the page says it could not confirm, and offers the
    // same request again, same key, same amount, fixed. Sent again once the API is back, it is
    // replayed: one refund, not two.
    let fresh = staff.get(&format!("/payments/{id}")).await;
    let (csrf, key) = (fresh.field(&action, "csrf").unwrap(), fresh.field(&action, "idempotency_key").unwrap());
    sys.api.signal("STOP");
    let stalled =
        staff.post(&action, &[("csrf", &csrf), ("idempotency_key", &key), ("currency", "EUR"), ("amount", "7")]).await;
    sys.api.signal("CONT");
    assert_eq!(stalled.status, StatusCode::BAD_GATEWAY, "{}", stalled.body);
    assert!(stalled.body.contains("Nothing was sent twice"), "{}", stalled.body);
    assert_eq!(stalled.field(&action, "idempotency_key").as_deref(), Some(key.as_str()), "the same key");
    assert!(stalled.body.contains("value=\"7\" readonly"), "the same amount, fixed: {}", stalled.body);
    assert!(!stalled.body.contains("http-equiv=\"refresh\""), "an answer to a POST never reloads itself");
    html.keep("same-request-again", &stalled.body);
    let again =
        staff.post(&action, &[("csrf", &csrf), ("idempotency_key", &key), ("currency", "EUR"), ("amount", "7")]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let settled = sys.settled(&id, WITHIN).await;
    let sevens = settled["Refunds"].as_array().unwrap().iter().filter(|r| r["Amount"] == 700).count();
    assert_eq!(sevens, 1, "one refund of 7.00 for a stalled request and its retry: {settled}");

    // Without the CSRF token, or with another session's, nothing happens.
    let fresh_key = uuid::Uuid::new_v4().to_string();
    let mut other = Visitor::new(&base);
    other.sign_in_dev().await;
    let other_csrf = other.get("/payments").await.field("/sign-out", "csrf").expect("the sign-out form's csrf");
    for forged in [
        vec![("idempotency_key", fresh_key.as_str()), ("amount", "5.00")],
        vec![("csrf", ""), ("idempotency_key", fresh_key.as_str()), ("amount", "5.00")],
        vec![("csrf", other_csrf.as_str()), ("idempotency_key", fresh_key.as_str()), ("amount", "5.00")],
    ] {
        let refused = staff.post(&action, &forged).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        assert!(refused.body.contains("This form was not sent from this dashboard"), "{}", refused.body);
        html.keep("forged-form", &refused.body);
    }
    let cancel = staff.post(&format!("/payments/{id}/cancel"), &[("idempotency_key", fresh_key.as_str())]).await;
    assert_eq!(cancel.status, StatusCode::FORBIDDEN);
    assert_eq!(sys.app.get_json(&id).await["Refunds"].as_array().unwrap().len(), 2, "nothing more was refunded");

    // A form field that is not an amount, or not one of our keys, is a sentence, not a 500.
    let fresh = staff.get(&format!("/payments/{id}")).await;
    let (csrf, key) = (fresh.field(&action, "csrf").unwrap(), fresh.field(&action, "idempotency_key").unwrap());
    let typo = staff
        .post(&action, &[("csrf", &csrf), ("idempotency_key", &key), ("currency", "EUR"), ("amount", "12,3.4.5")])
        .await;
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(typo.body.contains("is not an amount in EUR"), "{}", typo.body);
    html.keep("not-an-amount", &typo.body);
    let bad_key = staff
        .post(&action, &[("csrf", &csrf), ("idempotency_key", "x'); drop"), ("currency", "EUR"), ("amount", "1")])
        .await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
    html.keep("bad-key", &bad_key.body);

    // Ids that are not ids never reach the API's other routes.
    for path in ["/payments/..%2Fwebhook-endpoints", "/payments/a.b", "/events/a%3Fb", "/nowhere"] {
        let missing = staff.get(path).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}: {}", missing.body);
        html.keep("no-such-page", &missing.body);
    }

    // A session whose token the API refuses (revoked, or signed with a rotated-out secret), and
    // one past its expiry, go to sign in, coming back to where they were going.
    for cookie in [sealed_session("not.a.token", payment_platform::util::now_ms() + 60_000), sealed_session("x", 1)] {
        let mut stale = Visitor::new(&base);
        stale.cookies.insert("session".into(), cookie);
        let sent = stale.get("/payments?status=SUCCEEDED").await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        assert_eq!(sent.location(), "/sign-in?next=%2Fpayments%3Fstatus%3DSUCCEEDED");
        assert!(!stale.cookies.contains_key("session"), "the dead session is removed");
    }
    let tampered = {
        let mut t = Visitor::new(&base);
        t.cookies.insert("session".into(), staff.cookies["session"].replacen("v1.", "v1.f", 1));
        t.get("/payments").await
    };
    assert_eq!(tampered.status, StatusCode::SEE_OTHER);

    // Sign-out takes its CSRF token too, and ends the session.
    let csrf = staff.get("/payments").await.field("/sign-out", "csrf").unwrap();
    let out = staff.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/sign-in?signed_out=1"));
    let set_cookie = out.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax") && set_cookie.contains("Max-Age=0"));
    assert_eq!(staff.get("/payments").await.status, StatusCode::SEE_OTHER);
    html.keep("signed-out", &staff.get(out.location()).await.body);
    html.assert_valid();
}

#[tokio::test]
async fn webhook_endpoints_are_added_rotated_and_deleted_and_a_disabled_one_is_marked() {
    use super::support::receiver::{Behaviour, Receiver};
    let mut sys = System::start("dash-hooks", &[], super::webhooks::FAST).await;
    sys.with_webhooks(super::webhooks::FAST).await;
    let dash = dashboard::start(&sys, &[]).await;
    let mut staff = Visitor::new(&format!("http://127.0.0.1:{}", dash.port));
    staff.sign_in_dev().await;
    let mut html = HtmlCheck::new("dashboard-endpoints");
    let (gone, ok) = (Receiver::start(Behaviour::Status(410)).await, Receiver::start(Behaviour::Ok).await);

    let secret_of = |body: &str| {
        let at = body.find("value=\"whsec_").map(|i| i + 7)?;
        Some(body[at..at + body[at..].find('"')?].to_owned())
    };
    let mut add = async |url: &str, html: &mut HtmlCheck| {
        let list = staff.get("/webhook-endpoints").await;
        let csrf = list.field("/webhook-endpoints", "csrf").expect("the create form's csrf");
        let added = staff
            .post("/webhook-endpoints", &[("csrf", &csrf), ("url", url), ("event_types", "payment.succeeded")])
            .await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
        assert!(added.body.contains("Copy the signing secret now"), "{}", added.body);
        html.keep("endpoint-secret", &added.body);
        secret_of(&added.body).expect("the secret, shown once")
    };
    let first = add(&ok.url, &mut html).await;
    add(&gone.url, &mut html).await;
    let list = staff.get("/webhook-endpoints").await;
    assert!(secret_of(&list.body).is_none(), "the list never shows a secret");
    assert_eq!(list.body.matches("Enabled").count(), 2, "{}", list.body);

    // A payment: the endpoint that answers 410 is disabled, and marked so, with why.
    let id = sys.app.create_ok(&card_request("4242424242424242", 1500)).await;
    sys.settled(&id, WITHIN).await;
    let marked = super::support::app::eventually(WITHIN, "the gone endpoint marked disabled", || async {
        let mut look = Visitor::new(&staff.base);
        look.cookies = staff.cookies.clone();
        let list = look.get("/webhook-endpoints").await;
        list.body.contains("Disabled").then_some(list)
    })
    .await;
    assert!(marked.body.contains("(gone)") && marked.body.contains("Enabled"), "{}", marked.body);
    html.keep("endpoints-one-disabled", &marked.body);

    // Rotate the working one's secret (a new one, shown once), then delete it.
    let action_of = |body: &str, url: &str| {
        let row = &body[body.find(url)?..];
        let at = row.find("action=\"/webhook-endpoints/we_")? + 8;
        Some(row[at..at + row[at..].find("/rotate")?].to_owned())
    };
    let endpoint = action_of(&marked.body, &ok.url).expect("the endpoint's rotate form");
    let csrf = marked.field(&format!("{endpoint}/rotate"), "csrf").unwrap();
    let rotated = staff.post(&format!("{endpoint}/rotate"), &[("csrf", &csrf)]).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let second = secret_of(&rotated.body).expect("the new secret");
    assert_ne!(first, second);
    html.keep("endpoint-rotated", &rotated.body);
    let deleted = staff.post(&format!("{endpoint}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!((deleted.status, deleted.location()), (StatusCode::SEE_OTHER, "/webhook-endpoints?done=deleted"));
    let after = staff.get(deleted.location()).await;
    assert!(after.body.contains("The endpoint was deleted.") && !after.body.contains(&ok.url), "{}", after.body);
    assert!(after.body.contains(&gone.url), "the other one stays");
    html.keep("endpoint-deleted", &after.body);
    html.assert_valid();
}

/// The list's filters other than the reference (which the browser test uses): status, customer
/// and the days of creation, alone and together, each answered by the API's search.
#[tokio::test]
async fn the_payments_list_filters_by_status_customer_and_dates() {
    let sys = System::start("dash-filters", &[], &[]).await;
    let dash = dashboard::start(&sys, &[]).await;
    let mut staff = Visitor::new(&format!("http://127.0.0.1:{}", dash.port));
    staff.sign_in_dev().await;
    let mut html = HtmlCheck::new("dashboard-filters");

    let mut ann = card_request("4242424242424242", 1111);
    ann["CustomerID"] = "cust-ann".into();
    let mut bob = card_request("4000000000000002", 2222);
    bob["CustomerID"] = "cust-bob".into();
    let (paid, declined) = (sys.app.create_ok(&ann).await, sys.app.create_ok(&bob).await);
    let (paid_json, declined_json) = (sys.settled(&paid, WITHIN).await, sys.settled(&declined, WITHIN).await);
    assert_eq!((paid_json["Status"].as_str(), declined_json["Status"].as_str()), (Some("SUCCEEDED"), Some("DECLINED")));

    // The days of creation, from the payments themselves (the two may straddle midnight, UTC).
    let day_of = |p: &serde_json::Value| {
        let ms = i128::from(p["Timestamp"].as_u64().expect("Timestamp"));
        time::OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).unwrap().date()
    };
    let day = |d: time::Date| format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    let (first, last) = (day_of(&paid_json), day_of(&declined_json));
    let on = |d: time::Date| {
        [(&paid, first), (&declined, last)].into_iter().filter(|(_, at)| *at == d).map(|(id, _)| id.as_str()).collect()
    };
    let (before, after) = (first.previous_day().unwrap(), last.next_day().unwrap());
    let both = [paid.as_str(), declined.as_str()];
    for (query, shown) in [
        ("status=SUCCEEDED".to_owned(), vec![paid.as_str()]),
        ("status=DECLINED".to_owned(), vec![declined.as_str()]),
        ("status=CANCELED".to_owned(), vec![]),
        ("customer=cust-bob".to_owned(), vec![declined.as_str()]),
        (format!("from={}&to={}", day(first), day(first)), on(first)),
        (format!("from={}&to={}", day(first), day(last)), both.to_vec()),
        (format!("from={0}&to={0}", day(before)), vec![]),
        (format!("from={}", day(after)), vec![]),
        (format!("to={}&customer=cust-ann", day(first)), vec![paid.as_str()]),
    ] {
        // The list reads indexes, which follow a change within a moment (GET /payments).
        let listing = |page: &dashboard::Page| both.map(|id| page.body.contains(&format!("href=\"/payments/{id}\"")));
        let want = both.map(|id| shown.contains(&id));
        let page = super::support::app::eventually(WITHIN, &format!("the list for {query}"), || async {
            let mut look = Visitor::new(&staff.base);
            look.cookies = staff.cookies.clone();
            let page = look.get(&format!("/payments?{query}")).await;
            (page.status == StatusCode::OK && listing(&page) == want).then_some(page)
        })
        .await;
        if shown.is_empty() {
            assert!(page.body.contains("No payments match."), "{query}");
        }
        html.keep(&format!("payments-{}", query.replace(['=', '&'], "-")), &page.body);
    }
    // Two of reference, status and customer: no index serves it, and the page says what to do.
    let unserved = staff.get("/payments?customer=cust-ann&status=DECLINED").await;
    assert_eq!(unserved.status, StatusCode::BAD_REQUEST, "{}", unserved.body);
    assert!(unserved.body.contains("That combination of filters cannot be searched."), "{}", unserved.body);
    html.keep("payments-unsupported-filter", &unserved.body);
    let bad = staff.get("/payments?from=03%2F12%2F2026").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("Dates are days such as"), "{}", bad.body);
    html.keep("payments-bad-date", &bad.body);
    html.assert_valid();
}
