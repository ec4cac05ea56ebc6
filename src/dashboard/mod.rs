//! The dashboard: server-rendered pages for the people who run a shop (payments, a payment's
//! timeline and its refund, capture and cancel, events and their deliveries, webhook endpoints).
//! It is a client of the public API and nothing else: every page is made of API calls with the
//! signed-in user's token, so it holds no AWS permission and sees only what that user may see.
//!
//! - `api`: the API client; `model`: the API's resources as the pages read them.
//! - `session`: the sealed session cookie and CSRF tokens; `sign_in` and `oidc`: how people
//!   sign in (one click in development mode, authorization code with PKCE elsewhere).
//! - `pages`: one file per section; `error`: what a page says when something fails.
pub mod api;
pub mod error;
pub mod format;
pub mod model;
pub mod oidc;
pub mod pages;
pub mod session;
pub mod sign_in;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Router, middleware};
use tower_http::trace::TraceLayer;

use crate::config::{DashboardConfig, SettingError, SignIn};
use crate::vault::AeadVault;

/// Everything a handler needs.
pub struct Dashboard {
    pub api: api::ApiClient,
    pub cookies: session::Cookies,
    pub sign_in: SignIn,
    pub provider: Option<oidc::Provider>,
    /// Whether responses carry `Strict-Transport-Security` (served over https).
    pub secure: bool,
}

pub type State = Arc<Dashboard>;

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error("DASHBOARD_API_URL is not a URL")]
    ApiUrl,
}

impl Dashboard {
    pub fn new(config: &DashboardConfig) -> Result<Self, DashboardError> {
        let sign_in = config.sign_in()?;
        let key = config.session_key()?;
        let vault = AeadVault::new(secrecy::ExposeSecret::expose_secret(&key), &config.session_old_keys)
            .map_err(|_| SettingError::Invalid("DASHBOARD_SESSION_KEY"))?;
        let provider = match &sign_in {
            SignIn::Oidc { issuer, client_id, scopes } => {
                let redirect = format!("{}/auth/callback", config.base_url.trim_end_matches('/'));
                Some(oidc::Provider::new(issuer, client_id, scopes, redirect))
            }
            SignIn::Development { .. } => None,
        };
        Ok(Self {
            api: api::ApiClient::new(&config.api_url, Duration::from_millis(config.api_timeout_ms))
                .map_err(|_| DashboardError::ApiUrl)?,
            cookies: session::Cookies::new(vault, config.secure_cookies()),
            sign_in,
            provider,
            secure: config.secure_cookies(),
        })
    }
}

/// Every page and form.
pub fn router(state: State) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/payments") }))
        .route("/status", get(|| async { "ok" }))
        .route("/static/style.css", get(style))
        .route("/sign-in", get(sign_in::form).post(sign_in::development))
        .route("/auth/start", get(sign_in::start))
        .route("/auth/callback", get(sign_in::callback))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/payments", get(pages::payments::list))
        .route("/payments/{id}", get(pages::payment::show))
        .route("/payments/{id}/refund", post(pages::payment::refund))
        .route("/payments/{id}/capture", post(pages::payment::capture))
        .route("/payments/{id}/cancel", get(pages::payment::confirm_cancel).post(pages::payment::cancel))
        .route("/events", get(pages::events::list))
        .route("/events/{id}", get(pages::events::show))
        .route("/events/{id}/redeliver", post(pages::events::redeliver))
        .route("/webhook-endpoints", get(pages::endpoints::list).post(pages::endpoints::create))
        .route("/webhook-endpoints/{id}/rotate", post(pages::endpoints::rotate))
        .route("/webhook-endpoints/{id}/delete", post(pages::endpoints::delete))
        .fallback(|| async { error::PageError::NotFound("page") })
        // Forms are small; nothing a person types needs more.
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(middleware::from_fn_with_state(state.clone(), headers))
        .layer(TraceLayer::new_for_http().make_span_with(crate::telemetry::public_request_span))
        .with_state(state)
}

/// No script may run (there is none), no page may be framed, nothing leaves in a `Referer`
/// (the callback's URL carries a code), and no page with a shop's data is cached.
async fn headers(
    axum::extract::State(state): axum::extract::State<State>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.secure {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    resp
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("static/style.css"),
    )
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in progress end.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: State,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
