//! A payment's timeline: its audit trail, oldest first, each change with who made it, when,
//! and the trace id that ties it to the logs.
use maud::{Markup, html};

use crate::dashboard::format::{money, time};
use crate::dashboard::model::Event;

pub fn section(events: &[Event]) -> Markup {
    html! {
        section aria-labelledby="timeline-title" {
            h2 id="timeline-title" { "Timeline" }
            @if events.is_empty() {
                p { "No events yet." }
            } @else {
                ol class="timeline" {
                    @for e in events {
                        li {
                            span class="when" { (time(e.timestamp)) }
                            " "
                            strong class="what" { (what(e)) }
                            " "
                            span class="who" { "by " (who(&e.actor)) }
                            " "
                            span class="meta" {
                                "version " (e.version)
                                @if let Some(t) = &e.trace_id { " · trace " code { (t) } }
                                " · " a href={ "/events/" (e.id) } { "event" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `refund.succeeded` about a refund of 12.00 is "Refund of EUR 12.00 succeeded".
pub fn what(e: &Event) -> String {
    let p = &e.data;
    let (subject, verb) = e.r#type.split_once('.').unwrap_or((e.r#type.as_str(), ""));
    let verb = verb.replace('_', " ");
    match subject {
        "refund" => {
            let amount = e.refund_id.as_ref().and_then(|id| p.refunds.iter().find(|r| &r.id == id));
            match amount {
                Some(r) => format!("Refund of {} {verb}", money(r.amount, &p.currency)),
                None => format!("Refund {verb}"),
            }
        }
        "capture" => {
            let amount = e.capture_id.as_ref().and_then(|id| p.captures.iter().find(|c| &c.id == id));
            match amount {
                Some(c) => format!("Capture of {} {verb}", money(c.amount, &p.currency)),
                None => format!("Capture {verb}"),
            }
        }
        _ => match verb.as_str() {
            "created" => format!("Payment of {} created", money(p.price, &p.currency)),
            "cancel requested" => "Cancel requested".to_owned(),
            _ => {
                let reason =
                    p.reason.as_deref().filter(|_| matches!(verb.as_str(), "declined" | "failed" | "canceled"));
                match reason {
                    Some(r) => format!("Payment {verb} ({r})"),
                    None => format!("Payment {verb}"),
                }
            }
        },
    }
}

/// An actor as a person reads it: `merchant:test@merchant` is "test@merchant (dashboard or API)".
fn who(actor: &str) -> String {
    match actor.split_once(':') {
        Some(("merchant", m)) => format!("{m} (dashboard or API)"),
        _ => actor.to_owned(),
    }
}
