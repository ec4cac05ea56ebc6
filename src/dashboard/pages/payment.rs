//! One payment: its state and amounts, refunds and captures, its timeline from the audit trail,
//! and the actions refund, capture and cancel. Each action form carries an idempotency key made
//! when the page was shown, so a double click, a resubmitted form or a retry after "no answer"
//! sends the same key and the API does it once. While anything of the payment is under way
//! (the API's `Retry-After`) the page reloads itself.
use axum::extract::{Path, Query, State as Axum};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::layout::{Frame, Notice, Section, badge, csrf, page};
use super::{PageForm, check_csrf, id_of, key_of, new_key};
use crate::dashboard::State;
use crate::dashboard::api::{Answer, ApiFailure};
use crate::dashboard::error::{PageError, sentence};
use crate::dashboard::format::{money, parse_amount, time};
use crate::dashboard::model::{Event, EventPage, Payment};
use crate::dashboard::session::{Session, SignedIn};

mod timeline;

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn show(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let notice = done.done.as_deref().and_then(|d| match d {
        "refund" => Some("Refund requested. It shows below once the bank has answered."),
        "capture" => Some("Capture requested. It shows below once the bank has answered."),
        "cancel" => Some("Cancel requested. What is not captured is released at the bank."),
        _ => None,
    });
    render(&state, &session, &id, notice.map(|n| Notice::Done(n.into())), None, StatusCode::OK).await
}

/// The page, with `notice`; `retry_key` puts the key of a request whose outcome is unknown back
/// in its form, so submitting it again replays rather than repeats it.
async fn render(
    state: &State,
    session: &Session,
    id: &str,
    notice: Option<Notice>,
    retry_key: Option<(Action, String)>,
    status: StatusCode,
) -> Result<Response, PageError> {
    id_of(id, "payment")?;
    let next = Some(format!("/payments/{id}"));
    let (payment, events) = tokio::join!(
        state.api.get::<Payment>(&session.token, state.api.url(&["payments", id], &[])),
        state.api.get::<EventPage>(&session.token, state.api.url(&["payments", id, "events"], &[("limit", "100")])),
    );
    let Answer { body: p, in_flight } = payment.map_err(|e| not_found_or(e, next.clone()))?;
    let events = events.map_err(|e| not_found_or(e, next))?.body.events;
    let key = |action| match &retry_key {
        Some((a, key)) if *a == action => key.clone(),
        _ => new_key(),
    };
    let title = format!("Payment {}", p.merchant_reference.as_deref().unwrap_or(&p.id));
    let body = html! {
        (summary(&p))
        (actions(&p, session, key))
        (refunds(&p))
        (captures(&p))
        (timeline::section(&events))
    };
    let mut frame = Frame::new(&title, Section::Payments, Some(session)).notice(notice);
    frame.refresh_secs = in_flight.then_some(2);
    Ok((status, page(frame, body)).into_response())
}

fn not_found_or(e: ApiFailure, next: Option<String>) -> PageError {
    if e.status() == Some(StatusCode::NOT_FOUND) {
        PageError::NotFound("payment")
    } else {
        PageError::from_api(e, next)
    }
}

fn summary(p: &Payment) -> Markup {
    let m = |amount: u64| money(amount, &p.currency);
    html! {
        dl class="summary" {
            dt { "Status" } dd { (badge(&p.status)) @if let Some(r) = &p.reason { " " span class="reason" { "(" (r) ")" } } }
            dt { "Amount" } dd { (m(p.price)) }
            @if p.is_manual() {
                dt { "Authorized" } dd { (m(p.authorized_amount.unwrap_or(0))) }
                dt { "Captured" } dd { (m(p.captured_amount.unwrap_or(0))) }
                dt { "Capturable" } dd { (m(p.capturable_amount.unwrap_or(0))) }
                @if let Some(at) = p.authorization_expires_at { dt { "Authorization expires" } dd { (time(at)) } }
            }
            dt { "Refunded" } dd { (m(p.refunded_amount)) }
            dt { "Refundable" } dd { (m(p.refundable_amount)) }
            dt { "Card" } dd { "•••• " (p.card_last4) }
            dt { "Customer" } dd { (p.customer_id) @if let Some(n) = &p.customer_name { " (" (n) ")" } }
            @if let Some(r) = &p.merchant_reference { dt { "Reference" } dd { (r) } }
            dt { "Capture" } dd { (if p.is_manual() { "Manual (authorize, then capture)" } else { "Automatic" }) }
            dt { "Created" } dd { (time(p.timestamp)) }
            dt { "Payment ID" } dd { code { (p.id) } }
            @for (k, v) in &p.metadata { dt { "Metadata: " (k) } dd { (v) } }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Refund,
    Capture,
    Cancel,
}

fn actions(p: &Payment, session: &Session, key: impl Fn(Action) -> String) -> Markup {
    let digits_hint = format!("in {}; leave empty for all", p.currency);
    let can_capture = p.is_manual() && p.status == "AUTHORIZED" && p.capturable_amount.unwrap_or(0) > 0;
    let can_cancel = p.is_manual()
        && matches!(p.status.as_str(), "PENDING" | "PROCESSING" | "AUTHORIZED")
        && p.cancel_requested_at.is_none()
        && !p.captures.iter().any(|c| !crate::dashboard::format::is_final(&c.status));
    html! {
        @if p.refundable_amount > 0 || can_capture || can_cancel {
            section class="actions" aria-labelledby="actions-title" {
                h2 id="actions-title" { "Actions" }
                @if p.refundable_amount > 0 {
                    form method="post" action={ "/payments/" (p.id) "/refund" } {
                        (csrf(session))
                        input type="hidden" name="idempotency_key" value=(key(Action::Refund));
                        label for="refund-amount" { "Refund amount " span class="hint" { "(" (digits_hint) ", at most " (money(p.refundable_amount, &p.currency)) ")" } }
                        input id="refund-amount" name="amount" type="text" inputmode="decimal" autocomplete="off";
                        button type="submit" { "Refund" }
                    }
                }
                @if can_capture {
                    form method="post" action={ "/payments/" (p.id) "/capture" } {
                        (csrf(session))
                        input type="hidden" name="idempotency_key" value=(key(Action::Capture));
                        label for="capture-amount" { "Capture amount " span class="hint" { "(" (digits_hint) ", at most " (money(p.capturable_amount.unwrap_or(0), &p.currency)) ")" } }
                        input id="capture-amount" name="amount" type="text" inputmode="decimal" autocomplete="off";
                        span class="check" {
                            input id="capture-final" name="final_capture" type="checkbox" value="true" checked;
                            label for="capture-final" { "Final capture (release the rest)" }
                        }
                        button type="submit" { "Capture" }
                    }
                }
                @if can_cancel {
                    form method="post" action={ "/payments/" (p.id) "/cancel" } {
                        (csrf(session))
                        input type="hidden" name="idempotency_key" value=(key(Action::Cancel));
                        button type="submit" class="danger" { "Cancel payment" }
                    }
                }
            }
        }
    }
}

fn refunds(p: &Payment) -> Markup {
    html! {
        @if !p.refunds.is_empty() {
            section aria-labelledby="refunds-title" {
                h2 id="refunds-title" { "Refunds" }
                div class="scroll" { table {
                    thead { tr { th scope="col" { "Requested" } th scope="col" class="num" { "Amount" } th scope="col" { "Status" } th scope="col" { "Refund ID" } } }
                    tbody { @for r in &p.refunds { tr {
                        td { (time(r.timestamp)) }
                        td class="num" { (money(r.amount, &p.currency)) }
                        td { (badge(&r.status)) @if let Some(why) = &r.reason { " (" (why) ")" } }
                        td { code { (r.id) } }
                    } } }
                } }
            }
        }
    }
}

fn captures(p: &Payment) -> Markup {
    html! {
        @if !p.captures.is_empty() {
            section aria-labelledby="captures-title" {
                h2 id="captures-title" { "Captures" }
                div class="scroll" { table {
                    thead { tr { th scope="col" { "Requested" } th scope="col" class="num" { "Amount" } th scope="col" { "Status" } th scope="col" { "Final" } th scope="col" { "Capture ID" } } }
                    tbody { @for c in &p.captures { tr {
                        td { (time(c.timestamp)) }
                        td class="num" { (money(c.amount, &p.currency)) }
                        td { (badge(&c.status)) @if let Some(why) = &c.reason { " (" (why) ")" } }
                        td { (if c.final_capture { "Yes" } else { "No" }) }
                        td { code { (c.id) } }
                    } } }
                } }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    amount: String,
    /// A checkbox: present when ticked.
    final_capture: Option<String>,
}

pub async fn refund(
    state: Axum<State>,
    session: SignedIn,
    id: Path<String>,
    form: PageForm<ActionForm>,
) -> Result<Response, PageError> {
    act(state, session, id, form, Action::Refund).await
}

pub async fn capture(
    state: Axum<State>,
    session: SignedIn,
    id: Path<String>,
    form: PageForm<ActionForm>,
) -> Result<Response, PageError> {
    act(state, session, id, form, Action::Capture).await
}

pub async fn cancel(
    state: Axum<State>,
    session: SignedIn,
    id: Path<String>,
    form: PageForm<ActionForm>,
) -> Result<Response, PageError> {
    act(state, session, id, form, Action::Cancel).await
}

/// Sends the action with the form's key. Done: back to the payment (303), which reloads until
/// it is final. Refused: the page again with the reason as a sentence.
async fn act(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    PageForm(form): PageForm<ActionForm>,
    action: Action,
) -> Result<Response, PageError> {
    check_csrf(&session, &form.csrf)?;
    id_of(&id, "payment")?;
    let key = key_of(&form.idempotency_key)?;
    let next = Some(format!("/payments/{id}"));
    let payment = state
        .api
        .get::<Payment>(&session.token, state.api.url(&["payments", &id], &[]))
        .await
        .map_err(|e| not_found_or(e, next.clone()))?
        .body;
    let amount = form.amount.trim();
    let amount = if amount.is_empty() {
        None
    } else {
        match parse_amount(amount, &payment.currency) {
            Some(minor) => Some(minor),
            None => {
                let why = format!(
                    "“{amount}” is not an amount in {}: type it like 12.50{}.",
                    payment.currency,
                    if crate::domain::money::minor_unit_digits(&payment.currency) == 0 {
                        " without decimals"
                    } else {
                        ""
                    }
                );
                let why = why.replace("12.50 without decimals", "1250");
                return render(
                    &state,
                    &session,
                    &id,
                    Some(Notice::Problem(why)),
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        }
    };
    let (method, path, done, body): (Method, &str, &str, Value) = match action {
        Action::Refund => {
            (Method::PATCH, "refund", "refund", amount.map_or_else(|| json!({}), |a| json!({ "Amount": a })))
        }
        Action::Capture => {
            let mut body = json!({ "FinalCapture": form.final_capture.is_some() });
            if let Some(a) = amount {
                body["Amount"] = json!(a);
            }
            (Method::POST, "capture", "capture", body)
        }
        Action::Cancel => (Method::POST, "cancel", "cancel", json!({})),
    };
    let url = state.api.url(&["payments", &id, path], &[]);
    match state.api.write::<Value>(method, &session.token, url, Some(key), Some(&body)).await {
        Ok(_) => Ok(Redirect::to(&format!("/payments/{id}?done={done}")).into_response()),
        Err(e) if e.status() == Some(StatusCode::UNAUTHORIZED) => Err(PageError::SignedOut { next }),
        Err(e) => {
            let status = e.status().filter(|s| s.is_client_error()).unwrap_or(StatusCode::BAD_GATEWAY);
            let retry = e.outcome_unknown().then(|| (action, key.to_owned()));
            let notice = Notice::Problem(sentence(&e, Some(&payment)));
            render(&state, &session, &id, Some(notice), retry, status).await
        }
    }
}

/// What an event did, in words, for the timeline.
pub(crate) fn what(e: &Event) -> String {
    timeline::what(e)
}
