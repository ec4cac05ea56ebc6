//! Finding payments by the shop's own reference, status, customer and time (`GET /payments`
//! filters) against a real `api` process: 300 payments of 3 merchants in 5 statuses over 30
//! days, every filter and time range compared with a brute-force filter of what was written,
//! paged with small limits; one index request per page; and the story the README tells after a
//! 504: the payment found by its reference.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use payment_platform::domain::card::SealedCard;
use payment_platform::domain::change::{Change, Transition};
use payment_platform::domain::events::{Actor, Cause};
use payment_platform::domain::ids::{MerchantId, PaymentId};
use payment_platform::domain::money::{Amount, Currency};
use payment_platform::domain::payment::{NewPayment, PaymentOutcome};
use payment_platform::domain::ports::Payments;
use payment_platform::domain::reference::{MerchantReference, Metadata, Tags};
use payment_platform::dynamo::DynamoStore;
use serde_json::{Value, json};

use crate::support::app::{TestApp, api_config, card_request, eventually, spawn_app_with, unique_aws_args};
use crate::support::emulator::PrivateEmulator;
use crate::support::system::api_alone;

const MERCHANTS: [&str; 3] = ["test@merchant", "other@merchant", "third@merchant"];
const STATUSES: [&str; 5] = ["PENDING", "PROCESSING", "SUCCEEDED", "DECLINED", "FAILED"];
const DAY_MS: u64 = 86_400_000;

/// A query string's lookup, as a brute-force filter of what the test wrote.
type Matcher = Box<dyn Fn(&Made) -> bool>;

/// What the test wrote of one payment, to filter by brute force.
#[derive(Clone)]
struct Made {
    id: String,
    merchant: &'static str,
    status: &'static str,
    customer: String,
    reference: Option<String>,
    created: u64,
}

/// Writes a payment through the store as the API and the worker would, ending in `status`.
async fn write(store: &DynamoStore, m: &Made) {
    let id = PaymentId::parse(&m.id).unwrap();
    let new = NewPayment {
        id,
        merchant_id: MerchantId::parse(m.merchant).unwrap(),
        customer_id: m.customer.clone(),
        customer_name: None,
        amount: Amount::parse(1000).unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        card_last4: "4242".into(),
        sealed_card: SealedCard("v1.x.y".into()),
        created_at_ms: m.created,
        tags: Tags {
            merchant_reference: m.reference.as_deref().map(|r| MerchantReference::parse(r).unwrap()),
            metadata: Metadata::default(),
        },
        capture_method: Default::default(),
    };
    let cause = || Cause::new(Actor::Merchant(new.merchant_id.clone()), None);
    let created = Change::payment_created(&new, cause());
    store.commit(&created, None).await.unwrap();
    if m.status == "PENDING" {
        return;
    }
    let processing = created.view.apply(Transition::PaymentProcessing, m.created + 1, cause()).unwrap();
    store.commit(&processing, None).await.unwrap();
    let outcome = match m.status {
        "SUCCEEDED" => PaymentOutcome::Succeeded { bank_charge_id: "ch_1".into() },
        "DECLINED" => PaymentOutcome::Declined { reason: "card_declined".into() },
        "FAILED" => PaymentOutcome::Failed { reason: "bank_rejected:test".into() },
        _ => return,
    };
    let settled = processing.view.apply(Transition::PaymentSettled(outcome), m.created + 2, cause()).unwrap();
    store.commit(&settled, None).await.unwrap();
}

/// Every page of `query` for the client's merchant, `limit` at a time, newest first; `pages`
/// counts the requests.
async fn all_pages(app: &TestApp, query: &str, limit: u32, pages: &AtomicU32, budget: &AtomicU32) -> Vec<String> {
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    loop {
        pages.fetch_add(1, Ordering::Relaxed);
        budget.fetch_add(limit + 1, Ordering::Relaxed);
        let mut url = format!("{}/payments?limit={limit}&{query}", app.url);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let resp = app.authed(app.http.get(&url)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "GET {url}");
        let page: Value = resp.json().await.unwrap();
        let got = page["Payments"].as_array().unwrap();
        assert!(got.len() <= limit as usize);
        ids.extend(got.iter().map(|p| p["PaymentID"].as_str().unwrap().to_owned()));
        match page["NextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

/// The API's DynamoDB `Query` calls so far, and the items they read for the lists.
async fn reads(app: &TestApp, admin: u16) -> (f64, f64) {
    let text = app.http.get(format!("http://127.0.0.1:{admin}/metrics")).send().await.unwrap().text().await.unwrap();
    let sum = |series: &str, label: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(series) && l.contains(label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (sum("aws_requests_total", "operation=\"Query\""), sum("list_items_read_total", "index="))
}

#[tokio::test]
async fn every_filter_and_time_range_finds_exactly_the_merchants_matching_payments_a_page_at_a_time() {
    let (api, aws) = api_alone("search", &[]).await;
    let url = format!("http://127.0.0.1:{}", api.port);
    let app = TestApp::external(url, aws).await;
    // A third merchant beside the two SETUP seeds.
    let profile = HashMap::from([
        ("PK".to_owned(), AttributeValue::S("MERCHANT#third@merchant".into())),
        ("SK".to_owned(), AttributeValue::S("PROFILE".into())),
    ]);
    app.clients.dynamodb.put_item().table_name(&app.aws.table).set_item(Some(profile)).send().await.unwrap();

    // 300 payments over 30 days: 5 statuses, 4 customers, references shared by a few payments
    // each (and none on some), for 3 merchants that use the same references and customers.
    let now = payment_platform::util::now_ms();
    let made: Vec<Made> = (0..300u64)
        .map(|i| Made {
            id: PaymentId::new().to_string(),
            merchant: MERCHANTS[(i % 3) as usize],
            status: STATUSES[(i / 3 % 5) as usize],
            customer: format!("cust-{}", i % 4),
            reference: (i % 7 != 0).then(|| format!("order-{}", i % 11)),
            created: now - 30 * DAY_MS + i * (DAY_MS / 10) + i % 13,
        })
        .collect();
    let store = std::sync::Arc::new(DynamoStore::new(app.clients.dynamodb.clone(), app.aws.table.clone()));
    let writes = made.chunks(30).map(|chunk| {
        let (store, chunk) = (std::sync::Arc::clone(&store), chunk.to_vec());
        tokio::spawn(async move {
            for m in &chunk {
                write(&store, m).await;
            }
        })
    });
    for w in writes.collect::<Vec<_>>() {
        w.await.unwrap();
    }

    let t = |days: u64| now - 30 * DAY_MS + days * DAY_MS;
    let ranges = [(None, None), (Some(t(10)), None), (None, Some(t(20))), (Some(t(5)), Some(t(12)))];
    let mut lookups: Vec<(String, Matcher)> = vec![("".into(), Box::new(|_| true))];
    for s in STATUSES {
        lookups.push((format!("status={s}"), Box::new(move |m: &Made| m.status == s)));
    }
    for r in ["order-3", "order-10", "order-none"] {
        lookups.push((format!("reference={r}"), Box::new(move |m: &Made| m.reference.as_deref() == Some(r))));
    }
    for c in ["cust-1", "cust-2"] {
        lookups.push((format!("customer={c}"), Box::new(move |m: &Made| m.customer == c)));
    }
    let admin = api.admin_port;
    let (pages, budget) = (AtomicU32::new(0), AtomicU32::new(0));
    let before = reads(&app, admin).await;
    for (i, merchant) in MERCHANTS.iter().enumerate() {
        let mut client = app.clone_client();
        client.token = app.token_for(Some(merchant)).await;
        for (lookup, matches) in &lookups {
            for (gte, lt) in ranges {
                let mut query = lookup.clone();
                if let Some(g) = gte {
                    query.push_str(&format!("&created_gte={g}"));
                }
                if let Some(l) = lt {
                    query.push_str(&format!("&created_lt={l}"));
                }
                let mut want: Vec<&Made> = made
                    .iter()
                    .filter(|m| m.merchant == *merchant && matches(m))
                    .filter(|m| gte.is_none_or(|g| m.created >= g) && lt.is_none_or(|l| m.created < l))
                    .collect();
                want.sort_by_key(|m| std::cmp::Reverse(m.created));
                let want: Vec<String> = want.into_iter().map(|m| m.id.clone()).collect();
                // Index reads follow the writes within a moment.
                let limit = 3 + (i as u32) * 2;
                eventually(Duration::from_secs(20), &format!("{merchant}: {query}"), || async {
                    let got = all_pages(&client, &query, limit, &pages, &budget).await;
                    (got == want).then_some(())
                })
                .await;
            }
        }
    }
    // One index Query per page, with the page's time range and filter in its key condition:
    // no filter reads more than its page and one item beyond it, never the merchant's whole list.
    let after = reads(&app, admin).await;
    let (queries, items) = (after.0 - before.0, after.1 - before.1);
    let (pages, budget) = (pages.load(Ordering::Relaxed), budget.load(Ordering::Relaxed));
    println!(
        "search: pages={pages} dynamodb_queries={queries} items_read={items} items_read_per_page={:.2} \
         (limits 3, 5, 7: at most {budget} allowed)",
        items / f64::from(pages)
    );
    assert_eq!(queries, f64::from(pages), "one Query per page");
    assert!(
        items > 0.0 && items <= f64::from(budget),
        "a page reads at most its limit and one more: {items} > {budget}"
    );

    // Two lookups at once: no index serves that.
    for query in ["status=PENDING&customer=cust-1", "reference=order-1&status=FAILED"] {
        let resp = app.authed(app.http.get(format!("{}/payments?{query}", app.url))).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        assert_eq!(resp.json::<Value>().await.unwrap()["Error"]["Code"], "unsupported_filter");
    }
    let bad = app.authed(app.http.get(format!("{}/payments?status=DONE", app.url))).send().await.unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn after_a_504_without_a_key_the_payment_is_found_by_its_reference() {
    let emulator = PrivateEmulator::start("search-504");
    let mut aws = unique_aws_args();
    aws.endpoint_url = Some(emulator.url.clone());
    let mut config = api_config(aws);
    config.request_timeout_ms = 1_500;
    let app = spawn_app_with(config).await;
    app.create_ok(&card_request("4242424242424242", 100)).await;
    let mut body = card_request("4242424242424242", 4200);
    body["MerchantReference"] = json!("order-504");
    emulator.pause();
    let resp = app.create(&body, None).await;
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap();
    emulator.resume();
    assert_eq!(status, 504, "{answer}");
    assert_eq!(answer["Error"]["Code"], "outcome_unknown");
    // Did it go through? Ask by the order's own reference instead of sending it again.
    let found = eventually(Duration::from_secs(30), "the payment found by its reference", || async {
        let page = app.get_path("/payments?reference=order-504").await.json::<Value>().await.ok()?;
        let found = page["Payments"].as_array()?.clone();
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(found.len(), 1, "one payment, not two: {found:?}");
    assert_eq!((found[0]["Price"].as_u64(), found[0]["MerchantReference"].as_str()), (Some(4200), Some("order-504")));
}
