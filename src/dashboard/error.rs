//! What a page says when something goes wrong: the API's error envelope as a sentence a person
//! can act on, never a stack trace or an internal detail. 5xx causes are logged, not shown.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::api::ApiFailure;
use super::format::money;
use super::model::Payment;
use super::pages::layout::{Frame, Section, page};

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No session, an expired one, or a token the API no longer accepts: sign in again.
    #[error("not signed in")]
    SignedOut { next: Option<String> },
    /// A form without this session's CSRF token.
    #[error("the form's CSRF token is missing or wrong")]
    Csrf,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input the page can tell is wrong before asking the API.
    #[error("{0}")]
    BadInput(String),
    /// Sign-in at the identity provider did not complete (refused, expired, tampered with).
    #[error("sign-in failed: {0}")]
    SignInFailed(&'static str),
    #[error(transparent)]
    Api(#[from] ApiFailure),
}

impl PageError {
    /// A 401 from the API means the token expired or was revoked: sign in again.
    pub fn from_api(failure: ApiFailure, next: Option<String>) -> Self {
        if failure.status() == Some(StatusCode::UNAUTHORIZED) { Self::SignedOut { next } } else { Self::Api(failure) }
    }

    /// A failure of a call about the `what` a URL named: its 404, and its 400 for an id that
    /// cannot be one (`invalid_payment_id`, `invalid_event_id`, ...), are "no such `what` here";
    /// the rest as `from_api`.
    pub fn about(failure: ApiFailure, what: &'static str, next: Option<String>) -> Self {
        let code = failure.code();
        let bad_id =
            failure.status() == Some(StatusCode::BAD_REQUEST) && code.starts_with("invalid_") && code.ends_with("_id");
        if failure.status() == Some(StatusCode::NOT_FOUND) || bad_id {
            Self::NotFound(what)
        } else {
            Self::from_api(failure, next)
        }
    }
}

/// The sentence for an API failure; `payment`, when known, lets it name the amounts.
pub fn sentence(failure: &ApiFailure, payment: Option<&Payment>) -> String {
    let ApiFailure::Answered { code, message, fields, retry_after, .. } = failure else {
        return "The payments service did not answer. Nothing was sent twice: submitting the same form again \
                is safe, or reload the page to see whether it took effect."
            .into();
    };
    let amount = |pick: fn(&Payment) -> u64| payment.map(|p| money(pick(p), &p.currency));
    match code.as_str() {
        "rate_limited" => match retry_after {
            Some(secs) => format!("Too many requests for your shop right now. Wait {secs} seconds, then try again."),
            None => "Too many requests for your shop right now. Wait a few seconds, then try again.".into(),
        },
        "refund_exceeds_remaining" | "nothing_left_to_refund" => match amount(|p| p.refundable_amount) {
            Some(left) => format!("That is more than can still be refunded: at most {left}."),
            None => "That is more than can still be refunded.".into(),
        },
        "capture_exceeds_capturable" => match amount(|p| p.capturable_amount.unwrap_or(0)) {
            Some(left) => format!("That is more than can still be captured: at most {left}."),
            None => "That is more than can still be captured.".into(),
        },
        "authorization_expired" => {
            "The authorization has expired: the bank no longer holds this money, so it cannot be captured.".into()
        }
        "not_cancelable" => "This payment cannot be canceled: it is final, paid in one step, or a capture is \
                             under way."
            .into(),
        "not_capturable" => "This payment cannot be captured: only an authorized payment with money left to \
                             capture can."
            .into(),
        "payment_not_refundable" => format!("This payment cannot be refunded: {}.", message.trim_end_matches('.')),
        "too_many_refunds" | "too_many_captures" | "too_many_webhook_endpoints" => format!("{}.", capitalized(message)),
        "payment_busy" | "idempotency_key_in_flight" => {
            "The payment is busy with another change. Wait a moment, then submit the form again.".into()
        }
        "delivery_in_progress" => {
            "This event is being delivered right now. Redeliver it once that attempt ends.".into()
        }
        "insufficient_scope" => "Your sign-in does not allow this. Ask your administrator for the permission.".into(),
        "validation_failed" if !fields.is_empty() => {
            let each: Vec<String> = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
            format!("Please check the form. {}.", each.join("; "))
        }
        "unsupported_filter" => "That combination of filters cannot be searched. Filter by one of reference, \
                                 status or customer, with or without dates."
            .into(),
        "outcome_unknown" | "service_unavailable" | "timeout" | "internal_error" => {
            "The payments service could not confirm the change. Submitting the same form again is safe (it \
             cannot be done twice); or reload the page to see whether it took effect."
                .into()
        }
        _ => format!("{}.", capitalized(message.trim_end_matches('.'))),
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

/// The session cookies removed, under both names they may have (`session::Cookies`).
fn signed_out_cookies() -> [HeaderValue; 2] {
    [
        HeaderValue::from_static("session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        HeaderValue::from_static("__Host-session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"),
    ]
}

/// Where to go after signing in: only a path of this dashboard, never another site. Printable
/// ASCII only: browsers drop tabs and line breaks from a URL, so `/<tab>/evil.example` would
/// become `//evil.example`, another site.
pub fn local_path(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.starts_with('/')
            && !n[1..].starts_with(['/', '\\'])
            && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
            && !n.starts_with("/auth/")
    })
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match &self {
            Self::SignedOut { next } => {
                let to = match local_path(next.as_deref()) {
                    Some(next) => format!(
                        "/sign-in?next={}",
                        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                    ),
                    None => "/sign-in".to_owned(),
                };
                let mut resp = Redirect::to(&to).into_response();
                for cookie in signed_out_cookies() {
                    resp.headers_mut().append(header::SET_COOKIE, cookie);
                }
                return resp;
            }
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from this dashboard, or your session changed since it was shown. Go back, \
                 reload the page and try again."
                    .to_owned(),
            ),
            Self::NotFound(what) => {
                (StatusCode::NOT_FOUND, "Not found", format!("There is no {what} with this ID in your shop."))
            }
            Self::BadInput(text) => (StatusCode::BAD_REQUEST, "Please check the form", text.clone()),
            Self::SignInFailed(why) => {
                (StatusCode::BAD_REQUEST, "Sign-in failed", format!("{why} Sign in again from the sign-in page."))
            }
            Self::Api(failure) => {
                let status = match failure.status() {
                    Some(s) if s.is_client_error() => s,
                    _ => StatusCode::BAD_GATEWAY,
                };
                (status, "Something went wrong", sentence(failure, None))
            }
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "page failed");
        }
        let body = page(
            Frame::new(title, Section::None, None),
            html! {
                p role="alert" { (text) }
                p { a href="/payments" { "Back to payments" } }
            },
        );
        (status, body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(code: &str, message: &str, retry_after: Option<u64>) -> ApiFailure {
        ApiFailure::Answered {
            status: StatusCode::CONFLICT,
            code: code.into(),
            message: message.into(),
            fields: vec![],
            retry_after,
        }
    }

    #[test]
    fn errors_read_as_sentences_a_person_can_act_on() {
        assert_eq!(
            sentence(&answered("rate_limited", "too many requests", Some(3)), None),
            "Too many requests for your shop right now. Wait 3 seconds, then try again."
        );
        assert!(sentence(&answered("authorization_expired", "x", None), None).contains("has expired"));
        assert!(sentence(&ApiFailure::NoAnswer, None).contains("safe"));
        assert_eq!(sentence(&answered("something_new", "the thing failed", None), None), "The thing failed.");
    }

    #[test]
    fn a_missing_resource_or_an_id_that_cannot_be_one_is_not_found_and_a_401_signs_in_again() {
        let with = |status, code: &str| ApiFailure::Answered {
            status,
            code: code.into(),
            message: String::new(),
            fields: vec![],
            retry_after: None,
        };
        let about = |f| PageError::about(f, "event", Some("/events/x".into()));
        assert!(matches!(about(with(StatusCode::NOT_FOUND, "event_not_found")), PageError::NotFound("event")));
        assert!(matches!(about(with(StatusCode::BAD_REQUEST, "invalid_event_id")), PageError::NotFound("event")));
        assert!(matches!(about(with(StatusCode::BAD_REQUEST, "invalid_cursor")), PageError::Api(_)));
        assert!(matches!(about(with(StatusCode::UNAUTHORIZED, "unauthorized")), PageError::SignedOut { .. }));
        assert!(matches!(about(with(StatusCode::CONFLICT, "delivery_in_progress")), PageError::Api(_)));
        assert!(matches!(about(ApiFailure::NoAnswer), PageError::Api(_)));
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/payments?status=FAILED")), Some("/payments?status=FAILED"));
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "/auth/callback",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/ /evil.example",
            "/payments\u{0}",
        ] {
            assert_eq!(local_path(Some(bad)), None, "{bad}");
        }
    }
}
