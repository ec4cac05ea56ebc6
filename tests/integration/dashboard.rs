//! The dashboard in a real Chromium, against real processes: sign in with one click, find a
//! payment by its reference, refund part of it and watch its timeline reach the refund's
//! success, capture one manual payment and cancel another, add a webhook endpoint and see a
//! delivery and its redelivery; another merchant's payment is not reachable by URL; every page
//! is valid HTML (the W3C Nu checker) with no script. Screenshots for the README are taken on
//! the way (`make screenshots`).
use std::time::Duration;

use fantoccini::Locator;
use serde_json::{Value, json};

use super::support::app::{OTHER_MERCHANT, card_request, eventually};
use super::support::browser::Browser;
use super::support::dashboard::{self, HtmlCheck, Visitor};
use super::support::receiver::{Behaviour, Receiver};
use super::support::system::System;
use super::webhooks::FAST;

const WITHIN: Duration = Duration::from_secs(60);

fn payment(reference: &str, price: u64, manual: bool) -> Value {
    let mut body = card_request("4242424242424242", price);
    body["MerchantReference"] = json!(reference);
    if manual {
        body["CaptureMethod"] = json!("manual");
    }
    body
}

async fn status_becomes(sys: &System, id: &str, status: &str) -> Value {
    eventually(WITHIN, &format!("{id} to be {status}"), || async {
        let p = sys.app.get_json(id).await;
        (p["Status"] == status).then_some(p)
    })
    .await
}

#[tokio::test]
async fn shop_staff_find_refund_capture_cancel_and_redeliver_in_a_real_browser() {
    let mut sys = System::start("dash", &[], FAST).await;
    sys.with_webhooks(FAST).await;
    let dash = dashboard::start(&sys, &[]).await;
    let base = format!("http://127.0.0.1:{}", dash.port);
    let browser = Browser::start("dashboard").await;
    let mut html = HtmlCheck::new("dashboard");

    // Signing in: a page of the dashboard sends a stranger to sign in, and back after one click.
    browser.goto(&format!("{base}/payments")).await;
    assert!(browser.path().await.starts_with("/sign-in?next="), "{}", browser.path().await);
    browser.until_text("Sign in as test@merchant", WITHIN).await;
    browser.click("form[action='/sign-in'] button").await;
    browser.until_text("Signed in as test@merchant", WITHIN).await;
    assert_eq!(browser.path().await, "/payments");
    let mut visitor = Visitor::new(&base);
    visitor.cookies.insert("session".into(), browser.session_cookie().await);

    // Add a webhook endpoint, first of all: its secret is shown once. An endpoint gets the events
    // recorded from a few seconds after its creation on (`app::DISCOVERY_MS`), and every one of
    // them while no process has looked up the merchant's endpoints before it, as here.
    let receiver = Receiver::start(Behaviour::Ok).await;
    browser.goto(&format!("{base}/webhook-endpoints")).await;
    html.keep("endpoints-empty", &visitor.get("/webhook-endpoints").await.body);
    browser.fill("#url", &receiver.url).await;
    browser.click("#type-payment\\.succeeded").await;
    browser.click("form.stacked button").await;
    browser.until_text("Copy the signing secret now", WITHIN).await;
    let secret = browser.client.find(Locator::Css("#secret")).await.unwrap().prop("value").await.unwrap();
    assert!(secret.is_some_and(|s| s.starts_with("whsec_")));
    browser.goto(&format!("{base}/webhook-endpoints")).await;
    let text = browser.until_text(&receiver.url, WITHIN).await;
    assert!(text.contains("Enabled") && text.contains("payment.succeeded"), "{text}");
    html.keep("endpoints", &visitor.get("/webhook-endpoints").await.body);

    let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let reference = format!("order-{run}");
    for (i, price) in [1999u64, 4500, 120_000].iter().enumerate() {
        sys.app.create_ok(&payment(&format!("order-{run}-{i}"), *price, false)).await;
    }
    let paid = sys.app.create_ok(&payment(&reference, 5000, false)).await;
    let to_capture = sys.app.create_ok(&payment(&format!("capture-{run}"), 2000, true)).await;
    let to_cancel = sys.app.create_ok(&payment(&format!("cancel-{run}"), 3000, true)).await;
    let mut other = sys.app.clone_client();
    other.token = other.token_for(Some(OTHER_MERCHANT)).await;
    let foreign = other.create_ok(&card_request("4242424242424242", 777)).await;
    sys.settled(&paid, WITHIN).await;
    status_becomes(&sys, &to_capture, "AUTHORIZED").await;
    status_becomes(&sys, &to_cancel, "AUTHORIZED").await;
    browser.goto(&format!("{base}/payments")).await;
    browser.until_text("EUR 50.00", WITHIN).await;
    browser.screenshot("payments").await;
    html.keep("payments", &visitor.get("/payments").await.body);

    // Find the payment by its reference, open it.
    browser.fill("#reference", &reference).await;
    browser.click("form.filters button").await;
    browser.until_text("EUR 50.00", WITHIN).await;
    let rows = browser.client.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1, "only the payment with that reference");
    html.keep("payments-filtered", &visitor.get(&format!("/payments?reference={reference}")).await.body);
    browser.click("tbody tr a").await;
    browser.until_text("Timeline", WITHIN).await;
    assert_eq!(browser.path().await, format!("/payments/{paid}"));

    // Refund part of it: the page reloads itself until the refund's success is on the timeline.
    browser.fill("#refund-amount", "12.00").await;
    browser.click("form[action$='/refund'] button").await;
    browser.until_text("Refund requested", WITHIN).await;
    browser.until_text("Refund of EUR 12.00 succeeded", WITHIN).await;
    let text = browser.until_text("EUR 38.00", WITHIN).await;
    assert!(text.contains("by refund-worker") && text.contains("trace "), "who and the trace id: {text}");
    browser.screenshot("payment-timeline").await;
    html.keep("payment", &visitor.get(&format!("/payments/{paid}")).await.body);

    // An over-refund is refused with a sentence that says what is possible.
    browser.fill("#refund-amount", "100").await;
    browser.click("form[action$='/refund'] button").await;
    browser.until_text("That is more than can still be refunded: at most EUR 38.00.", WITHIN).await;
    let refunds = sys.app.get_json(&paid).await["Refunds"].as_array().unwrap().clone();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!((refunds[0]["Amount"].as_u64(), refunds[0]["Status"].as_str()), (Some(1200), Some("SUCCEEDED")));

    // Capture part of a manual payment (final: the rest is released), cancel another.
    browser.goto(&format!("{base}/payments/{to_capture}")).await;
    html.keep("payment-authorized", &visitor.get(&format!("/payments/{to_capture}")).await.body);
    browser.fill("#capture-amount", "15").await;
    browser.click("form[action$='/capture'] button").await;
    browser.until_text("Capture of EUR 15.00 succeeded", WITHIN).await;
    let captured = status_becomes(&sys, &to_capture, "SUCCEEDED").await;
    assert_eq!(captured["CapturedAmount"], 1500);
    browser.goto(&format!("{base}/payments/{to_cancel}")).await;
    browser.click("a[href$='/cancel']").await;
    browser.until_text("This cannot be undone.", WITHIN).await;
    html.keep("cancel-confirm", &visitor.get(&format!("/payments/{to_cancel}/cancel")).await.body);
    browser.click("form[action$='/cancel'] button").await;
    browser.until_text("Payment canceled", WITHIN).await;
    assert_eq!(status_becomes(&sys, &to_cancel, "CANCELED").await["CapturedAmount"], 0);

    // The found payment's success reached the endpoint added first: the event's page shows the
    // attempt, and a redelivery a second one.
    let event_id = eventually(WITHIN, "the payment.succeeded event", || async {
        let resp = sys.app.authed(sys.app.http.get(format!("{}/events?type=payment.succeeded", sys.app.url)));
        let page: Value = resp.send().await.ok()?.json().await.ok()?;
        let events = page["Events"].as_array()?.clone();
        events.iter().find(|e| e["PaymentID"] == paid.as_str()).map(|e| e["EventID"].as_str().unwrap().to_owned())
    })
    .await;
    browser.goto(&format!("{base}/events")).await;
    browser.until_text("Payment succeeded", WITHIN).await;
    html.keep("events", &visitor.get("/events").await.body);
    browser.goto(&format!("{base}/events/{event_id}")).await;
    eventually(WITHIN, "the attempt on the event's page", || async {
        browser.client.refresh().await.ok()?;
        browser.text().await.contains("Delivered (200)").then_some(())
    })
    .await;
    browser.screenshot("webhook-attempts").await;
    html.keep("event", &visitor.get(&format!("/events/{event_id}")).await.body);
    browser.click("form[action$='/redeliver'] button").await;
    browser.until_text("Redelivery started to 1 endpoint", WITHIN).await;
    eventually(WITHIN, "two delivered attempts", || async {
        browser.client.refresh().await.ok()?;
        (browser.text().await.matches("Delivered (200)").count() == 2).then_some(())
    })
    .await;
    let deliveries: Vec<_> = receiver.delivered().into_iter().filter(|r| r.id == event_id).collect();
    assert_eq!(deliveries.len(), 2, "delivered, then redelivered with the same webhook-id");

    // Another merchant's payment is not reachable by URL.
    browser.goto(&format!("{base}/payments/{foreign}")).await;
    let text = browser.until_text("There is no payment with this ID in your shop.", WITHIN).await;
    assert!(!text.contains("777") && !text.contains("EUR 7.77"), "nothing of it shown: {text}");
    let page = visitor.get(&format!("/payments/{foreign}")).await;
    assert_eq!(page.status, 404);
    html.keep("not-found", &page.body);

    // Every control of every kind of page is reached with the keyboard alone, and its text has
    // WCAG AA contrast, as the browser renders it.
    for path in [
        "/payments".to_owned(),
        format!("/payments/{paid}"),
        format!("/events/{event_id}"),
        "/webhook-endpoints".into(),
    ] {
        browser.goto(&format!("{base}{path}")).await;
        let unreached = browser.unreached_by_tab().await;
        assert!(unreached.is_empty(), "{path}: controls Tab never reaches: {unreached:?}");
        let low = browser.low_contrast().await;
        assert!(low.is_empty(), "{path}: text under WCAG AA contrast: {low:?}");
    }

    // At phone width nothing spills sideways (tables scroll inside their own box).
    browser.client.set_window_size(390, 844).await.unwrap();
    for path in ["/payments".to_owned(), format!("/payments/{paid}"), "/webhook-endpoints".to_owned()] {
        browser.goto(&format!("{base}{path}")).await;
        let fits = browser.client.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]);
        assert_eq!(fits.await.unwrap(), json!(true), "{path} fits a phone's width");
    }
    browser.screenshot("payment-phone").await;

    let mut stranger = Visitor::new(&base);
    html.keep("sign-in", &stranger.get("/sign-in").await.body);
    html.assert_valid();
    browser.close().await;
}
