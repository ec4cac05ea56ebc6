//! Sign-in outside development mode: OAuth 2.0 authorization code with PKCE, against an identity
//! provider this test starts (discovery, authorize, token and JWKS endpoints, with an RSA key the
//! test generates), and the API verifying the provider's tokens by its JWKS. The provider checks
//! what a real one checks: the client, the redirect URI, S256 and the verifier against the
//! challenge, single-use codes. The dashboard runs as in production (no emulator: secure cookies
//! with the `__Host-` prefix) and refuses to start without a provider.
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Query, State};
use axum::http::StatusCode as Http;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use payment_platform::testing::process::Child;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::identity::{TestKey, rsa_key, sign};
use super::support::app::{MERCHANT, card_request};
use super::support::bank::{free_port, log_dir};
use super::support::dashboard::{HtmlCheck, Visitor};
use super::support::system::api_alone;

const CLIENT_ID: &str = "dashboard-test-client";

struct Grant {
    challenge: String,
    redirect_uri: String,
}

#[derive(Clone)]
struct Idp {
    issuer: String,
    key: Arc<TestKey>,
    grants: Arc<Mutex<HashMap<String, Grant>>>,
    /// Whether `/authorize` signs the user in (false: the user declines, `error=access_denied`).
    consent: Arc<Mutex<bool>>,
}

impl Idp {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let idp = Self {
            issuer,
            key: Arc::new(rsa_key("idp-1")),
            grants: Arc::default(),
            consent: Arc::new(Mutex::new(true)),
        };
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", axum::routing::get(discovery))
            .route("/.well-known/jwks.json", axum::routing::get(jwks))
            .route("/authorize", axum::routing::get(authorize))
            .route("/token", axum::routing::post(token))
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        idp
    }

    fn access_token(&self, merchant: &str) -> String {
        let now = payment_platform::util::now_ms() / 1000;
        sign(
            &self.key,
            &json!({ "sub": merchant, "iss": self.issuer, "aud": "payment-platform-api", "iat": now, "exp": now + 300, "email": "clerk@shop.example",
                     "scope": "openid payments.read payments.write webhooks.manage" }),
        )
    }
}

async fn discovery(State(idp): State<Idp>) -> axum::Json<Value> {
    axum::Json(json!({
        "issuer": idp.issuer,
        "authorization_endpoint": format!("{}/authorize", idp.issuer),
        "token_endpoint": format!("{}/token", idp.issuer),
        "jwks_uri": format!("{}/.well-known/jwks.json", idp.issuer),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(idp): State<Idp>) -> axum::Json<Value> {
    axum::Json(json!({ "keys": [idp.key.jwk] }))
}

fn refuse(what: &str) -> Response {
    (Http::BAD_REQUEST, axum::Json(json!({ "error": "invalid_request", "error_description": what }))).into_response()
}

/// The user signs in at once (or declines): a code bound to the challenge and redirect URI.
async fn authorize(State(idp): State<Idp>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code" || get("client_id") != CLIENT_ID {
        return refuse("response_type or client_id");
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 || get("state").is_empty() {
        return refuse("PKCE with S256 and a state are required");
    }
    let redirect = get("redirect_uri");
    let state = url::form_urlencoded::byte_serialize(get("state").as_bytes()).collect::<String>();
    if !*idp.consent.lock().unwrap() {
        return Redirect::to(&format!("{redirect}?error=access_denied&state={state}")).into_response();
    }
    let code = uuid::Uuid::new_v4().simple().to_string();
    let grant = Grant { challenge: get("code_challenge"), redirect_uri: redirect.clone() };
    idp.grants.lock().unwrap().insert(code.clone(), grant);
    Redirect::to(&format!("{redirect}?code={code}&state={state}")).into_response()
}

/// The code, once, for the verifier whose S256 is the challenge, from the same redirect URI.
async fn token(State(idp): State<Idp>, Form(f): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    if get("grant_type") != "authorization_code" || get("client_id") != CLIENT_ID {
        return refuse("grant_type or client_id");
    }
    let Some(grant) = idp.grants.lock().unwrap().remove(&get("code")) else {
        return (Http::BAD_REQUEST, axum::Json(json!({ "error": "invalid_grant" }))).into_response();
    };
    let s256 = B64URL.encode(Sha256::digest(get("code_verifier").as_bytes()));
    if s256 != grant.challenge || get("redirect_uri") != grant.redirect_uri {
        return (Http::BAD_REQUEST, axum::Json(json!({ "error": "invalid_grant" }))).into_response();
    }
    axum::Json(json!({ "access_token": idp.access_token(MERCHANT), "token_type": "Bearer", "expires_in": 300 }))
        .into_response()
}

/// The dashboard as production runs it: no emulator endpoint in its environment.
async fn dashboard(name: &str, env: &[(&str, String)]) -> (Child, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut vars: Vec<(String, String)> =
        vec![("DASHBOARD_PORT".into(), port.to_string()), ("DASHBOARD_BASE_URL".into(), base.clone())];
    vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let log = log_dir().join(format!("{name}.log"));
    let bin = Path::new(env!("CARGO_BIN_EXE_dashboard"));
    let child = Child::spawn(bin, &[], name, &log, &vars, &["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"]).unwrap();
    (child, base)
}

#[tokio::test]
async fn staff_sign_in_at_the_identity_provider_with_pkce_and_the_dashboard_refuses_to_start_without_one() {
    let idp = Idp::start().await;
    let jwks = format!("{}/.well-known/jwks.json", idp.issuer);
    let (api, _aws) =
        api_alone("dash-oidc", &[("JWT_JWKS_URL", &jwks), ("JWT_ISSUER", &idp.issuer), ("JWT_MERCHANT_CLAIM", "sub")])
            .await;
    let api_url = format!("http://127.0.0.1:{}", api.port);
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{api_url}/payments"))
        .bearer_auth(idp.access_token(MERCHANT))
        .json(&card_request("4242424242424242", 4321))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 202, "the API takes the provider's token");
    let id = created.json::<Value>().await.unwrap()["paymentID"].as_str().unwrap().to_owned();

    let session_key = base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let env = [
        ("DASHBOARD_API_URL", api_url.clone()),
        ("DASHBOARD_OIDC_ISSUER", idp.issuer.clone()),
        ("DASHBOARD_CLIENT_ID", CLIENT_ID.to_owned()),
        ("DASHBOARD_OIDC_SCOPES", "openid payments.read payments.write webhooks.manage".to_owned()),
        ("DASHBOARD_SESSION_KEY", session_key),
    ];
    let (mut dash, base) = dashboard("dash-oidc-dashboard", &env).await;
    dash.wait_healthy(&format!("{base}/status"), Duration::from_secs(30)).await.unwrap();
    let mut clerk = Visitor::new(&base);
    let mut html = HtmlCheck::new("dashboard-sign-in");

    // A page sends the stranger to sign in; sign-in leaves for the provider with S256 PKCE.
    let sent = clerk.get("/payments").await;
    assert_eq!((sent.status, sent.location()), (StatusCode::SEE_OTHER, "/sign-in?next=%2Fpayments"));
    let page = clerk.get(sent.location()).await;
    assert!(page.body.contains("href=\"/auth/start?next=%2Fpayments\""), "{}", page.body);
    html.keep("sign-in-at-provider", &page.body);
    let start = clerk.get("/auth/start?next=%2Fpayments").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let authorize = url::Url::parse(start.location()).unwrap();
    assert!(authorize.as_str().starts_with(&format!("{}/authorize?", idp.issuer)));
    let params: HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["redirect_uri"], format!("{base}/auth/callback"));
    assert!(!params.contains_key("code_verifier"), "the verifier never leaves the dashboard");
    let sign_in_cookie = start.headers.get("set-cookie").unwrap().to_str().unwrap().to_owned();
    for attr in ["__Host-sign_in=", "HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(sign_in_cookie.contains(attr), "{attr} in {sign_in_cookie}");
    }
    let first_sign_in = clerk.cookies.clone();

    // The provider sends the browser back with a code, which the dashboard exchanges.
    let back = clerk.get(authorize.as_str()).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    let callback = back.location().to_owned();
    assert!(callback.starts_with(&format!("{base}/auth/callback?code=")), "{callback}");

    // The same code with a forged state is refused, and so is another sign-in's cookie (its
    // verifier does not match this code's challenge).
    let forged_state = callback.replace("state=", "state=x");
    assert_eq!(clerk.get(&forged_state).await.status, StatusCode::BAD_REQUEST);
    let mut other_browser = Visitor::new(&base);
    other_browser.get("/auth/start").await;
    let other_cookie = other_browser.cookies.clone();
    let mut thief = Visitor::new(&base);
    thief.cookies = other_cookie;
    let stolen = thief.get(&callback).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "another browser's sign-in: {}", stolen.body);
    assert!(stolen.body.contains("Sign-in failed"), "{}", stolen.body);
    html.keep("sign-in-failed", &stolen.body);

    // The code was spent by that attempt (codes are single-use): sign in once more, for real.
    clerk.cookies = first_sign_in;
    let start = clerk.get("/auth/start?next=%2Fpayments").await;
    let back = clerk.get(start.location()).await;
    let done = clerk.get(back.location()).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, "/payments"), "{}", done.body);
    let session_cookie = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-session="))
        .expect("the session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(session_cookie.contains(attr), "{attr} in {session_cookie}");
    }
    let list = clerk.get("/payments").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains(&id[..8]) && list.body.contains("EUR 43.21"), "the merchant's payment is listed");
    assert!(list.body.contains("clerk@shop.example"), "who is signed in");
    html.keep("payments-signed-in-at-provider", &list.body);
    let hsts = list.headers.get("strict-transport-security").map(|v| v.to_str().unwrap().to_owned());
    assert!(hsts.is_some_and(|v| v.contains("max-age")), "HSTS outside development mode");

    // There is no one-click sign-in outside development mode.
    assert_eq!(Visitor::new(&base).post("/sign-in", &[("csrf", "x")]).await.status, StatusCode::NOT_FOUND);

    // A user who declines at the provider gets a sentence, not an error.
    *idp.consent.lock().unwrap() = false;
    let mut declining = Visitor::new(&base);
    let start = declining.get("/auth/start").await;
    let back = declining.get(start.location()).await;
    let refused = declining.get(back.location()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("The identity provider did not sign you in."), "{}", refused.body);
    html.keep("sign-in-declined", &refused.body);
    html.assert_valid();

    // Without a provider (and no emulator), the dashboard refuses to start, naming the setting.
    let (mut bare, _) =
        dashboard("dash-oidc-bare", &[("DASHBOARD_API_URL", api_url.clone()), ("RUST_LOG", "info".into())]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = bare.exited() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the dashboard did not refuse to start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(log_dir().join("dash-oidc-bare.log")).unwrap();
    assert!(log.contains("DASHBOARD_OIDC_ISSUER"), "{log}");
}
