//! Tokens: issuance, and every way a bearer token can be wrong.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::support::app::{
    JWT_SECRET, OTHER_MERCHANT, TestApp, api_config, card_request, spawn_app, spawn_app_with, unique_aws_args,
};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn signed(claims: Value, secret: &str) -> String {
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn claims(exp: u64) -> Value {
    json!({"sub": "test@merchant", "iss": "payment-platform", "aud": "payment-platform-api",
           "iat": now(), "nbf": now() - 10, "exp": exp})
}

async fn status_with(app: &TestApp, auth: Option<String>) -> (u16, Value) {
    let mut req = app.http.post(format!("{}/payments", app.url)).json(&card_request("1234123412341234", 100));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn token_is_issued_for_the_default_and_seeded_merchants_only() {
    let app = spawn_app().await;
    let body: Value = app.http.get(format!("{}/token", app.url)).send().await.unwrap().json().await.unwrap();
    assert!(body["AuthenticationToken"].as_str().unwrap().split('.').count() == 3);
    assert!(body["AuthenticationTokenExpiry"].as_u64().unwrap() > now() * 1000);
    assert_eq!(body["MerchantID"], "test@merchant");
    let other = app.http.get(format!("{}/token?merchant={OTHER_MERCHANT}", app.url)).send().await.unwrap();
    assert_eq!(other.status(), 200);
    let unknown = app.http.get(format!("{}/token?merchant=nobody@x", app.url)).send().await.unwrap();
    assert_eq!(unknown.status(), 422);
    let v: Value = unknown.json().await.unwrap();
    assert_eq!(v["Error"]["Fields"][0]["Field"], "merchant");
}

#[tokio::test]
async fn missing_forged_expired_and_unsigned_tokens_are_401() {
    let app = spawn_app().await;
    let good = format!("Bearer {}", app.token);
    assert_eq!(status_with(&app, Some(good)).await.0, 202);

    let (code, body) = status_with(&app, None).await;
    assert_eq!((code, body["Error"]["Code"].as_str()), (401, Some("unauthorized")));

    let forged = signed(claims(now() + 600), "not-the-secret");
    assert_eq!(status_with(&app, Some(format!("Bearer {forged}"))).await.0, 401);

    let expired = signed(claims(now() - 600), JWT_SECRET);
    assert_eq!(status_with(&app, Some(format!("Bearer {expired}"))).await.0, 401);

    let mut wrong_aud = claims(now() + 600);
    wrong_aud["aud"] = json!("someone-else");
    assert_eq!(status_with(&app, Some(format!("Bearer {}", signed(wrong_aud, JWT_SECRET)))).await.0, 401);

    let mut future = claims(now() + 6000);
    future["nbf"] = json!(now() + 3000);
    assert_eq!(status_with(&app, Some(format!("Bearer {}", signed(future, JWT_SECRET)))).await.0, 401);

    // `alg: none`: a header and claims with no signature.
    let none =
        format!("{}.{}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#), B64.encode(claims(now() + 600).to_string()));
    assert_eq!(status_with(&app, Some(format!("Bearer {none}"))).await.0, 401);

    // The right signature under another algorithm (HS512) is refused too.
    let hs512 =
        encode(&Header::new(Algorithm::HS512), &claims(now() + 600), &EncodingKey::from_secret(JWT_SECRET.as_bytes()))
            .unwrap();
    assert_eq!(status_with(&app, Some(format!("Bearer {hs512}"))).await.0, 401);
    assert_eq!(status_with(&app, Some("Basic dXNlcjpwYXNz".into())).await.0, 401);
    assert_eq!(status_with(&app, Some("Bearer garbage".into())).await.0, 401);
}

#[tokio::test]
async fn token_issuance_can_be_switched_off() {
    let mut config = crate::support::app::api_config(crate::support::app::unique_aws_args());
    config.token_issuance = Some(false);
    let state = payment_platform::wiring::api(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(payment_platform::http::serve(listener, state, std::future::pending()));
    let resp = reqwest::get(format!("{url}/token")).await.unwrap();
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["Error"]["Code"], "token_issuance_disabled");
    server.abort();
}

#[tokio::test]
async fn during_a_jwt_rotation_tokens_of_the_previous_secret_are_still_accepted() {
    let mut config = api_config(unique_aws_args());
    config.jwt_secret_key = Some("the-new-secret".into());
    config.jwt_old_secret_keys = vec![JWT_SECRET.into()];
    let app = spawn_app_with(config).await;
    let previous = signed(claims(now() + 60), JWT_SECRET);
    assert_eq!(status_with(&app, Some(format!("Bearer {previous}"))).await.0, 202, "a token of the previous secret");
    let issued = app.token_for(None).await;
    assert_eq!(status_with(&app, Some(format!("Bearer {issued}"))).await.0, 202, "a token of the new secret");
    // New tokens are signed with the new secret only.
    let mut check = jsonwebtoken::Validation::new(Algorithm::HS256);
    check.set_audience(&["payment-platform-api"]);
    let with =
        |secret: &str| jsonwebtoken::decode::<Value>(&issued, &DecodingKey::from_secret(secret.as_bytes()), &check);
    assert!(with("the-new-secret").is_ok() && with(JWT_SECRET).is_err());
    let stranger = signed(claims(now() + 60), "not-a-secret-of-ours");
    let (status, body) = status_with(&app, Some(format!("Bearer {stranger}"))).await;
    assert_eq!((status, body["Error"]["Code"].as_str()), (401, Some("unauthorized")));
}
