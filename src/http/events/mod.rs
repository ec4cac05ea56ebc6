//! The event log's routes: a payment's audit trail, the merchant's feed, one event, and the
//! event's webhook deliveries (its attempts, a redelivery).
mod views;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use views::{AttemptList, EventPage, Redelivery};

use super::AppState;
use super::auth::Merchant;
use super::error::{ApiError, BearerErrors, ErrorEnvelope};
use super::openapi::TAG_EVENTS;
use super::request::{ListQuery, event_id, invalid_query, page_limit, param, payment_id, time};
use crate::domain::events::EventType;
use crate::domain::ids::PaymentId;
use crate::domain::search::EventFilter;
use crate::wire::event::{self as wire_event, EventBody};

/// A payment's audit trail: every change of it and of its refunds, oldest first.
///
/// Each event holds the payment as that change left it; `Version` runs 1, 2, 3, ... Another
/// merchant's payment is answered exactly like an unknown one. Reads are not recorded.
#[utoipa::path(get, path = "/payments/{id}/events", tag = TAG_EVENTS, security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The `paymentID`."), ListQuery),
    responses(
        (status = 200, description = "A page, oldest first; follow `NextCursor` until it is null.", body = EventPage),
        (status = 400, description = "`invalid_payment_id`: the id is not a UUID; `invalid_query`: the query \
            string cannot be read; `invalid_cursor`: `cursor` is not one this API gave.", body = ErrorEnvelope),
        (status = 404, description = "`payment_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names `limit` with code `out_of_range`.",
            body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn payment_events(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let id = payment_id(&id)?;
    let Query(q) = query.map_err(|_| invalid_query())?;
    let limit = page_limit(q.limit.as_deref())?;
    let page = state.services.payment_events(&merchant, id, limit, q.cursor.as_deref()).await?;
    Ok(Json(views::page(&page.events, page.next_cursor)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Only events of this type (e.g. `payment.succeeded`).
    #[param(example = "payment.succeeded")]
    r#type: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, example = 20)]
    limit: Option<String>,
    /// The `NextCursor` of the previous page; omit for the first page.
    cursor: Option<String>,
    /// Only the events of this payment (none for a payment that is not yours).
    #[param(format = "uuid")]
    payment_id: Option<String>,
    /// Only events recorded at or after this time, ms since the epoch.
    #[param(value_type = Option<u64>, example = 1_767_225_600_000_u64)]
    created_gte: Option<String>,
    /// Only events recorded before this time, ms since the epoch.
    #[param(value_type = Option<u64>, example = 1_769_904_000_000_u64)]
    created_lt: Option<String>,
}

/// The merchant's events, newest first, kept at least 30 days; by type, payment and time, in
/// any combination.
#[utoipa::path(get, path = "/events", tag = TAG_EVENTS, security(("bearer" = [])), params(FeedQuery),
    responses(
        (status = 200, description = "A page, newest first; follow `NextCursor` until it is null.", body = EventPage),
        (status = 400, description = "`invalid_query`: the query string cannot be read; \
            `invalid_cursor`: `cursor` is not one this API gave.", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names `limit` (`out_of_range`), `type` \
            (`unknown_event_type`), or `payment_id`, `created_gte` or `created_lt` (`invalid_format`).",
            body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let Query(q) = query.map_err(|_| invalid_query())?;
    let limit = page_limit(q.limit.as_deref())?;
    let mut errors = Vec::new();
    let kind = q.r#type.as_deref().map(str::parse::<EventType>);
    let kind = param(&mut errors, "type", "unknown_event_type", kind, |_| "is not an event type".into());
    let payment = q.payment_id.as_deref().map(PaymentId::parse);
    let payment =
        param(&mut errors, "payment_id", "invalid_format", payment, |_| "must be a payment id (a UUID)".into());
    let created_gte = time(&mut errors, "created_gte", q.created_gte.as_deref());
    let created_lt = time(&mut errors, "created_lt", q.created_lt.as_deref());
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let filter = EventFilter { kind, payment, created_gte, created_lt };
    let page = state.services.list_events(&merchant, &filter, limit, q.cursor.as_deref()).await?;
    Ok(Json(views::page(&page.events, page.next_cursor)))
}

/// One event.
///
/// Another merchant's event is answered exactly like an unknown one.
#[utoipa::path(get, path = "/events/{id}", tag = TAG_EVENTS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The `EventID`.")),
    responses(
        (status = 200, description = "The event.", body = EventBody),
        (status = 400, description = "`invalid_event_id`: not an id this API gives.", body = ErrorEnvelope),
        (status = 404, description = "`event_not_found`: unknown, or another merchant's (an event past its \
            30 days may still be served until DynamoDB's TTL removes it).",
            body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn get_event(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<EventBody>, ApiError> {
    let id = event_id(&id)?;
    let event = state.services.get_event(&merchant, id).await?;
    Ok(Json(wire_event::event(&event)))
}

/// Every attempt at delivering an event to the merchant's endpoints, oldest first.
#[utoipa::path(get, path = "/events/{id}/attempts", tag = TAG_EVENTS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The `EventID`.")),
    responses(
        (status = 200, description = "The attempts (empty before the first).", body = AttemptList),
        (status = 400, description = "`invalid_event_id`.", body = ErrorEnvelope),
        (status = 404, description = "`event_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn attempts(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<AttemptList>, ApiError> {
    let id = event_id(&id)?;
    Ok(Json(views::attempts(&state.services.delivery_attempts(&merchant, id).await?)))
}

/// Delivers the event again now to every enabled endpoint subscribed to its type, from the start
/// of the retry schedule (whether or not it was delivered before; receivers drop duplicates by
/// `webhook-id`).
#[utoipa::path(post, path = "/events/{id}/redeliver", tag = TAG_EVENTS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The `EventID`.")),
    responses(
        (status = 202, description = "Queued for delivery.", body = Redelivery),
        (status = 400, description = "`invalid_event_id`.", body = ErrorEnvelope),
        (status = 404, description = "`event_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        (status = 409, description = "`delivery_in_progress`: a delivery round of the event is under way; \
            try again in a few seconds.", body = ErrorEnvelope),
        BearerErrors,
    ))]
pub async fn redeliver(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Redelivery>), ApiError> {
    let id = event_id(&id)?;
    let endpoints = state.services.redeliver(&merchant, id).await?;
    Ok((StatusCode::ACCEPTED, Json(Redelivery { event_id: id.to_string(), endpoints })))
}
