//! The spec against the contract's route list and against the real router; every error code is
//! documented. The router runs in process on an offline state: the requests below never reach
//! DynamoDB or SQS (they stop at authentication, or need no dependency).
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::app::AppError;
use crate::domain::ids::MerchantId;
use crate::domain::status::PaymentStatus;
use crate::http::auth::rate::{Limited, RateLimits};
use crate::http::auth::{Auth, KnownMerchants, TokenIssuer, Verifier};
use crate::http::error::{ApiError, FieldError};
use crate::http::{AppState, Settings, Shared, router};

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn spec() -> Value {
    serde_json::to_value(document("http://localhost:4444")).unwrap()
}

/// Every (METHOD, path) the document describes.
fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_object().expect("paths");
    let mut ops = BTreeSet::new();
    for (path, item) in paths {
        for m in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            ops.insert((m.to_uppercase(), path.clone()));
        }
    }
    ops
}

/// The API on memory: nothing here may reach AWS.
fn offline_state() -> AppState {
    AppState::new(Shared {
        writes: tokio_util::task::TaskTracker::new(),
        services: crate::testing::World::new().services,
        auth: Arc::new(Auth {
            verifier: Verifier::Hs256(TokenIssuer::new("secret", "payment-platform", "payment-platform-api", 60)),
            verified: Default::default(),
            merchants: KnownMerchants::new(Duration::from_secs(60)),
            limits: RateLimits::new(0, 0),
        }),
        settings: Arc::new(Settings {
            default_merchant: MerchantId::parse("test@merchant").unwrap(),
            token_issuance: true,
            request_timeout: Duration::from_secs(5),
            max_body_bytes: 16 * 1024,
            max_header_bytes: 16 * 1024,
            webhook_allow_private: false,
            conn: crate::http::server::ConnLimits {
                header_read_timeout: Duration::from_secs(5),
                idle_timeout: Duration::from_secs(5),
                max_connections: 16,
                read_buffer_bytes: 32 * 1024,
            },
            base_url: "http://localhost:4444".into(),
            api_docs: true,
            development: true,
        }),
        fingerprints: Arc::new(
            crate::vault::HmacFingerprints::new(crate::config::DEV_FINGERPRINT_KEY, &[]).expect("a valid key"),
        ),
    })
}

/// Status and `Error.Code` (if any) of one request to the real router.
async fn answer(method: &str, path: &str) -> (StatusCode, Option<String>) {
    let path = path.replace("{id}", "6f1c8a7e-2b7d-4c1e-9a55-0d2f3b4c5d6e");
    let req = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
    let resp = router(offline_state()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let code = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["Error"]["Code"].as_str().map(str::to_owned));
    (status, code)
}

#[test]
fn the_spec_has_every_route_of_the_contract_and_no_other() {
    let expected: BTreeSet<_> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    let documented = operations(&spec());
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(missing.is_empty(), "routes of the contract missing from the spec: {missing:?}");
    assert!(extra.is_empty(), "routes in the spec but not in openapi::ROUTES (add them there): {extra:?}");
}

#[tokio::test]
async fn the_router_serves_every_documented_route_and_every_listed_one() {
    let (status, code) = answer("GET", "/no-such-route").await;
    assert_eq!((status, code.as_deref()), (StatusCode::NOT_FOUND, Some("route_not_found")), "the probe tells");
    let listed = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string()));
    for (method, path) in operations(&spec()).into_iter().chain(listed) {
        let (status, code) = answer(&method, &path).await;
        assert!(
            !matches!(code.as_deref(), Some("route_not_found" | "method_not_allowed")),
            "{method} {path} is not routed: {status} {code:?}"
        );
    }
}

#[test]
fn operations_are_tagged_answer_json_errors_and_name_the_bearer_scheme() {
    let spec = spec();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["components"]["securitySchemes"][BEARER]["scheme"] == "bearer");
    let public = ["/status", "/token", "/openapi.json", "/docs"];
    for (method, path) in operations(&spec) {
        let op = &spec["paths"][&path][method.to_lowercase()];
        assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{method} {path} has a tag");
        let security = op["security"].as_array().map(|s| s.iter().flat_map(|r| r.as_object().unwrap().keys()));
        let names: Vec<_> = security.into_iter().flatten().cloned().collect();
        let expected = if public.contains(&path.as_str()) { vec![] } else { vec![BEARER.to_owned()] };
        assert_eq!(names, expected, "{method} {path} security");
        for (status, resp) in op["responses"].as_object().unwrap() {
            let description = resp["description"].as_str().unwrap_or_default();
            assert!(!description.is_empty(), "{method} {path} {status} is described");
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &resp["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorEnvelope", "{method} {path} {status}");
            }
        }
    }
    assert_eq!(spec["paths"]["/payments"]["post"]["requestBody"]["required"], true);
    assert_eq!(spec["paths"]["/payments/{id}/refund"]["patch"]["requestBody"]["required"], false);
    let created = &spec["paths"]["/payments"]["post"]["responses"]["202"]["headers"];
    assert!(created.get("Location").is_some());
    assert!(spec["paths"]["/payments/{id}"]["get"]["responses"]["200"]["headers"].get("Retry-After").is_some());
}

/// Every `ApiError`; the matches fail to compile when a variant is added, so it is listed here.
fn every_error() -> Vec<ApiError> {
    let app = [
        AppError::NotFound,
        AppError::IdempotencyKeyReused,
        AppError::IdempotencyInFlight,
        AppError::NotRefundable(PaymentStatus::Declined),
        AppError::NothingLeftToRefund,
        AppError::TooManyRefunds(100),
        AppError::RefundExceedsRemaining { left: 1 },
        AppError::NotCapturable(PaymentStatus::Pending),
        AppError::AuthorizationExpired,
        AppError::CaptureExceedsCapturable { left: 1 },
        AppError::TooManyCaptures(50),
        AppError::NotCancelable,
        AppError::InvalidCursor,
        AppError::EventNotFound,
        AppError::TooManyEndpoints(16),
        AppError::EndpointNotFound,
        AppError::DeliveryBusy,
        AppError::RedeliveriesLimited { retry_after_secs: 1 },
        AppError::Contended,
        AppError::OutcomeUnknown,
        AppError::Unavailable(String::new()),
        AppError::Internal(String::new()),
    ];
    for e in &app {
        match e {
            AppError::NotFound
            | AppError::IdempotencyKeyReused
            | AppError::IdempotencyInFlight
            | AppError::NotRefundable(_)
            | AppError::NothingLeftToRefund
            | AppError::TooManyRefunds(_)
            | AppError::RefundExceedsRemaining { .. }
            | AppError::NotCapturable(_)
            | AppError::AuthorizationExpired
            | AppError::CaptureExceedsCapturable { .. }
            | AppError::TooManyCaptures(_)
            | AppError::NotCancelable
            | AppError::InvalidCursor
            | AppError::EventNotFound
            | AppError::TooManyEndpoints(_)
            | AppError::EndpointNotFound
            | AppError::DeliveryBusy
            | AppError::RedeliveriesLimited { .. }
            | AppError::Contended
            | AppError::OutcomeUnknown
            | AppError::Unavailable(_)
            | AppError::Internal(_) => {}
        }
    }
    // The `BadRequest` codes the handlers use (routes.rs).
    let bad = [
        "invalid_query",
        "invalid_payment_id",
        "invalid_idempotency_key",
        "invalid_event_id",
        "invalid_webhook_endpoint_id",
        "unsupported_filter",
    ];
    let mut all = vec![
        ApiError::MalformedJson(String::new()),
        ApiError::BodyTooLarge,
        ApiError::HeadersTooLarge,
        ApiError::Validation(vec![FieldError::new("f", "required", "")]),
        ApiError::Unauthorized,
        ApiError::InsufficientScope(crate::http::auth::scopes::Scope::PaymentsWrite),
        ApiError::RouteNotFound,
        ApiError::MethodNotAllowed,
        ApiError::Timeout,
        ApiError::TokenIssuanceDisabled,
        ApiError::RateLimited(Limited { policy: "writes", quota: 1, retry_after_secs: 1 }),
    ];
    all.extend(bad.map(|c| ApiError::BadRequest(c, String::new())));
    all.extend(app.into_iter().map(ApiError::App));
    for e in &all {
        match e {
            ApiError::MalformedJson(_)
            | ApiError::BodyTooLarge
            | ApiError::HeadersTooLarge
            | ApiError::Validation(_)
            | ApiError::BadRequest(..)
            | ApiError::Unauthorized
            | ApiError::InsufficientScope(_)
            | ApiError::RouteNotFound
            | ApiError::MethodNotAllowed
            | ApiError::Timeout
            | ApiError::TokenIssuanceDisabled
            | ApiError::RateLimited(_)
            | ApiError::App(_) => {}
        }
    }
    all
}

#[tokio::test]
async fn every_error_code_is_documented() {
    let text = spec().to_string();
    for e in every_error() {
        let status = e.into_response();
        let body = to_bytes(status.into_body(), 1 << 20).await.unwrap();
        let code = serde_json::from_slice::<Value>(&body).unwrap()["Error"]["Code"].as_str().unwrap().to_owned();
        assert!(text.contains(&format!("`{code}`")), "error code {code} is not documented in the spec");
    }
}

#[tokio::test]
async fn the_docs_page_and_the_spec_are_served_without_authentication() {
    let resp = router(offline_state()).oneshot(Request::get("/docs").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/docs/ui/");
    let page = Request::get("/docs/ui/").body(Body::empty()).unwrap();
    let resp = router(offline_state()).oneshot(page).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let resp = router(offline_state()).oneshot(Request::get("/openapi.json").body(Body::empty()).unwrap()).await;
    let body = to_bytes(resp.unwrap().into_body(), 1 << 20).await.unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), spec());
}

#[tokio::test]
async fn with_api_docs_off_the_docs_are_unknown_routes_and_every_answer_is_kept_from_caches() {
    let state = offline_state();
    let mut shared = Arc::try_unwrap(state.0).ok().expect("one owner");
    shared.settings = Arc::new(Settings { api_docs: false, development: false, ..clone_settings(&shared.settings) });
    let state = AppState::new(shared);
    for path in ["/docs", "/docs/ui/", "/openapi.json"] {
        let resp = router(state.clone()).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let resp = router(state).oneshot(Request::get("/token").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store", "a token is never cached");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(resp.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
}

fn clone_settings(s: &Settings) -> Settings {
    Settings { default_merchant: s.default_merchant.clone(), base_url: s.base_url.clone(), ..*s }
}

/// Writes the document for `make openapi-check`: `OPENAPI_OUT` (default `target/openapi.json`),
/// with `BASE_URL` (default the API's) as its server.
#[test]
#[ignore = "writes a file; run by `make openapi-check`"]
fn write_openapi_json() {
    let out = std::env::var("OPENAPI_OUT").unwrap_or_else(|_| "target/openapi.json".into());
    let base_url = std::env::var("BASE_URL").unwrap_or_else(|_| "http://localhost:4444".into());
    let json = document(&base_url).to_pretty_json().unwrap();
    std::fs::write(&out, json + "\n").unwrap_or_else(|e| panic!("writing {out}: {e}"));
    println!("wrote {out}");
}
