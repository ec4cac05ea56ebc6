//! The actions on a payment: refund, capture and cancel. Each form carries an idempotency key
//! made when the page was shown, so a double click or a resubmitted form sends the same key and
//! the API does it once. An amount is always typed (an empty field never means "all"), and a
//! cancel is confirmed on a page of its own. When the outcome is unknown (no answer, a 5xx, or a
//! key already used with other values) the form comes back with the same key and the same values,
//! read-only, so sending it again replays the first request instead of adding a second.
use axum::extract::{Path, State as Axum};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::layout::{Frame, Notice, Section, csrf, page};
use super::super::{PageForm, check_csrf, id_of, key_of, new_key};
use super::{Shown, render};
use crate::dashboard::State;
use crate::dashboard::error::{PageError, sentence};
use crate::dashboard::format::{is_final, money, parse_amount};
use crate::dashboard::model::Payment;
use crate::dashboard::session::{Session, SignedIn};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    Refund,
    Capture,
    Cancel,
}

/// A request whose outcome is unknown, as it was sent.
#[derive(Clone)]
pub struct Retry {
    action: Action,
    key: String,
    amount: String,
    final_capture: bool,
}

fn can_cancel(p: &Payment) -> bool {
    p.is_manual()
        && matches!(p.status.as_str(), "PENDING" | "PROCESSING" | "AUTHORIZED")
        && p.cancel_requested_at.is_none()
        && p.captures.iter().all(|c| is_final(&c.status))
}

/// The forms. While anything of the payment is under way the page reloads itself, which would
/// wipe what a person is typing: refund and capture wait until it is done (cancel, a link to its
/// confirmation, stays).
pub fn actions(p: &Payment, session: &Session, in_flight: bool, retry: Option<&Retry>) -> Markup {
    let retry_of = |action| retry.filter(|r| r.action == action);
    let can_capture = p.is_manual() && p.status == "AUTHORIZED" && p.capturable_amount.unwrap_or(0) > 0;
    let (refund, capture) = (p.refundable_amount > 0 && !in_flight, can_capture && !in_flight);
    let waiting = in_flight && (p.refundable_amount > 0 || can_capture) && retry.is_none();
    html! {
        @if refund || capture || can_cancel(p) || waiting || retry.is_some() {
            section class="actions" aria-labelledby="actions-title" {
                h2 id="actions-title" { "Actions" }
                @if waiting {
                    p { "A change of this payment is under way: refund and capture come back when it is done. This page reloads itself until then." }
                }
                @if let Some(r) = retry_of(Action::Refund) {
                    (amount_form(&p.id, &p.currency, session, Action::Refund, Some(p.refundable_amount), Some(r)))
                } @else if refund {
                    (amount_form(&p.id, &p.currency, session, Action::Refund, Some(p.refundable_amount), None))
                }
                @if let Some(r) = retry_of(Action::Capture) {
                    (amount_form(&p.id, &p.currency, session, Action::Capture, p.capturable_amount, Some(r)))
                } @else if capture {
                    (amount_form(&p.id, &p.currency, session, Action::Capture, p.capturable_amount, None))
                }
                @if let Some(r) = retry_of(Action::Cancel) {
                    (cancel_form(&p.id, session, &r.key, "Send the cancel again"))
                } @else if can_cancel(p) {
                    p { a class="button danger" href={ "/payments/" (p.id) "/cancel" } { "Cancel payment…" } }
                }
            }
        }
    }
}

/// The refund or capture form of payment `id`; with `retry`, its values as sent, fixed, under
/// the same key.
fn amount_form(
    id: &str,
    currency: &str,
    session: &Session,
    action: Action,
    at_most: Option<u64>,
    retry: Option<&Retry>,
) -> Markup {
    let (path, verb) = match action {
        Action::Refund => ("refund", "Refund"),
        _ => ("capture", "Capture"),
    };
    let field = format!("{path}-amount");
    let key = retry.map_or_else(new_key, |r| r.key.clone());
    let final_capture = retry.is_none_or(|r| r.final_capture);
    html! {
        form method="post" action={ "/payments/" (id) "/" (path) } {
            (csrf(session))
            input type="hidden" name="idempotency_key" value=(key);
            input type="hidden" name="currency" value=(currency);
            label for=(field) {
                (verb) " amount "
                span class="hint" { "(in " (currency) @if let Some(most) = at_most { ", at most " (money(most, currency)) } ")" }
            }
            @if let Some(r) = retry {
                input id=(field) name="amount" type="text" value=(r.amount) readonly;
            } @else {
                input id=(field) name="amount" type="text" inputmode="decimal" autocomplete="off" required;
            }
            @if action == Action::Capture {
                span class="check" {
                    @if retry.is_some() {
                        @if final_capture { input type="hidden" name="final_capture" value="true"; }
                        input id="capture-final" type="checkbox" checked[final_capture] disabled;
                    } @else {
                        input id="capture-final" name="final_capture" type="checkbox" value="true" checked;
                    }
                    label for="capture-final" { "Final capture (release the rest)" }
                }
            }
            button type="submit" { (if retry.is_some() { "Send the same request again" } else { verb }) }
        }
    }
}

fn cancel_form(id: &str, session: &Session, key: &str, label: &str) -> Markup {
    html! {
        form method="post" action={ "/payments/" (id) "/cancel" } {
            (csrf(session))
            input type="hidden" name="idempotency_key" value=(key);
            button type="submit" class="danger" { (label) }
        }
    }
}

/// `GET /payments/{id}/cancel`: what a cancel does, and the button that does it.
pub async fn confirm_cancel(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    id_of(&id, "payment")?;
    let next = Some(format!("/payments/{id}/cancel"));
    let p = state
        .api
        .get::<Payment>(&session.token, state.api.url(&["payments", &id], &[]))
        .await
        .map_err(|e| PageError::about(e, "payment", next))?
        .body;
    let held = p.capturable_amount.unwrap_or(0);
    let body = html! {
        @if can_cancel(&p) {
            p { "The payment ends: nothing more can be captured, and what the bank still holds"
                @if held > 0 { " (" (money(held, &p.currency)) ")" }
                " is released to the customer. "
                @if p.captured_amount.unwrap_or(0) > 0 { "What was captured stays captured. " }
                "This cannot be undone." }
            (cancel_form(&p.id, &session, &new_key(), "Yes, cancel the payment"))
        } @else {
            p role="alert" { "This payment cannot be canceled now." }
        }
        p { a href={ "/payments/" (p.id) } { "Back to the payment" } }
    };
    let title = format!("Cancel payment {}", p.merchant_reference.as_deref().unwrap_or(&p.id));
    Ok(page(Frame::new(&title, Section::Payments, Some(&session)), body).into_response())
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    amount: String,
    /// The payment's currency, as the page showed it: how the typed amount is read.
    #[serde(default)]
    currency: String,
    /// A checkbox: present when ticked.
    final_capture: Option<String>,
}

pub async fn refund(
    s: Axum<State>,
    u: SignedIn,
    id: Path<String>,
    f: PageForm<ActionForm>,
) -> Result<Response, PageError> {
    act(s, u, id, f, Action::Refund).await
}

pub async fn capture(
    s: Axum<State>,
    u: SignedIn,
    id: Path<String>,
    f: PageForm<ActionForm>,
) -> Result<Response, PageError> {
    act(s, u, id, f, Action::Capture).await
}

pub async fn cancel(
    s: Axum<State>,
    u: SignedIn,
    id: Path<String>,
    f: PageForm<ActionForm>,
) -> Result<Response, PageError> {
    act(s, u, id, f, Action::Cancel).await
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
    let problem = |text: String| Shown {
        notice: Some(Notice::Problem(text)),
        retry: None,
        status: StatusCode::UNPROCESSABLE_ENTITY,
        refresh: false,
    };
    let currency = form.currency.as_str();
    let typed = form.amount.trim();
    let amount = match action {
        Action::Cancel => None,
        _ if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) => {
            return Err(PageError::BadInput("The form could not be read. Reload the page and try again.".into()));
        }
        _ if typed.is_empty() => {
            return render(&state, &session, &id, problem("Type the amount.".into())).await;
        }
        _ => match parse_amount(typed, currency) {
            Some(minor) => Some(minor),
            None => {
                let example = if crate::domain::money::minor_unit_digits(currency) == 0 { "1500" } else { "12.50" };
                let why = format!("“{typed}” is not an amount in {currency}: type it like {example}.");
                return render(&state, &session, &id, problem(why)).await;
            }
        },
    };
    let final_capture = form.final_capture.is_some();
    let (method, path, body): (Method, &str, Value) = match (action, amount) {
        (Action::Refund, Some(a)) => (Method::PATCH, "refund", json!({ "Amount": a })),
        (Action::Capture, Some(a)) => (Method::POST, "capture", json!({ "Amount": a, "FinalCapture": final_capture })),
        _ => (Method::POST, "cancel", json!({})),
    };
    let url = state.api.url(&["payments", &id, path], &[]);
    match state.api.write::<Value>(method, &session.token, url, Some(key), Some(&body)).await {
        Ok(_) => Ok(Redirect::to(&format!("/payments/{id}?done={path}")).into_response()),
        Err(e) if e.status() == Some(StatusCode::UNAUTHORIZED) => Err(PageError::SignedOut { next }),
        Err(e) => {
            let status = e.status().filter(|s| s.is_client_error()).unwrap_or(StatusCode::BAD_GATEWAY);
            // A key already used with other values: the first request may have been done.
            let unknown = e.outcome_unknown() || e.code() == "idempotency_key_reused";
            let text = if e.code() == "idempotency_key_reused" {
                "This form was already sent with other values, and that request may have been done. Look at the \
                 refunds and captures below before sending anything new."
                    .to_owned()
            } else if unknown {
                sentence(&e, None)
            } else {
                // The amounts the sentence names are the payment's now.
                let payment = state.api.get::<Payment>(&session.token, state.api.url(&["payments", &id], &[])).await;
                sentence(&e, payment.ok().map(|a| a.body).as_ref())
            };
            if !unknown {
                let shown = Shown { notice: Some(Notice::Problem(text)), retry: None, status, refresh: false };
                return render(&state, &session, &id, shown).await;
            }
            let retry = Retry { action, key: key.to_owned(), amount: typed.to_owned(), final_capture };
            let problem = Some(Notice::Problem(text.clone()));
            let shown = Shown { notice: problem, retry: Some(retry.clone()), status, refresh: false };
            match render(&state, &session, &id, shown).await {
                Ok(page) => Ok(page),
                // The API is still away: the same request again, without the payment around it.
                Err(_) => Ok(retry_page(&session, &id, currency, &retry, text, status)),
            }
        }
    }
}

/// The request whose outcome is unknown, offered again as it was, when the payment itself cannot
/// be read (the API is away): nothing else on the page, nothing lost.
fn retry_page(
    session: &Session,
    id: &str,
    currency: &str,
    retry: &Retry,
    text: String,
    status: StatusCode,
) -> Response {
    let body = html! {
        @match retry.action {
            Action::Cancel => (cancel_form(id, session, &retry.key, "Send the cancel again")),
            action => (amount_form(id, currency, session, action, None, Some(retry))),
        }
        p { a href={ "/payments/" (id) } { "Back to the payment" } }
    };
    let frame = Frame::new("The request was not confirmed", Section::Payments, Some(session))
        .notice(Some(Notice::Problem(text)));
    (status, page(frame, body)).into_response()
}
