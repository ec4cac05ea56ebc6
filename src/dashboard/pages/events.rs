//! The merchant's events, newest first, and one event with its delivery attempts and a
//! redeliver button.
use axum::extract::{Path, Query, State as Axum};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{Frame, Notice, Section, csrf, page};
use super::{PageForm, check_csrf, id_of};
use crate::dashboard::State;
use crate::dashboard::error::{PageError, sentence};
use crate::dashboard::format::time;
use crate::dashboard::model::{AttemptList, Event, EventPage, Redelivery};
use crate::dashboard::session::SignedIn;
use crate::dashboard::sign_in::CsrfForm;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    cursor: String,
}

pub async fn list(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let url = state.api.url(&["events"], &[("cursor", &q.cursor), ("limit", "25")]);
    let page_ = state
        .api
        .get::<EventPage>(&session.token, url)
        .await
        .map_err(|e| PageError::from_api(e, Some("/events".into())))?
        .body;
    let body = html! {
        @if page_.events.is_empty() {
            p { "No events yet." }
        } @else {
            div class="scroll" { table {
                caption class="visually-hidden" { "Events, newest first" }
                thead { tr { th scope="col" { "When" } th scope="col" { "Type" } th scope="col" { "What" } th scope="col" { "Payment" } } }
                tbody { @for e in &page_.events { tr {
                    td { (time(e.timestamp)) }
                    td { a href={ "/events/" (e.id) } { code { (e.r#type) } } }
                    td { (super::payment::what(e)) }
                    td { a href={ "/payments/" (e.payment_id) } { code { (e.payment_id.get(..8).unwrap_or(&e.payment_id)) } } }
                } } }
            } }
            @if let Some(next) = &page_.next_cursor {
                nav aria-label="Pages" { a href={ "/events?cursor=" (url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()) } { "Next page" } }
            }
        }
    };
    Ok(page(Frame::new("Events", Section::Events, Some(&session)), body).into_response())
}

#[derive(Deserialize)]
pub struct Done {
    redelivered: Option<String>,
}

pub async fn show(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let notice = done.redelivered.and_then(|n| n.parse::<usize>().ok()).map(|n| match n {
        0 => Notice::Problem("No enabled endpoint takes this type of event: nothing was sent.".into()),
        1 => Notice::Done("Redelivery started to 1 endpoint. Its attempt shows below.".into()),
        n => Notice::Done(format!("Redelivery started to {n} endpoints. Their attempts show below.")),
    });
    render(&state, &session, &id, notice, StatusCode::OK).await
}

async fn render(
    state: &State,
    session: &crate::dashboard::session::Session,
    id: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, PageError> {
    id_of(id, "event")?;
    let next = Some(format!("/events/{id}"));
    let (event, attempts) = tokio::join!(
        state.api.get::<Event>(&session.token, state.api.url(&["events", id], &[])),
        state.api.get::<AttemptList>(&session.token, state.api.url(&["events", id, "attempts"], &[])),
    );
    let missing = |e| PageError::about(e, "event", next.clone());
    let e = event.map_err(missing)?.body;
    let attempts = attempts.map_err(missing)?.body.attempts;
    let title = format!("Event {}", e.r#type);
    let body = html! {
        dl class="summary" {
            dt { "What" } dd { (super::payment::what(&e)) }
            dt { "When" } dd { (time(e.timestamp)) }
            dt { "Payment" } dd { a href={ "/payments/" (e.payment_id) } { code { (e.payment_id) } } }
            dt { "Version" } dd { (e.version) }
            dt { "By" } dd { (e.actor) }
            @if let Some(t) = &e.trace_id { dt { "Trace ID" } dd { code { (t) } } }
            dt { "Event ID" } dd { code { (e.id) } }
        }
        section aria-labelledby="attempts-title" {
            h2 id="attempts-title" { "Webhook attempts" }
            @if attempts.is_empty() {
                p { "No delivery attempts yet." }
            } @else {
                div class="scroll" { table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Endpoint" } th scope="col" { "Attempt" }
                        th scope="col" { "Answer" } th scope="col" class="num" { "Took" } } }
                    tbody { @for a in &attempts { tr {
                        td { (time(a.timestamp)) }
                        td { code { (a.endpoint_id) } }
                        td { (a.attempt) }
                        td {
                            @match (a.status_code, &a.error) {
                                (Some(code), _) if (200..300).contains(&code) => span class="badge ok" { "Delivered (" (code) ")" },
                                (Some(code), _) => span class="badge bad" { "Refused (" (code) ")" },
                                (None, Some(err)) => span class="badge bad" { "Not delivered (" (err) ")" },
                                (None, None) => span class="badge busy" { "Pending" },
                            }
                        }
                        td class="num" { (a.latency_ms) " ms" }
                    } } }
                } }
            }
            form class="redeliver" method="post" action={ "/events/" (e.id) "/redeliver" } {
                (csrf(session))
                button type="submit" { "Redeliver" }
            }
        }
    };
    Ok((status, page(Frame::new(&title, Section::Events, Some(session)).notice(notice), body)).into_response())
}

pub async fn redeliver(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&session, &form.csrf)?;
    id_of(&id, "event")?;
    let url = state.api.url(&["events", &id, "redeliver"], &[]);
    match state.api.write::<Redelivery>(Method::POST, &session.token, url, None, None::<&Value>).await {
        Ok(r) => Ok(Redirect::to(&format!("/events/{id}?redelivered={}", r.endpoints)).into_response()),
        Err(e) => match PageError::about(e, "event", Some(format!("/events/{id}"))) {
            PageError::Api(e) => {
                let status = e.status().filter(|s| s.is_client_error()).unwrap_or(StatusCode::BAD_GATEWAY);
                render(&state, &session, &id, Some(Notice::Problem(sentence(&e, None))), status).await
            }
            not_there_or_signed_out => Err(not_there_or_signed_out),
        },
    }
}
