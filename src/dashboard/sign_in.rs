//! Signing in and out. Development mode: one click, with a token from the API's `GET /token`
//! for `MERCHANT_ID`. Elsewhere: the identity provider (`oidc`), authorization code with PKCE,
//! the verifier and state kept in a sealed cookie of this browser for ten minutes.
use axum::extract::{Query, State as Axum};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::State;
use super::error::{PageError, local_path};
use super::oidc::{OidcError, Pending, claims_of};
use super::pages::PageForm;
use super::pages::layout::{Frame, Notice, Section, page};
use super::session::{SESSION, SIGN_IN, Session, random_token, same_token};
use crate::config::SignIn;

/// How long a sign-in may take between leaving for the provider and coming back.
const SIGN_IN_SECS: u64 = 600;

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

pub async fn form(Axum(state): Axum<State>, headers: HeaderMap, Query(q): Query<SignInQuery>) -> Response {
    let next = local_path(q.next.as_deref()).map(str::to_owned);
    if state.cookies.session(&headers).is_some() {
        return Redirect::to(next.as_deref().unwrap_or("/payments")).into_response();
    }
    let notice = q.signed_out.map(|_| Notice::Done("You are signed out.".into()));
    let frame = Frame::new("Sign in", Section::None, None).notice(notice);
    match &state.sign_in {
        SignIn::Development { merchant } => {
            let csrf = random_token();
            let pending = Pending { csrf: csrf.clone(), started_ms: crate::util::now_ms(), ..Pending::default() };
            let body = page(
                frame,
                html! {
                    p { "Development mode: no password, you sign in as the seeded merchant." }
                    form method="post" action="/sign-in" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="next" value=(next.unwrap_or_default());
                        button type="submit" class="primary" { "Sign in as " (merchant) }
                    }
                },
            );
            ([(header::SET_COOKIE, state.cookies.set(SIGN_IN, Some(&pending), SIGN_IN_SECS))], body).into_response()
        }
        SignIn::Oidc { .. } => {
            let start = match &next {
                Some(n) => format!(
                    "/auth/start?next={}",
                    url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
                ),
                None => "/auth/start".to_owned(),
            };
            page(
                frame,
                html! {
                    p { "Sign in with your company account." }
                    p { a class="button primary" href=(start) { "Sign in" } }
                },
            )
            .into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct DevelopmentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

/// The one-click sign-in of development mode. Its CSRF token is double-submitted: the form's
/// must match the sealed cookie's that `page` set.
pub async fn development(
    Axum(state): Axum<State>,
    headers: HeaderMap,
    PageForm(form): PageForm<DevelopmentForm>,
) -> Result<Response, PageError> {
    let SignIn::Development { merchant } = &state.sign_in else { return Err(PageError::NotFound("page")) };
    let pending: Pending = state.cookies.get(&headers, SIGN_IN).ok_or(PageError::Csrf)?;
    if !same_token(&form.csrf, &pending.csrf) {
        return Err(PageError::Csrf);
    }
    let token = state.api.dev_token(merchant).await?;
    let session = Session::new(token.authentication_token, token.merchant_id, token.authentication_token_expiry);
    Ok(signed_in(&state, &session, local_path(Some(&form.next))))
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// Leaves for the provider's sign-in page with a fresh PKCE challenge and state.
pub async fn start(Axum(state): Axum<State>, Query(q): Query<StartQuery>) -> Result<Response, PageError> {
    let provider = state.provider.as_ref().ok_or(PageError::NotFound("page"))?;
    let next = local_path(q.next.as_deref()).map(str::to_owned);
    let (url, pending) = provider.start(next).await.map_err(failed)?;
    let cookie = state.cookies.set(SIGN_IN, Some(&pending), SIGN_IN_SECS);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider's redirect back: the state must be this browser's, and the code is exchanged
/// with the verifier only this browser's cookie holds.
pub async fn callback(
    Axum(state): Axum<State>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let provider = state.provider.as_ref().ok_or(PageError::NotFound("page"))?;
    let expired = PageError::SignInFailed("This sign-in expired or was started in another browser.");
    let pending: Pending = state.cookies.get(&headers, SIGN_IN).ok_or(expired)?;
    // The cookie's Max-Age is up to the browser; its sealed time is ours.
    if pending.started_ms + SIGN_IN_SECS * 1000 < crate::util::now_ms() {
        return Err(PageError::SignInFailed("This sign-in expired or was started in another browser."));
    }
    if q.error.is_some() {
        return Err(PageError::SignInFailed("The identity provider did not sign you in."));
    }
    let same_state = same_token(&q.state.unwrap_or_default(), &pending.state);
    let (true, Some(code)) = (same_state, q.code) else {
        return Err(PageError::SignInFailed("This sign-in expired or was started in another browser."));
    };
    let issued = provider.finish(code, pending.verifier).await.map_err(failed)?;
    let (who, exp) = claims_of(&issued.access_token);
    let now = crate::util::now_ms();
    let expires_at_ms =
        exp.map(|s| s * 1000).or(issued.expires_in_secs.map(|s| now + s * 1000)).unwrap_or(now + 3_600_000);
    let session = Session::new(issued.access_token, who.unwrap_or_else(|| "you".into()), expires_at_ms);
    Ok(signed_in(&state, &session, local_path(pending.next.as_deref())))
}

fn failed(e: OidcError) -> PageError {
    tracing::warn!(error = %e, "sign-in failed");
    PageError::SignInFailed(match e {
        OidcError::Discovery | OidcError::IssuerMismatch => "The identity provider did not answer.",
        OidcError::Exchange(_) => "The identity provider did not accept this sign-in.",
    })
}

/// The session cookie set (for as long as the token lives), the sign-in cookie removed, and on
/// to `next`.
fn signed_in(state: &State, session: &Session, next: Option<&str>) -> Response {
    let secs = session.expires_at_ms.saturating_sub(crate::util::now_ms()) / 1000;
    let mut resp = Redirect::to(next.unwrap_or("/payments")).into_response();
    let h = resp.headers_mut();
    h.append(header::SET_COOKIE, state.cookies.set(SESSION, Some(session), secs));
    h.append(header::SET_COOKIE, state.cookies.set::<Pending>(SIGN_IN, None, 0));
    resp
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn sign_out(
    Axum(state): Axum<State>,
    headers: HeaderMap,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    if let Some(session) = state.cookies.session(&headers)
        && !session.csrf_matches(&form.csrf)
    {
        return Err(PageError::Csrf);
    }
    let mut resp = Redirect::to("/sign-in?signed_out=1").into_response();
    resp.headers_mut().append(header::SET_COOKIE, state.cookies.set::<Session>(SESSION, None, 0));
    Ok(resp)
}
