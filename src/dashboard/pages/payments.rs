//! The payments list: the filters of the API's search (reference, status, customer, dates),
//! newest first, a page at a time.
use axum::extract::{Query, State as Axum};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Frame, Notice, Section, badge, page};
use crate::dashboard::State;
use crate::dashboard::error::{PageError, sentence};
use crate::dashboard::format::{date_ms, money, time};
use crate::dashboard::model::PaymentPage;
use crate::dashboard::session::SignedIn;

const STATUSES: [&str; 7] = ["PENDING", "PROCESSING", "AUTHORIZED", "SUCCEEDED", "DECLINED", "FAILED", "CANCELED"];
const PAGE_SIZE: &str = "25";

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    customer: String,
    /// The first day (`YYYY-MM-DD`, UTC) and the last, both included.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cursor: String,
}

impl Filters {
    /// This page's filters as a query string, with `cursor` for another page.
    fn query(&self, cursor: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("reference", &self.reference),
            ("status", &self.status),
            ("customer", &self.customer),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        if !cursor.is_empty() {
            q.append_pair("cursor", cursor);
        }
        q.finish()
    }
}

pub async fn list(
    Axum(state): Axum<State>,
    SignedIn(session): SignedIn,
    filters: Result<Query<Filters>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let Query(f) = filters.map_err(|_| PageError::BadInput("The filters could not be read.".into()))?;
    let day = |d: &str, after| {
        if d.is_empty() { Ok(String::new()) } else { date_ms(d, after).map(|ms| ms.to_string()).ok_or(()) }
    };
    let (Ok(gte), Ok(lt)) = (day(&f.from, 0), day(&f.to, 1)) else {
        return Err(PageError::BadInput("Dates are days such as 2026-12-03.".into()));
    };
    let url = state.api.url(
        &["payments"],
        &[
            ("reference", f.reference.trim()),
            ("status", &f.status),
            ("customer", f.customer.trim()),
            ("created_gte", &gte),
            ("created_lt", &lt),
            ("cursor", &f.cursor),
            ("limit", PAGE_SIZE),
        ],
    );
    let (results, notice, status) = match state.api.get::<PaymentPage>(&session.token, url).await {
        Ok(answer) => (Some(answer.body), None, StatusCode::OK),
        Err(e) if e.status().is_some_and(|s| s.is_client_error() && s != StatusCode::UNAUTHORIZED) => {
            let status = e.status().unwrap_or(StatusCode::BAD_REQUEST);
            (None, Some(Notice::Problem(sentence(&e, None))), status)
        }
        Err(e) => {
            let q = f.query(&f.cursor);
            let here = if q.is_empty() { "/payments".to_owned() } else { format!("/payments?{q}") };
            return Err(PageError::from_api(e, Some(here)));
        }
    };
    let body = html! {
        (filter_form(&f))
        @if let Some(results) = results {
            (table(&results))
            @if let Some(next) = &results.next_cursor {
                nav aria-label="Pages" { a href={ "/payments?" (f.query(next)) } { "Next page" } }
            }
        }
    };
    Ok((status, page(Frame::new("Payments", Section::Payments, Some(&session)).notice(notice), body)).into_response())
}

fn filter_form(f: &Filters) -> Markup {
    html! {
        form class="filters" method="get" action="/payments" role="search" {
            div class="field" {
                label for="reference" { "Reference" }
                input id="reference" name="reference" type="search" value=(f.reference) maxlength="128";
            }
            div class="field" {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" { "Any" }
                    @for s in STATUSES {
                        option value=(s) selected[f.status == s] { (crate::dashboard::format::state(s)) }
                    }
                }
            }
            div class="field" {
                label for="customer" { "Customer ID" }
                input id="customer" name="customer" type="search" value=(f.customer);
            }
            div class="field" {
                label for="from" { "From (UTC)" }
                input id="from" name="from" type="date" value=(f.from);
            }
            div class="field" {
                label for="to" { "To (UTC)" }
                input id="to" name="to" type="date" value=(f.to);
            }
            button type="submit" { "Search" }
        }
    }
}

fn table(results: &PaymentPage) -> Markup {
    html! {
        @if results.payments.is_empty() {
            p { "No payments match." }
        } @else {
            div class="scroll" {
                table {
                    caption class="visually-hidden" { "Payments, newest first" }
                    thead { tr { th scope="col" { "Created" } th scope="col" { "Payment" } th scope="col" { "Reference" }
                        th scope="col" { "Customer" } th scope="col" class="num" { "Amount" } th scope="col" { "Status" }
                        th scope="col" { "Card" } } }
                    tbody {
                        @for p in &results.payments {
                            tr {
                                td { (time(p.timestamp)) }
                                td { a href={ "/payments/" (p.id) } { code { (p.id.get(..8).unwrap_or(&p.id)) } } }
                                td { (p.merchant_reference.as_deref().unwrap_or("")) }
                                td { (p.customer_id) }
                                td class="num" { (money(p.price, &p.currency)) }
                                td { (badge(&p.status)) }
                                td { "•••• " (p.card_last4) }
                            }
                        }
                    }
                }
            }
        }
    }
}
