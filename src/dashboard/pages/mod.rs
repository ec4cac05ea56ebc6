//! The pages, one file per section, and what their forms share.
pub mod endpoints;
pub mod events;
pub mod layout;
pub mod payment;
pub mod payments;

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::PageError;
use super::format::plausible_id;
use super::session::Session;

/// A form's fields; one that cannot be read is a page saying so, not a bare 4xx.
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(t)| Self(t))
            .map_err(|_| PageError::BadInput("The form could not be read. Reload the page and try again.".into()))
    }
}

/// A POST of `session` must carry its CSRF token.
pub fn check_csrf(session: &Session, given: &str) -> Result<(), PageError> {
    if session.csrf_matches(given) { Ok(()) } else { Err(PageError::Csrf) }
}

/// An id from the URL, or not found (`format::plausible_id`).
pub fn id_of(id: &str, what: &'static str) -> Result<(), PageError> {
    if plausible_id(id) { Ok(()) } else { Err(PageError::NotFound(what)) }
}

/// A fresh idempotency key for a form: the same form submitted twice sends the same key.
pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A key a form sent back: only one of ours (a UUID) goes on to the API.
pub fn key_of(given: &str) -> Result<&str, PageError> {
    uuid::Uuid::parse_str(given)
        .map(|_| given)
        .map_err(|_| PageError::BadInput("The form could not be read. Reload the page and try again.".into()))
}
