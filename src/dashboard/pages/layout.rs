//! The frame every page shares: a skip link, the navigation, who is signed in and sign-out,
//! and the page's notice. No script anywhere: the pages work with forms and links alone, and a
//! page that waits on a payment refreshes itself with `<meta http-equiv="refresh">`.
use maud::{DOCTYPE, Markup, html};

use crate::dashboard::session::Session;

/// Which section the page belongs to (marked in the navigation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Payments,
    Events,
    Webhooks,
    None,
}

/// A message at the top of the page: what was done, or why it was not.
pub enum Notice {
    Done(String),
    Problem(String),
}

pub struct Frame<'a> {
    pub title: &'a str,
    pub section: Section,
    pub session: Option<&'a Session>,
    /// Reload the page after this many seconds (a payment that is not final yet).
    pub refresh_secs: Option<u32>,
    pub notice: Option<Notice>,
}

impl<'a> Frame<'a> {
    pub fn new(title: &'a str, section: Section, session: Option<&'a Session>) -> Self {
        Self { title, section, session, refresh_secs: None, notice: None }
    }

    pub fn notice(mut self, notice: Option<Notice>) -> Self {
        self.notice = notice;
        self
    }
}

pub fn page(frame: Frame<'_>, main: Markup) -> Markup {
    let link = |section: Section, href: &str, text: &str| {
        html! {
            @if frame.section == section {
                a href=(href) aria-current="page" { (text) }
            } @else {
                a href=(href) { (text) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(secs) = frame.refresh_secs {
                    meta http-equiv="refresh" content=(secs);
                }
                title { (frame.title) " · Payments dashboard" }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    @if let Some(session) = frame.session {
                        nav aria-label="Main" {
                            (link(Section::Payments, "/payments", "Payments"))
                            (link(Section::Events, "/events", "Events"))
                            (link(Section::Webhooks, "/webhook-endpoints", "Webhooks"))
                        }
                        form class="who" method="post" action="/sign-out" {
                            (csrf(session))
                            span { "Signed in as " strong { (session.who) } }
                            button type="submit" { "Sign out" }
                        }
                    } @else {
                        span class="brand" { "Payments dashboard" }
                    }
                }
                main id="main" {
                    h1 { (frame.title) }
                    @match &frame.notice {
                        Some(Notice::Done(text)) => p class="notice done" role="status" { (text) },
                        Some(Notice::Problem(text)) => p class="notice problem" role="alert" { (text) },
                        None => {},
                    }
                    (main)
                }
            }
        }
    }
}

/// The hidden field every form of a signed-in page carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A state as a badge: its text, coloured by kind.
pub fn badge(status: &str) -> Markup {
    html! { span class=(crate::dashboard::format::state_class(status)) { (crate::dashboard::format::state(status)) } }
}
