//! Webhook endpoints: the list (disabled ones marked, with why), create (its secret shown once,
//! on the answer's page only), rotate the secret, delete.
use axum::extract::{Path, Query, State as Axum};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::layout::{Frame, Notice, Section, csrf, page};
use super::{PageForm, check_csrf, id_of};
use crate::dashboard::State;
use crate::dashboard::error::{PageError, sentence};
use crate::dashboard::format::time;
use crate::dashboard::model::{Endpoint, EndpointList};
use crate::dashboard::session::{Session, SignedIn};
use crate::dashboard::sign_in::CsrfForm;
use crate::domain::events::EventType;

const HERE: &str = "/webhook-endpoints";

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn list(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let notice = (done.done.as_deref() == Some("deleted")).then(|| Notice::Done("The endpoint was deleted.".into()));
    render(&state, &session, notice, StatusCode::OK).await
}

async fn render(
    state: &State,
    session: &Session,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let all = state
        .api
        .get::<EndpointList>(&session.token, state.api.url(&["webhook-endpoints"], &[]))
        .await
        .map_err(|e| PageError::from_api(e, Some(HERE.into())))?
        .body
        .webhook_endpoints;
    let body = html! {
        @if all.is_empty() {
            p { "No endpoints yet: events are not sent anywhere." }
        } @else {
            div class="scroll" { table {
                caption class="visually-hidden" { "Webhook endpoints" }
                thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "Status" }
                    th scope="col" { "Created" } th scope="col" { "Actions" } } }
                tbody { @for e in &all { (row(e, session)) } }
            } }
        }
        (create_form(session))
    };
    Ok((status, page(Frame::new("Webhook endpoints", Section::Webhooks, Some(session)).notice(notice), body))
        .into_response())
}

fn row(e: &Endpoint, session: &Session) -> Markup {
    html! {
        tr {
            td { code { (e.url) } @if let Some(d) = &e.description { br; span class="hint" { (d) } } }
            td { @if e.event_types.is_empty() { "All" } @else { (e.event_types.join(", ")) } }
            td {
                @if e.status == "enabled" {
                    span class="badge ok" { "Enabled" }
                } @else {
                    span class="badge bad" { "Disabled" }
                    @if let Some(why) = &e.disabled_reason { " (" (why) ")" }
                }
            }
            td { (time(e.created_at)) }
            td class="row-actions" {
                form method="post" action={ (HERE) "/" (e.id) "/rotate" } {
                    (csrf(session))
                    button type="submit" aria-label={ "Rotate secret of " (e.url) } { "Rotate secret" }
                }
                form method="post" action={ (HERE) "/" (e.id) "/delete" } {
                    (csrf(session))
                    button type="submit" class="danger" aria-label={ "Delete " (e.url) } { "Delete" }
                }
            }
        }
    }
}

fn create_form(session: &Session) -> Markup {
    html! {
        section aria-labelledby="create-title" {
            h2 id="create-title" { "Add an endpoint" }
            form class="stacked" method="post" action=(HERE) {
                (csrf(session))
                label for="url" { "URL" }
                input id="url" name="url" type="url" required placeholder="https://shop.example.com/webhooks";
                label for="description" { "Description (optional)" }
                input id="description" name="description" type="text" maxlength="200";
                fieldset {
                    legend { "Events (none ticked: all of them)" }
                    @for t in EventType::ALL {
                        span class="check" {
                            input id={ "type-" (t.as_str()) } name="event_types" type="checkbox" value=(t.as_str());
                            label for={ "type-" (t.as_str()) } { (t.as_str()) }
                        }
                    }
                }
                button type="submit" class="primary" { "Add endpoint" }
            }
        }
    }
}

pub async fn create(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    // Read by hand: `event_types` comes once per ticked box, which `Form` does not gather.
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim());
    check_csrf(&session, field("csrf"))?;
    let types: Vec<&str> = fields.iter().filter(|(k, _)| k == "event_types").map(|(_, v)| v.as_str()).collect();
    let mut request = json!({ "Url": field("url") });
    if !types.is_empty() {
        request["EventTypes"] = json!(types);
    }
    if !field("description").is_empty() {
        request["Description"] = json!(field("description"));
    }
    let url = state.api.url(&["webhook-endpoints"], &[]);
    match state.api.write::<Endpoint>(Method::POST, &session.token, url, None, Some(&request)).await {
        Ok(created) => Ok(secret_page(&session, "Endpoint added", &created, true)),
        Err(e) if e.status() == Some(StatusCode::UNAUTHORIZED) => Err(PageError::SignedOut { next: Some(HERE.into()) }),
        Err(e) => {
            let status = e.status().filter(|s| s.is_client_error()).unwrap_or(StatusCode::BAD_GATEWAY);
            render(&state, &session, Some(Notice::Problem(unrepeatable(&e))), status).await
        }
    }
}

pub async fn rotate(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&session, &form.csrf)?;
    id_of(&id, "webhook endpoint")?;
    let url = state.api.url(&["webhook-endpoints", &id, "rotate-secret"], &[]);
    match state.api.write::<Endpoint>(Method::POST, &session.token, url, None, None::<&Value>).await {
        Ok(rotated) => Ok(secret_page(&session, "Secret rotated", &rotated, false)),
        Err(e) => Err(PageError::about(e, "webhook endpoint", Some(HERE.into()))),
    }
}

pub async fn delete(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&session, &form.csrf)?;
    id_of(&id, "webhook endpoint")?;
    match state.api.delete(&session.token, state.api.url(&["webhook-endpoints", &id], &[])).await {
        Ok(()) => Ok(Redirect::to(&format!("{HERE}?done=deleted")).into_response()),
        Err(e) => Err(PageError::about(e, "webhook endpoint", Some(HERE.into()))),
    }
}

/// Adding an endpoint is not idempotent at the API (it takes no key): after an unknown outcome
/// the list, not a second try, tells whether it was done.
fn unrepeatable(e: &crate::dashboard::api::ApiFailure) -> String {
    if e.outcome_unknown() {
        "The payments service did not confirm the change, which may have been made. Look at the list below \
         before trying again."
            .into()
    } else {
        sentence(e, None)
    }
}

/// The only page that ever shows a secret: the answer to create (`new`) or rotate. Not kept
/// anywhere. A new endpoint's first events may come a few seconds late (`Deliverer::catch_up`).
fn secret_page(session: &Session, title: &str, e: &Endpoint, new: bool) -> Response {
    let body = html! {
        p { "Events go to " code { (e.url) } "." }
        @if new {
            p class="hint" { "It receives the events recorded from now on; those of its first seconds may come up to half a minute later." }
        }
        @if let Some(secret) = &e.secret {
            p role="alert" { strong { "Copy the signing secret now: it is not shown again." } }
            p { label for="secret" { "Signing secret" } }
            p { input id="secret" class="secret" type="text" readonly value=(secret); }
            p class="hint" { "Verify each delivery's webhook-signature header with it (Standard Webhooks)." }
        }
        p { a href=(HERE) { "Back to webhook endpoints" } }
    };
    (StatusCode::OK, page(Frame::new(title, Section::Webhooks, Some(session)), body)).into_response()
}
