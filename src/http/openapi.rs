//! The OpenAPI document, generated from the code: every route is registered through
//! `utoipa_axum::routes!` (see `router::api_routes`), which takes the route's path and methods from
//! its handler's `#[utoipa::path]`, so a route cannot be served without being documented. Schemas
//! come from `ToSchema` on the types serde writes (views.rs, error.rs) or reads (payload.rs).
//!
//! Served at `GET /openapi.json`, browsable at `GET /docs` (Swagger UI, compiled in); no
//! authentication for either.
//! Without a server: `make openapi-check` writes it with the ignored test `write_openapi_json`.
use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, LicenseBuilder, OpenApi, OpenApiBuilder, RefOr, Required, Server,
};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::error::{ErrorEnvelope, doc};

pub const TAG_SERVICE: &str = "service";
pub const TAG_AUTH: &str = "auth";
pub const TAG_PAYMENTS: &str = "payments";
pub const TAG_EVENTS: &str = "events";
pub const TAG_WEBHOOKS: &str = "webhooks";
/// The security scheme's name; `security(("bearer" = []))` in routes.rs must match it.
pub const BEARER: &str = "bearer";

/// Every route of the API (README, "API") plus the documentation's own, as
/// (method, path). The tests hold the spec and the router to exactly this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/status"),
    ("GET", "/token"),
    ("POST", "/payments"),
    ("GET", "/payments"),
    ("GET", "/payments/{id}"),
    ("PATCH", "/payments/{id}/refund"),
    ("POST", "/payments/{id}/capture"),
    ("POST", "/payments/{id}/cancel"),
    ("GET", "/payments/{id}/events"),
    ("GET", "/events"),
    ("GET", "/events/{id}"),
    ("GET", "/events/{id}/attempts"),
    ("POST", "/events/{id}/redeliver"),
    ("POST", "/webhook-endpoints"),
    ("GET", "/webhook-endpoints"),
    ("GET", "/webhook-endpoints/{id}"),
    ("DELETE", "/webhook-endpoints/{id}"),
    ("POST", "/webhook-endpoints/{id}/rotate-secret"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
];

const TITLE: &str = "payment-platform API";

const DESCRIPTION: &str = "Card payments and refunds. `POST /payments` stores the payment PENDING and \
answers 202 at once; workers charge the bank and settle it. Poll `GET /payments/{id}` while it sends \
`Retry-After`.\n\n\
**Authentication**: `Authorization: Bearer <token>` (a JWT naming a registered merchant) on every route but `/status`, `/token`, \
`/openapi.json` and `/docs`; `GET /token` issues one in development. Metrics are not on this port: they are \
served to operators on the admin port (`ADMIN_PORT`).\n\n\
**Rate limits**: per merchant and API replica, for reads and for writes; over them, 429 `rate_limited` \
with `Retry-After` and the `RateLimit-Policy` / `RateLimit` headers.\n\n\
**Idempotency**: `POST /payments`, `PATCH /payments/{id}/refund` and a payment's capture and cancel honour \
an `Idempotency-Key` header. Send one with every write: it is what makes a retry safe.\n\n\
**Ambiguous answers**: a write the database did not confirm in time answers 504 `outcome_unknown`, never \
a bare \"retry\": the payment, refund or webhook endpoint may exist, and if it does it is carried through. \
Repeat the request with the same `Idempotency-Key` (a replay returns the first answer, or creates it once); \
without a key, look for what it would have made (`GET /payments`, `GET /webhook-endpoints`) before sending it \
again. 503 (`service_unavailable`, `timeout`, with `Retry-After`) means nothing was written, or that the \
request is one that may be repeated (deleting a webhook endpoint, redelivering an event), so it is safe to \
retry.\n\n\
**Errors** all have one envelope, `{\"Error\": {\"Code\", \"Message\", \"Fields\"?}}`, with a stable `Code`; \
each response below lists the codes it carries. Besides those, an unknown path answers 404 \
`route_not_found`, a method a path does not document answers 405 `method_not_allowed`, and headers over \
`MAX_HEADER_BYTES` (16 KiB) or 100 fields answer 431 `headers_too_large`.\n\n\
Fields are PascalCase (`paymentID` in the create answer is kept for older clients); amounts are \
integers in minor units; times are ms since the epoch.";

/// What the document says before the routes are added: info, tags, the bearer scheme.
pub fn base() -> OpenApi {
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .description(Some(
            "A JWT naming a registered merchant: in production an RS256/ES256 token of the identity provider \
             (`JWT_JWKS_URL`), in development an HS256 token from `GET /token`.",
        ))
        .build();
    let tag = |name: &str, description: &str| TagBuilder::new().name(name).description(Some(description)).build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(TITLE)
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .license(Some(LicenseBuilder::new().name("MIT").identifier(Some("MIT")).build()))
                .build(),
        )
        .tags(Some([
            tag(TAG_PAYMENTS, "Payments and refunds of the authenticated merchant."),
            tag(TAG_EVENTS, "The event log: every change of a payment or refund, kept at least 30 days."),
            tag(TAG_WEBHOOKS, "Endpoints that receive the event log as signed webhooks (Standard Webhooks)."),
            tag(TAG_AUTH, "Development token issuance."),
            tag(TAG_SERVICE, "Liveness and this documentation."),
        ]))
        .components(Some(ComponentsBuilder::new().security_scheme(BEARER, SecurityScheme::Http(bearer)).build()))
        .build()
}

/// The finished document, from the routes' one: `BASE_URL` as its server, and the refund body
/// optional (`#[utoipa::path]` says that only with `Option<T>`, which would also allow a JSON
/// `null`, refused as `malformed_json`).
pub fn finish(mut spec: OpenApi, base_url: &str) -> OpenApi {
    if !base_url.is_empty() {
        spec.servers = Some(vec![Server::new(base_url.trim_end_matches('/'))]);
    }
    let refund = spec.paths.paths.get_mut("/payments/{id}/refund").and_then(|item| item.patch.as_mut());
    if let Some(RefOr::T(body)) = refund.and_then(|op| op.request_body.as_mut()) {
        body.required = Some(Required::False);
    }
    spec
}

/// The document the API serves, built without a server (for dumps and tests).
pub fn document(base_url: &str) -> OpenApi {
    finish(super::api_routes().into_openapi(), base_url)
}

/// The serialised document, handed to `openapi_json` as a request extension.
#[derive(Clone)]
pub struct SpecJson(Bytes);

impl SpecJson {
    pub fn new(spec: &OpenApi) -> Self {
        Self(Bytes::from(spec.to_json().expect("the OpenAPI document serialises")))
    }
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = TAG_SERVICE,
    responses(
        (status = 200, description = "The OpenAPI document of this API.", body = Object,
            content_type = "application/json"),
        (status = 503, description = doc::TIMEOUT, body = ErrorEnvelope,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
pub async fn openapi_json(Extension(spec): Extension<SpecJson>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], spec.0)
}

/// Where the Swagger UI lives: its page and assets are compiled into the binary (the
/// `vendored` feature), so the docs work without internet access.
pub const DOCS_UI: &str = "/docs/ui";

/// The Swagger UI, merged into the router beside the documented routes (its files are not API
/// routes); it renders the document served at `/openapi.json`.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new(DOCS_UI).config(Config::from("/openapi.json"))
}

/// Browsable API documentation: sends the browser to the Swagger UI, which renders `/openapi.json`.
#[utoipa::path(get, path = "/docs", tag = TAG_SERVICE,
    responses(
        (status = 303, description = "To the Swagger UI page (`/docs/ui/`), served by this binary, which renders `/openapi.json`.",
            headers(("Location" = String, description = "`/docs/ui/`"))),
        (status = 503, description = doc::TIMEOUT, body = ErrorEnvelope,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
pub async fn docs() -> Redirect {
    Redirect::to(&format!("{DOCS_UI}/"))
}

#[cfg(test)]
mod tests;
