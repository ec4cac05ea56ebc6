//! Creating, reading and listing payments, and every way a request can be wrong.
use serde_json::{Value, json};

use crate::support::app::{OTHER_MERCHANT, card_request, spawn_app};

#[tokio::test]
async fn status_answers_ok_without_a_token() {
    let app = spawn_app().await;
    let v: Value = app.http.get(format!("{}/status", app.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["Status"], "OK");
}

#[tokio::test]
async fn a_payment_is_accepted_pending_and_shows_only_the_last_four_digits() {
    let app = spawn_app().await;
    let resp = app.create(&card_request("1234123412341234", 1999), None).await;
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["Status"], "PENDING");
    let id = body["paymentID"].as_str().unwrap();
    assert_eq!(location, format!("/payments/{id}"));

    let resp = app.get(id).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["retry-after"], "1", "a PENDING payment tells clients when to poll again");
    let text = resp.text().await.unwrap();
    assert!(!text.contains("1234123412341234") && !text.contains("\"123\""), "card leaked: {text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["PaymentID"], id);
    assert_eq!(p["MerchantID"], "test@merchant");
    assert_eq!(p["CustomerID"], "cust-1");
    assert_eq!((p["Price"].as_u64(), p["Currency"].as_str()), (Some(1999), Some("EUR")));
    assert_eq!(p["Status"], "PENDING");
    assert_eq!(p["CardLast4"], "1234");
    assert!(p["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!((p["Refunded"].as_bool(), p["RefundedAmount"].as_u64()), (Some(false), Some(0)));
    assert!(p["RefundTimestamp"].is_null());
    assert_eq!(p["Refunds"], json!([]));
}

#[tokio::test]
async fn another_merchants_payment_is_404_like_an_unknown_one() {
    let app = spawn_app().await;
    let id = app.create_ok(&card_request("1234123412341234", 500)).await;
    let other = app.token_for(Some(OTHER_MERCHANT)).await;
    let resp = app.http.get(format!("{}/payments/{id}", app.url)).bearer_auth(&other).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["Error"]["Code"], "payment_not_found");
    let unknown = app.get(&uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap(), body, "no difference an attacker could use");
    let refund = app.http.patch(format!("{}/payments/{id}/refund", app.url)).bearer_auth(&other).send().await.unwrap();
    assert_eq!(refund.status(), 404);
}

#[tokio::test]
async fn ids_that_are_not_uuids_never_reach_the_table() {
    let app = spawn_app().await;
    for bad in ["not-a-uuid", "PAY%23x", "1%20OR%201"] {
        let resp = app.get(bad).await;
        assert_eq!(resp.status(), 400, "{bad}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["Error"]["Code"], "invalid_payment_id");
    }
}

async fn fields_of(app: &crate::support::app::TestApp, body: Value) -> Vec<(String, String)> {
    let resp = app.create(&body, None).await;
    assert_eq!(resp.status(), 422, "{body}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["Error"]["Code"], "validation_failed");
    v["Error"]["Fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["Field"].as_str().unwrap().to_owned(), f["Code"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn each_bad_field_gets_a_422_naming_it() {
    let app = spawn_app().await;
    let cases: &[(&str, Value, &str)] = &[
        ("CardNumber", json!("1234"), "invalid_format"),
        ("CardNumber", json!("1234-1234-1234-1234"), "invalid_format"),
        ("CardNumber", json!(1234123412341234u64), "invalid_type"),
        ("CardCVV", json!("12"), "invalid_format"),
        ("CardCVV", json!(12345), "invalid_format"),
        ("CardCVV", json!(true), "invalid_type"),
        ("CardExpiryDate", json!("13/30"), "invalid_format"),
        ("CardExpiryDate", json!("01/20"), "expired"),
        ("Price", json!(0), "out_of_range"),
        ("Price", json!(-5), "out_of_range"),
        ("Price", json!(10.5), "out_of_range"),
        ("Price", json!(1e300), "out_of_range"),
        ("Price", json!(9007199254740992u64), "out_of_range"),
        ("Price", json!("100"), "invalid_type"),
        ("Currency", json!("EURO"), "unknown_currency"),
        ("Currency", json!("ABC"), "unknown_currency"),
        ("CustomerID", json!(""), "invalid_format"),
        ("CustomerID", json!(null), "required"),
    ];
    for (field, value, code) in cases {
        let mut body = card_request("1234123412341234", 100);
        body[*field] = value.clone();
        assert_eq!(fields_of(&app, body).await, vec![((*field).to_owned(), (*code).to_owned())], "{field}={value}");
    }
    let all = fields_of(&app, json!({})).await;
    let names: Vec<_> = all.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["CustomerID", "CardNumber", "CardCVV", "CardExpiryDate", "Price", "Currency"]);
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    for raw in ["{", "not json", "[1,2]", "\"str\"", ""] {
        let resp = app
            .authed(app.http.post(format!("{}/payments", app.url)))
            .header("Content-Type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{raw:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["Error"]["Code"], "malformed_json");
    }
    let mut huge = card_request("1234123412341234", 100);
    huge["CustomerName"] = json!("x".repeat(64 * 1024));
    let resp = app.create(&huge, None).await;
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["Error"]["Code"], "body_too_large");
    let payments = app.scan().await.into_iter().filter(|i| i.contains_key("PaymentID")).count();
    assert_eq!(payments, 0, "refused requests wrote nothing");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_envelope() {
    let app = spawn_app().await;
    let resp = app.http.get(format!("{}/nope", app.url)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Code"], "route_not_found");
    let resp = app.http.delete(format!("{}/payments", app.url)).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Code"], "method_not_allowed");
}

#[tokio::test]
async fn listing_is_newest_first_paginated_and_per_merchant() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for price in 1..=5 {
        ids.push(app.create_ok(&card_request("1234123412341234", price)).await);
    }
    let other = app.token_for(Some(OTHER_MERCHANT)).await;
    app.http
        .post(format!("{}/payments", app.url))
        .bearer_auth(&other)
        .json(&card_request("1234123412341234", 7))
        .send()
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = app.authed(app.http.get(format!("{}/payments", app.url))).query(&[("limit", "2")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let page: Value = req.send().await.unwrap().json().await.unwrap();
        let items = page["Payments"].as_array().unwrap();
        assert!(!items.is_empty() && items.len() <= 2, "no empty pages: {page}");
        seen.extend(items.iter().map(|p| p["PaymentID"].as_str().unwrap().to_owned()));
        assert!(items.iter().all(|p| p["CardLast4"] == "1234" && p.get("CardSealed").is_none()));
        match page["NextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "all five of this merchant's, newest first, none of the other's");
    let full = app.authed(app.http.get(format!("{}/payments", app.url))).query(&[("limit", "5")]);
    let full: Value = full.send().await.unwrap().json().await.unwrap();
    assert_eq!(full["Payments"].as_array().unwrap().len(), 5);
    assert!(full["NextCursor"].is_null(), "an exactly full page has no next page: {full}");

    let bad = app.authed(app.http.get(format!("{}/payments?cursor=%%%", app.url))).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let bad = app.authed(app.http.get(format!("{}/payments?limit=0", app.url))).send().await.unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn the_merchants_reference_and_metadata_are_kept_and_shown_on_the_payment_its_refunds_and_events() {
    let app = spawn_app().await;
    let mut body = card_request("4242424242424242", 2500);
    body["MerchantReference"] = json!("order-10023");
    body["Metadata"] = json!({"channel": "web", "cart": "c-9"});
    let id = app.create_ok(&body).await;
    let refund = app.refund(&id, Some(json!({"Amount": 500, "Metadata": {"reason": "damaged"}})), None).await;
    assert_eq!(refund.status(), 202);
    let p = app.get_json(&id).await;
    assert_eq!(p["MerchantReference"], "order-10023");
    assert_eq!(p["Metadata"], json!({"channel": "web", "cart": "c-9"}));
    assert_eq!(p["Refunds"][0]["Metadata"], json!({"reason": "damaged"}));
    let trail = app.all_events(&format!("/payments/{id}/events"), 10).await;
    assert_eq!(trail.len(), 2, "payment.created, refund.created");
    for e in &trail {
        assert_eq!(e["Data"]["MerchantReference"], "order-10023", "{e}");
        assert_eq!(e["Data"]["Metadata"]["channel"], "web", "{e}");
    }
    // Without them: no reference, empty metadata.
    let plain = app.create_ok(&card_request("4242424242424242", 100)).await;
    let plain = app.get_json(&plain).await;
    assert!(plain.get("MerchantReference").is_none() && plain["Metadata"] == json!({}), "{plain}");
}

#[tokio::test]
async fn a_field_no_request_takes_is_422_naming_it_and_nothing_is_written() {
    let app = spawn_app().await;
    let mut body = card_request("4242424242424242", 2500);
    body["MerchantRef"] = json!("order-1");
    let resp = app.create(&body, None).await;
    assert_eq!(resp.status(), 422);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(
        err["Error"]["Fields"],
        json!([{"Field": "MerchantRef", "Code": "unknown_field", "Message": "is not a field of this request"}])
    );
    assert_eq!(app.drain(&app.aws.payments_queue).await.len(), 0, "nothing enqueued");
    let id = app.create_ok(&card_request("4242424242424242", 2500)).await;
    let refund = app.refund(&id, Some(json!({"Amount": 100, "Amout": 5})), None).await;
    assert_eq!(refund.status(), 422);
    assert_eq!(refund.json::<Value>().await.unwrap()["Error"]["Fields"][0]["Field"], "Amout");
    let endpoint = app
        .authed(app.http.post(format!("{}/webhook-endpoints", app.url)))
        .json(&json!({"Url": "http://127.0.0.1:9/hook", "Secret": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 422);
    assert_eq!(endpoint.json::<Value>().await.unwrap()["Error"]["Fields"][0]["Code"], "unknown_field");
    let bad = json!({"Amount": 100, "Metadata": {"n": 1}});
    assert_eq!(app.refund(&id, Some(bad), None).await.status(), 422);
}
