//! The OpenAPI document the API serves: well formed as OpenAPI 3 (every `$ref` resolves, every
//! path parameter is declared, every operation has responses), true to the live answers (each
//! answer's status, headers and body are the documented ones), and browsable at `/docs`.
//! `make openapi-check` runs a full validator (openapi-spec-validator) on the same document.
use std::collections::BTreeSet;

use payment_platform::http::openapi::ROUTES;
use reqwest::Response;
use serde_json::{Value, json};

use crate::support::app::{TestApp, card_request, spawn_app};

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn served_spec(app: &TestApp) -> Value {
    let resp = app.http.get(format!("{}/openapi.json", app.url)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "served without a token");
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    resp.json().await.unwrap()
}

/// Every `$ref` in `v`, wherever it is.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            out.extend(m.get("$ref").and_then(Value::as_str));
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

fn resolve<'a>(spec: &'a Value, r: &str) -> Option<&'a Value> {
    r.strip_prefix('#').and_then(|pointer| spec.pointer(pointer))
}

#[tokio::test]
async fn the_served_document_is_well_formed_openapi_3() {
    let app = spawn_app().await;
    let spec = served_spec(&app).await;
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "openapi: {}", spec["openapi"]);
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(spec["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));

    let mut all = Vec::new();
    refs(&spec, &mut all);
    assert!(!all.is_empty());
    for r in all {
        assert!(resolve(&spec, r).is_some(), "$ref {r} does not resolve inside the document");
    }

    let mut operation_ids = BTreeSet::new();
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let templated: BTreeSet<_> =
            path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            let op = &item[*method];
            documented.insert((method.to_uppercase(), path.clone()));
            let params = op["parameters"].as_array().into_iter().chain(item["parameters"].as_array()).flatten();
            let in_path: Vec<_> = params.filter(|p| p["in"] == "path").collect();
            let declared: BTreeSet<_> = in_path.iter().filter_map(|p| p["name"].as_str()).collect();
            assert_eq!(declared, templated, "{method} {path}: path parameters declared");
            assert!(in_path.iter().all(|p| p["required"] == true), "{method} {path}: path parameters are required");
            let responses = op["responses"].as_object();
            assert!(responses.is_some_and(|r| !r.is_empty()), "{method} {path} has responses");
            let id = op["operationId"].as_str().expect("operationId").to_owned();
            assert!(operation_ids.insert(id.clone()), "operationId {id} is unique");
        }
    }
    let expected: BTreeSet<_> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, expected, "the served document has exactly the contract's routes");
}

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => false,
    }
}

/// Checks `v` against `schema` for what the document uses: `$ref`, `oneOf`, `type`, `enum`,
/// `minimum`/`maximum`, `properties` (no undocumented key), `required`, `items`.
fn check(spec: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        return check(spec, resolve(spec, r).expect("resolves"), v, at, errors);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options.iter().filter(|o| {
            let mut e = Vec::new();
            check(spec, o, v, at, &mut e);
            e.is_empty()
        });
        if matching.count() != 1 {
            errors.push(format!("{at}: {v} matches not exactly one of oneOf"));
        }
        return;
    }
    let ts = types(schema);
    if !ts.is_empty() && !ts.iter().any(|t| is_type(v, t)) {
        return errors.push(format!("{at}: {v} is not {ts:?}"));
    }
    if schema["enum"].as_array().is_some_and(|e| !e.contains(v)) {
        errors.push(format!("{at}: {v} is not one of {}", schema["enum"]));
    }
    if let (Some(n), Some(min)) = (v.as_f64(), schema["minimum"].as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} < minimum {min}"));
    }
    if let (Some(n), Some(max)) = (v.as_f64(), schema["maximum"].as_f64())
        && n > max
    {
        errors.push(format!("{at}: {n} > maximum {max}"));
    }
    if let (Value::Object(map), Some(props)) = (v, schema["properties"].as_object()) {
        for req in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(req) {
                errors.push(format!("{at}: required {req} is missing"));
            }
        }
        for (k, x) in map {
            match props.get(k) {
                None => errors.push(format!("{at}: {k} is not documented")),
                Some(s) => check(spec, s, x, &format!("{at}.{k}"), errors),
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
        for (i, x) in items.iter().enumerate() {
            check(spec, s, x, &format!("{at}[{i}]"), errors);
        }
    }
}

/// Asserts that a live answer is documented for `method template`: its status, its headers
/// among those the API sets, and its JSON body against the schema. Returns the body.
async fn documented(spec: &Value, method: &str, template: &str, resp: Response) -> Value {
    let status = resp.status().as_u16().to_string();
    let op = format!("{method} {template} {status}");
    let doc = &spec["paths"][template][method.to_lowercase()]["responses"][&status];
    assert!(doc.is_object(), "{op} is not documented");
    for header in ["location", "retry-after", "www-authenticate"] {
        if resp.headers().contains_key(header) {
            let names: Vec<_> =
                doc["headers"].as_object().into_iter().flatten().map(|(k, _)| k.to_lowercase()).collect();
            assert!(names.iter().any(|n| n == header), "{op}: header {header} is sent but not documented");
        }
    }
    let body: Value = resp.json().await.unwrap();
    let schema = &doc["content"]["application/json"]["schema"];
    let mut errors = Vec::new();
    check(spec, schema, &body, "body", &mut errors);
    assert!(errors.is_empty(), "{op}: {body} does not match its schema: {errors:?}");
    body
}

#[tokio::test]
async fn live_answers_are_the_documented_ones() {
    let app = spawn_app().await;
    let spec = served_spec(&app).await;
    let url = |p: &str| format!("{}{p}", app.url);

    documented(&spec, "GET", "/status", app.http.get(url("/status")).send().await.unwrap()).await;
    documented(&spec, "GET", "/token", app.http.get(url("/token")).send().await.unwrap()).await;
    let unknown = app.http.get(url("/token?merchant=nobody@nowhere")).send().await.unwrap();
    documented(&spec, "GET", "/token", unknown).await;

    let created = app.create(&card_request("1234123412341234", 1000), None).await;
    let id = documented(&spec, "POST", "/payments", created).await["paymentID"].as_str().unwrap().to_owned();
    let cvv_as_string = json!({"CustomerID": "c", "CardNumber": "1234123412341234", "CardCVV": "0123",
        "CardExpiryDate": "12/39", "Price": 5, "Currency": "EUR"});
    documented(&spec, "POST", "/payments", app.create(&cvv_as_string, None).await).await;
    let invalid = app.create(&json!({"CardCVV": true, "Price": 1.5}), None).await;
    let body = documented(&spec, "POST", "/payments", invalid).await;
    assert!(body["Error"]["Fields"].as_array().is_some_and(|f| f.len() > 1));
    let anonymous = app.http.post(url("/payments")).json(&card_request("1234123412341234", 1)).send().await;
    documented(&spec, "POST", "/payments", anonymous.unwrap()).await;

    let payment = "/payments/{id}";
    documented(&spec, "PATCH", "/payments/{id}/refund", app.refund(&id, Some(json!({"Amount": 300})), None).await)
        .await;
    let too_much = app.refund(&id, Some(json!({"Amount": 10_000})), None).await;
    documented(&spec, "PATCH", "/payments/{id}/refund", too_much).await;
    let body = documented(&spec, "GET", payment, app.get(&id).await).await;
    assert_eq!(body["Refunds"].as_array().map(Vec::len), Some(1));
    documented(&spec, "GET", payment, app.get(&uuid::Uuid::new_v4().to_string()).await).await;
    documented(&spec, "GET", payment, app.get("not-a-uuid").await).await;

    let list = app.authed(app.http.get(url("/payments?limit=1"))).send().await.unwrap();
    let page = documented(&spec, "GET", "/payments", list).await;
    assert!(page["NextCursor"].is_string(), "two payments, one per page");
    let bad_limit = app.authed(app.http.get(url("/payments?limit=0"))).send().await.unwrap();
    documented(&spec, "GET", "/payments", bad_limit).await;
}

#[tokio::test]
async fn the_docs_page_loads_and_points_at_the_document() {
    let app = spawn_app().await;
    let resp = app.http.get(format!("{}/docs", app.url)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "served without a token");
    assert_eq!(resp.url().path(), "/docs/ui/", "/docs leads to the Swagger UI");
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = resp.text().await.unwrap();
    // Every script and stylesheet of the page comes from this server, none from a CDN.
    let assets: Vec<&str> = html.split(['"', '\'']).filter(|s| s.ends_with(".js") || s.ends_with(".css")).collect();
    assert!(assets.iter().any(|a| a.contains("swagger-ui-bundle")), "{html}");
    for asset in &assets {
        assert!(!asset.starts_with("http"), "{asset} is fetched from elsewhere");
        let url = format!("{}/docs/ui/{}", app.url, asset.trim_start_matches("./"));
        let resp = app.http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        assert!(resp.bytes().await.unwrap().len() > 100, "{url} has content");
    }
    let init = app.http.get(format!("{}/docs/ui/swagger-initializer.js", app.url)).send().await.unwrap();
    assert!(init.text().await.unwrap().contains("/openapi.json"), "the page renders /openapi.json");
}
