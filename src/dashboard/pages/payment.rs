//! One payment: its state and amounts, refunds and captures, its timeline from the audit trail,
//! and the actions refund, capture and cancel. Each action form carries an idempotency key made
//! when the page was shown, so a double click, a resubmitted form or a retry after "no answer"
//! sends the same key and the API does it once. While anything of the payment is under way
//! (the API's `Retry-After`) the page reloads itself.
use axum::extract::{Path, Query, State as Axum};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::id_of;
use super::layout::{Frame, Notice, Section, badge, page};
use crate::dashboard::State;
use crate::dashboard::api::{Answer, ApiFailure};
use crate::dashboard::error::PageError;
use crate::dashboard::format::{money, time};
use crate::dashboard::model::{Event, EventPage, Payment};
use crate::dashboard::session::{Session, SignedIn};

mod actions;
mod timeline;

use actions::{Retry, actions};
pub use actions::{cancel, capture, confirm_cancel, refund};

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
    let page =
        Shown { notice: notice.map(|n| Notice::Done(n.into())), retry: None, status: StatusCode::OK, refresh: true };
    render(&state, &session, &id, page).await
}

/// How the payment's page is shown: after a GET it reloads itself while anything is under way;
/// as the answer to a POST it does not (a reload would repeat the POST's URL as a GET).
struct Shown {
    notice: Option<Notice>,
    /// An action whose outcome is unknown, to be offered again exactly as it was sent.
    retry: Option<Retry>,
    status: StatusCode,
    refresh: bool,
}

/// The events of a payment's trail the page reads at most (100 a page).
const TIMELINE_PAGES: usize = 10;

async fn render(state: &State, session: &Session, id: &str, shown: Shown) -> Result<Response, PageError> {
    id_of(id, "payment")?;
    let next = Some(format!("/payments/{id}"));
    // The payment first, its trail after: each change is written with its event in one
    // transaction and both reads are consistent, so a trail read second holds every change the
    // payment shows. Read side by side, a payment seen final after a trail read a moment before
    // would stop the page reloading without its last event on the timeline.
    let payment = state.api.get::<Payment>(&session.token, state.api.url(&["payments", id], &[])).await;
    let Answer { body: p, in_flight } = payment.map_err(|e| PageError::about(e, "payment", next.clone()))?;
    let events = trail(state, session, id).await.map_err(|e| PageError::about(e, "payment", next))?;
    let title = format!("Payment {}", p.merchant_reference.as_deref().unwrap_or(&p.id));
    let body = html! {
        (summary(&p))
        (actions(&p, session, in_flight, shown.retry.as_ref()))
        (refunds(&p))
        (captures(&p))
        (timeline::section(&events))
    };
    let mut frame = Frame::new(&title, Section::Payments, Some(session)).notice(shown.notice);
    frame.refresh_secs = (in_flight && shown.refresh).then_some(2);
    Ok((shown.status, page(frame, body)).into_response())
}

/// The payment's whole audit trail, oldest first, following the cursor.
async fn trail(state: &State, session: &Session, id: &str) -> Result<Vec<Event>, ApiFailure> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    for _ in 0..TIMELINE_PAGES {
        let url = state.api.url(&["payments", id, "events"], &[("limit", "100"), ("cursor", &cursor)]);
        let page = state.api.get::<EventPage>(&session.token, url).await?.body;
        all.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = next,
            None => break,
        }
    }
    Ok(all)
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

/// What an event did, in words, for the timeline.
pub(crate) fn what(e: &Event) -> String {
    timeline::what(e)
}
