//! The event log's routes: a payment's audit trail, the merchant's feed, one event.
use super::filters::{param, time};
use crate::domain::ids::PaymentId;
use crate::domain::search::EventFilter;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::Merchant;
use super::error::{ApiError, ErrorEnvelope, RateLimitedDoc, ServerErrors, Unauthorized};
use super::event_views::{self, EventBody, EventPage};
use super::openapi::TAG_EVENTS;
use super::routes::{ListQuery, invalid_query, page_limit, payment_id};
use crate::domain::events::{EventId, EventType};

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
        Unauthorized,
        RateLimitedDoc,
        (status = 404, description = "`payment_not_found`: unknown, or another merchant's.", body = ErrorEnvelope),
        (status = 422, description = "`validation_failed`: `Fields` names `limit` with code `out_of_range`.",
            body = ErrorEnvelope),
        ServerErrors,
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
    Ok(Json(event_views::page(&page.events, page.next_cursor)))
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
        Unauthorized,
        RateLimitedDoc,
        (status = 422, description = "`validation_failed`: `Fields` names `limit` (`out_of_range`), `type` \
            (`unknown_event_type`), or `payment_id`, `created_gte` or `created_lt` (`invalid_format`).",
            body = ErrorEnvelope),
        ServerErrors,
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
    Ok(Json(event_views::page(&page.events, page.next_cursor)))
}

/// One event.
///
/// Another merchant's event is answered exactly like an unknown one.
#[utoipa::path(get, path = "/events/{id}", tag = TAG_EVENTS, security(("bearer" = [])),
    params(("id" = String, Path, description = "The `EventID`.")),
    responses(
        (status = 200, description = "The event.", body = EventBody),
        (status = 400, description = "`invalid_event_id`: not an id this API gives.", body = ErrorEnvelope),
        Unauthorized,
        RateLimitedDoc,
        (status = 404, description = "`event_not_found`: unknown, or another merchant's (an event past its \
            30 days may still be served until DynamoDB's TTL removes it).",
            body = ErrorEnvelope),
        ServerErrors,
    ))]
pub async fn get_event(
    State(state): State<AppState>,
    Merchant(merchant): Merchant,
    Path(id): Path<String>,
) -> Result<Json<EventBody>, ApiError> {
    let id = EventId::parse(&id)
        .ok_or_else(|| ApiError::BadRequest("invalid_event_id", "not an event id this API gives".into()))?;
    tracing::Span::current().record("payment_id", tracing::field::display(id.payment_id));
    let event = state.services.get_event(&merchant, id).await?;
    Ok(Json(event_views::event(&event)))
}
