//! The webhook endpoints resource: register, list, read, delete, rotate a secret.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value};

mod views;

use views::{EndpointBody, EndpointList};

use super::AppState;
use super::auth::Merchant;
use super::error::{ApiError, BearerErrors, ErrorEnvelope, FieldError, doc};
use super::middleware::timeout::{WriteStarted, carry};
use super::openapi::TAG_WEBHOOKS;
use super::request::{object, read_body, unknown_fields};
use crate::app::endpoints::NewEndpoint;
use crate::domain::events::EventType;
use crate::domain::webhooks::{EndpointId, MAX_DESCRIPTION, WebhookUrl};

/// The body of `POST /webhook-endpoints` (documentation; `endpoint_request` reads it).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[schema(as = WebhookEndpointRequest, example = json!({"Url": "https://shop.example.com/webhooks/payments",
    "EventTypes": ["payment.succeeded", "payment.declined", "payment.failed"], "Description": "order service"}))]
#[allow(dead_code)]
pub struct EndpointRequestDoc {
    /// `https` to a public host (plain `http` and private addresses only where
    /// `WEBHOOK_ALLOW_PRIVATE_URLS` is on, as on the emulator); at most 2048 characters.
    url: String,
    /// Event types to deliver; absent or empty: every type.
    event_types: Option<Vec<String>>,
    /// Up to 512 printable characters.
    description: Option<String>,
}

fn endpoint_request(map: &Map<String, Value>, allow_private: bool) -> Result<NewEndpoint, ApiError> {
    let mut errors = Vec::new();
    let url = match map.get("Url") {
        Some(Value::String(u)) => WebhookUrl::parse(u, allow_private)
            .map_err(|e| errors.push(FieldError::new("Url", "invalid_url", e.to_string())))
            .ok(),
        None | Some(Value::Null) => {
            errors.push(FieldError::new("Url", "required", "is required"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new("Url", "invalid_type", "must be a string"));
            None
        }
    };
    let mut event_types = Vec::new();
    match map.get("EventTypes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(types)) => {
            for t in types {
                match t.as_str().map(str::parse::<EventType>) {
                    Some(Ok(k)) if !event_types.contains(&k) => event_types.push(k),
                    Some(Ok(_)) => {}
                    _ => errors.push(FieldError::new(
                        "EventTypes",
                        "unknown_event_type",
                        "lists something that is not an event type",
                    )),
                }
            }
        }
        Some(_) => errors.push(FieldError::new("EventTypes", "invalid_type", "must be an array of event types")),
    }
    let description = match map.get("Description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.chars().count() <= MAX_DESCRIPTION && !d.chars().any(char::is_control) => {
            Some(d.clone())
        }
        Some(Value::String(_)) => {
            errors.push(FieldError::new("Description", "invalid_format", "must be at most 512 printable characters"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new("Description", "invalid_type", "must be a string"));
            None
        }
    };
    errors.extend(unknown_fields(map, &["Url", "EventTypes", "Description"]));
    match url {
        Some(url) if errors.is_empty() => Ok(NewEndpoint { url, event_types, description }),
        _ => Err(ApiError::Validation(errors)),
    }
}

fn endpoint_id(raw: &str) -> Result<EndpointId, ApiError> {
    EndpointId::parse(raw).ok_or_else(|| {
        ApiError::BadRequest("invalid_webhook_endpoint_id", "not a webhook endpoint id this API gives".into())
    })
}

/// Registers an endpoint; its signing secret is in this answer only.
///
/// Each event of a subscribed type is POSTed to `Url` following the Standard Webhooks
/// specification (`webhook-id`, `webhook-timestamp`, `webhook-signature` headers), retried on
/// failure after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h. A 410 answer disables the endpoint,
/// and so do 5 days of failures without a success. At most 16 endpoints per merchant.
#[utoipa::path(post, path = "/webhook-endpoints", tag = TAG_WEBHOOKS, security(("bearer" = [])),
    request_body = EndpointRequestDoc,
    responses(
        (status = 201, description = "Created, with its `Secret` (`whsec_...`).", body = EndpointBody),
        (status = 400, description = "`malformed_json`: the body is not a JSON object.", body = ErrorEnvelope),
        (status = 409, description = "`too_many_webhook_endpoints`: the merchant has 16 already.", body = ErrorEnvelope),
        (status = 413, description = doc::BODY_TOO_LARGE, body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names `Url` (`required`, `invalid_type`, \
            `invalid_url`: not https, not a public host, or malformed), `EventTypes` (`unknown_event_type`) or \
            `Description`.", body = ErrorEnvelope),
        (status = 504, description = doc::ENDPOINT_OUTCOME_UNKNOWN, body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn create_endpoint(
    State(state): State<AppState>,
    Extension(started): Extension<WriteStarted>,
    Merchant(merchant): Merchant,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<EndpointBody>), ApiError> {
    let map = object(&read_body(raw)?, false)?;
    let new = endpoint_request(&map, state.settings.webhook_allow_private)?;
    // Carried through: the endpoint's write is followed by its catch-up job, which plans for it
    // the events of its first seconds; cut between the two, those would never reach it.
    let services = state.services.clone();
    let (endpoint, secret) =
        carry(&state, &started, async move { services.create_endpoint(&merchant, new).await }).await?;
    Ok((StatusCode::CREATED, Json(views::endpoint(&endpoint, Some(secret)))))
}

/// The merchant's webhook endpoints, oldest first (without secrets).
#[utoipa::path(get, path = "/webhook-endpoints", tag = TAG_WEBHOOKS, security(("bearer" = [])),
    responses((status = 200, description = "Every endpoint.", body = EndpointList), BearerErrors))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
) -> Result<Json<EndpointList>, ApiError> {
    Ok(Json(views::endpoints(&state.services.endpoints(&merchant).await?)))
}

/// One webhook endpoint (without its secret).
#[utoipa::path(get, path = "/webhook-endpoints/{id}", tag = TAG_WEBHOOKS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The `WebhookEndpointID`.")),
    responses(
        (status = 200, description = "The endpoint.", body = EndpointBody),
        (status = 400, description = "`invalid_webhook_endpoint_id`.", body = ErrorEnvelope),
        (status = 404, description = "`webhook_endpoint_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn get_endpoint(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<EndpointBody>, ApiError> {
    let endpoint = state.services.endpoint(&merchant, endpoint_id(&id)?).await?;
    Ok(Json(views::endpoint(&endpoint, None)))
}

/// Deletes a webhook endpoint: nothing more is delivered to it.
#[utoipa::path(delete, path = "/webhook-endpoints/{id}", tag = TAG_WEBHOOKS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The `WebhookEndpointID`.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "`invalid_webhook_endpoint_id`.", body = ErrorEnvelope),
        (status = 404, description = "`webhook_endpoint_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.services.delete_endpoint(&merchant, endpoint_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, in this answer only. For 24 hours the previous secret signs too
/// (`webhook-signature` then carries two signatures), so receivers can switch without losing any.
#[utoipa::path(post, path = "/webhook-endpoints/{id}/rotate-secret", tag = TAG_WEBHOOKS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The `WebhookEndpointID`.")),
    responses(
        (status = 200, description = "The endpoint with its new `Secret`.", body = EndpointBody),
        (status = 400, description = "`invalid_webhook_endpoint_id`.", body = ErrorEnvelope),
        (status = 404, description = "`webhook_endpoint_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        (status = 409, description = "`payment_busy`: the endpoint kept changing; nothing was changed.", body = ErrorEnvelope),
        (status = 504, description = doc::ENDPOINT_OUTCOME_UNKNOWN, body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Extension(started): Extension<WriteStarted>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<EndpointBody>, ApiError> {
    let id = endpoint_id(&id)?;
    let services = state.services.clone();
    let (endpoint, secret) =
        carry(&state, &started, async move { services.rotate_secret(&merchant, id).await }).await?;
    Ok(Json(views::endpoint(&endpoint, Some(secret))))
}
