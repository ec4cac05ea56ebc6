//! Production identity: tokens from an identity provider whose JWKS a local server publishes,
//! from keys this test generates; merchants that are not registered or are disabled; and the
//! per-merchant rate limits. The API runs in-process on the emulator.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64URL};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::support::app::{JWT_SECRET, TestApp, api_config, card_request, eventually, spawn_app_with, unique_aws_args};

const ISSUER: &str = "https://idp.test.local";
const AUDIENCE: &str = "payment-platform-api";

/// A signing key and its public half as a JWK.
pub(crate) struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub signing: EncodingKey,
    pub jwk: Value,
    /// The public key in PEM, for the algorithm-confusion attack.
    public_pem: String,
}

fn pem(tag: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {tag}-----\n{}\n-----END {tag}-----\n", lines.join("\n"))
}

/// The length of the DER element whose length octets start at `*i`, moving `*i` past them.
fn der_len(b: &[u8], i: &mut usize) -> usize {
    let first = b[*i];
    *i += 1;
    if first < 0x80 {
        return usize::from(first);
    }
    (0..first & 0x7f).fold(0, |len, _| {
        *i += 1;
        (len << 8) | usize::from(b[*i - 1])
    })
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (what the JWT library signs with).
fn pkcs1_of(p8: &[u8]) -> Vec<u8> {
    let mut i = 0;
    let mut expect = |tag: u8, skip: bool| {
        assert_eq!(p8[i], tag, "PKCS#8 layout");
        i += 1;
        let len = der_len(p8, &mut i);
        if skip {
            i += len;
        }
        len
    };
    expect(0x30, false); // PrivateKeyInfo
    expect(0x02, true); // version
    expect(0x30, true); // algorithm
    let len = expect(0x04, false); // privateKey
    p8[i..i + len].to_vec()
}

pub(crate) fn rsa_key(kid: &str) -> TestKey {
    let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let public = pair.public_key();
    let spki = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(public).unwrap();
    let n = B64URL.encode(public.modulus().big_endian_without_leading_zero());
    let e = B64URL.encode(public.exponent().big_endian_without_leading_zero());
    TestKey {
        kid: kid.into(),
        alg: Algorithm::RS256,
        signing: EncodingKey::from_rsa_der(&pkcs1_of(pkcs8.as_ref())),
        jwk: json!({ "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": n, "e": e }),
        public_pem: pem("PUBLIC KEY", spki.as_ref()),
    }
}

fn ec_key(kid: &str) -> TestKey {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let pkcs8 = pair.to_pkcs8v1().unwrap();
    let point = pair.public_key().as_ref().to_vec();
    assert_eq!((point.len(), point[0]), (65, 4), "an uncompressed P-256 point");
    TestKey {
        kid: kid.into(),
        alg: Algorithm::ES256,
        signing: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({ "kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256", "use": "sig",
            "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..]) }),
        public_pem: String::new(),
    }
}

fn now() -> u64 {
    payment_platform::util::now_ms() / 1000
}

fn claims(merchant: &str) -> Value {
    json!({ "sub": merchant, "iss": ISSUER, "aud": AUDIENCE, "iat": now(), "exp": now() + 300,
            "scope": "payment-platform/payments.read payment-platform/payments.write payment-platform/webhooks.manage" })
}

pub(crate) fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    encode(&header, claims, &key.signing).unwrap()
}

/// The identity provider's JWKS endpoint: serves whatever keys `keys` holds, counts fetches,
/// and goes away when `stop` is sent.
struct Idp {
    url: String,
    keys: Arc<RwLock<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
}

impl Idp {
    async fn start(keys: Vec<Value>) -> Self {
        let keys = Arc::new(RwLock::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (Arc::clone(&keys), Arc::clone(&fetches));
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let (keys, fetches) = (Arc::clone(&served), Arc::clone(&counted));
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({ "keys": *keys.read().unwrap() }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { url, keys, fetches, stop: Some(stop) }
    }

    fn publish(&self, key: &TestKey) {
        self.keys.write().unwrap().push(key.jwk.clone());
    }

    fn down(&mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
    }
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    let resp = app.http.get(format!("{}/payments", app.url)).bearer_auth(token).send().await.unwrap();
    resp.status().as_u16()
}

async fn app_on(idp: &Idp, merchant_claim: &str) -> TestApp {
    let mut config = api_config(unique_aws_args());
    config.jwt_jwks_url = Some(idp.url.clone());
    config.jwt_issuer = ISSUER.into();
    config.jwt_audience = AUDIENCE.into();
    config.jwt_merchant_claim = merchant_claim.into();
    spawn_app_with(config).await
}

#[tokio::test]
async fn tokens_of_the_identity_provider_are_verified_by_kid_and_every_forgery_is_refused() {
    let (rsa, ec) = (rsa_key("rsa-1"), ec_key("ec-1"));
    let mut idp = Idp::start(vec![rsa.jwk.clone(), ec.jwk.clone()]).await;
    let app = app_on(&idp, "sub").await;
    assert_eq!(status_with(&app, &sign(&rsa, &claims("test@merchant"))).await, 200, "RS256");
    assert_eq!(status_with(&app, &sign(&ec, &claims("test@merchant"))).await, 200, "ES256");
    let token = app.http.get(format!("{}/token", app.url)).send().await.unwrap();
    assert_eq!(token.status(), 404, "no token issuance beside an identity provider");

    // A key rotated in at the provider is picked up on its first token.
    let rotated = rsa_key("rsa-2");
    idp.publish(&rotated);
    assert_eq!(status_with(&app, &sign(&rotated, &claims("test@merchant"))).await, 200, "a rotated-in key");
    let fetches = idp.fetches.load(Ordering::SeqCst);

    // Unknown kids are refused, and a flood of them does not hammer the provider.
    for i in 0..20 {
        let stranger = TestKey { kid: format!("nobody-{i}"), ..rsa_key("x") };
        assert_eq!(status_with(&app, &sign(&stranger, &claims("test@merchant"))).await, 401);
    }
    assert!(idp.fetches.load(Ordering::SeqCst) <= fetches + 1, "at most one refresh a minute");

    let mut forged = Vec::new();
    let wrong = |k: &str, v: Value| {
        let mut c = claims("test@merchant");
        c[k] = v;
        c
    };
    forged.push(("wrong issuer", sign(&rsa, &wrong("iss", json!("https://evil.test")))));
    forged.push(("wrong audience", sign(&rsa, &wrong("aud", json!("someone-else")))));
    forged.push(("expired", sign(&rsa, &wrong("exp", json!(now() - 600)))));
    forged.push(("not yet valid", sign(&rsa, &wrong("nbf", json!(now() + 600)))));
    let no_exp = {
        let mut c = claims("test@merchant");
        c.as_object_mut().unwrap().remove("exp");
        c
    };
    forged.push(("no expiry", sign(&rsa, &no_exp)));
    let other_idp_key = TestKey { kid: "rsa-1".into(), ..rsa_key("x") };
    forged.push(("a key of another JWKS under a known kid", sign(&other_idp_key, &claims("test@merchant"))));
    let unsigned = format!(
        "{}.{}.",
        B64URL.encode(json!({ "alg": "none", "typ": "JWT", "kid": "rsa-1" }).to_string()),
        B64URL.encode(claims("test@merchant").to_string())
    );
    forged.push(("alg none", unsigned));
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("rsa-1".into());
    let confused = encode(&hs, &claims("test@merchant"), &EncodingKey::from_secret(rsa.public_pem.as_bytes())).unwrap();
    forged.push(("HS256 signed with the RSA public key", confused));
    let dev = payment_platform::http::auth::TokenIssuer::new(JWT_SECRET, ISSUER, AUDIENCE, 300);
    let dev_token = dev.issue(
        &payment_platform::domain::ids::MerchantId::parse("test@merchant").unwrap(),
        payment_platform::http::auth::scopes::Scopes::ALL,
        now() * 1000,
    );
    forged.push(("an HS256 development token", dev_token.token));
    forged.push(("an unregistered merchant", sign(&rsa, &claims("ghost@merchant"))));
    for (what, token) in &forged {
        assert_eq!(status_with(&app, token).await, 401, "{what}");
    }

    // The provider goes down: tokens whose key is cached still pass.
    idp.down();
    assert_eq!(status_with(&app, &sign(&rsa, &claims("test@merchant"))).await, 200, "with the provider down");
    assert_eq!(status_with(&app, &sign(&ec, &claims("other@merchant"))).await, 200);
}

#[tokio::test]
async fn the_merchant_can_come_from_another_claim_as_cognito_puts_it() {
    let rsa = rsa_key("cognito-1");
    let idp = Idp::start(vec![rsa.jwk.clone()]).await;
    let app = app_on(&idp, "client_id").await;
    let mut c = claims("3r2ov9tb6fq0abcdefexample");
    c["client_id"] = json!("other@merchant");
    assert_eq!(status_with(&app, &sign(&rsa, &c)).await, 200);
    c["client_id"] = json!("ghost@merchant");
    assert_eq!(status_with(&app, &sign(&rsa, &c)).await, 401);
}

#[tokio::test]
async fn a_disabled_or_unregistered_merchant_is_refused_even_with_a_valid_signature() {
    let app = spawn_app_with(api_config(unique_aws_args())).await;
    // Switched off as a boolean, or as the string a console or CLI edit may write.
    for (merchant, disabled) in
        [("disabled@merchant", AttributeValue::Bool(true)), ("typed@merchant", AttributeValue::S("true".into()))]
    {
        let profile = [
            ("PK", AttributeValue::S(format!("MERCHANT#{merchant}"))),
            ("SK", AttributeValue::S("PROFILE".into())),
            ("Disabled", disabled),
        ];
        let put = app.clients.dynamodb.put_item().table_name(&app.aws.table);
        put.set_item(Some(profile.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())).send().await.unwrap();
    }
    let issuer = payment_platform::http::auth::TokenIssuer::new(JWT_SECRET, "payment-platform", AUDIENCE, 300);
    for merchant in ["disabled@merchant", "typed@merchant", "ghost@merchant"] {
        let token = issuer.issue(
            &payment_platform::domain::ids::MerchantId::parse(merchant).unwrap(),
            payment_platform::http::auth::scopes::Scopes::ALL,
            now() * 1000,
        );
        assert_eq!(status_with(&app, &token.token).await, 401, "{merchant}");
    }
    assert_eq!(status_with(&app, &app.token).await, 200, "a registered merchant passes");
}

#[tokio::test]
async fn a_burst_over_the_write_limit_gets_429_with_its_headers_and_other_merchants_are_unaffected() {
    let mut config = api_config(unique_aws_args());
    config.rate_limit_writes_per_sec = 5;
    let app = spawn_app_with(config).await;
    let body = card_request("4242424242424242", 100);
    let burst = (0..20).map(|_| app.create(&body, None));
    let answers = futures::future::join_all(burst).await;
    let limited: Vec<_> = answers.iter().filter(|r| r.status() == 429).collect();
    assert!(!limited.is_empty(), "20 writes at once exceed 5 per second");
    assert!(answers.iter().filter(|r| r.status() == 202).count() >= 5, "the burst allowance is served");
    for r in &limited {
        let h = r.headers();
        let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry), "Retry-After {retry}");
        assert_eq!(h["ratelimit-policy"], "\"writes\";q=5;w=1");
        assert!(h["ratelimit"].to_str().unwrap().starts_with("\"writes\";r=0;t="));
    }
    let body: Value = answers.into_iter().find(|r| r.status() == 429).unwrap().json().await.unwrap();
    assert_eq!(body["Error"]["Code"], "rate_limited");

    let mut other = app.clone_client();
    other.token = app.token_for(Some("other@merchant")).await;
    assert_eq!(other.create(&card_request("4242424242424242", 100), None).await.status(), 202, "its own bucket");
    assert_eq!(status_with(&app, &app.token).await, 200, "reads are a separate budget");
    eventually(Duration::from_secs(10), "the write limit to recover", || async {
        (app.create(&card_request("4242424242424242", 100), None).await.status() == 202).then_some(())
    })
    .await;
}

#[tokio::test]
async fn of_several_merchant_claims_the_first_the_token_carries_names_the_merchant() {
    let rsa = rsa_key("rsa-claims");
    let idp = Idp::start(vec![rsa.jwk.clone()]).await;
    let app = app_on(&idp, "merchant_id, sub").await;
    assert_eq!(status_with(&app, &sign(&rsa, &claims("test@merchant"))).await, 200, "a machine's token: sub");
    let mut staff = claims("nobody@example");
    staff["merchant_id"] = json!("test@merchant");
    assert_eq!(status_with(&app, &sign(&rsa, &staff)).await, 200, "a staff token: merchant_id first");
    let mut unregistered = claims("test@merchant");
    unregistered["merchant_id"] = json!("nobody@example");
    assert_eq!(status_with(&app, &sign(&rsa, &unregistered)).await, 401, "present, it is not passed over");
    let mut not_a_string = claims("test@merchant");
    not_a_string["merchant_id"] = json!(42);
    assert_eq!(status_with(&app, &sign(&rsa, &not_a_string)).await, 401);
}
