//! Sign-in at an OpenID provider: OAuth 2.0 authorization code with PKCE (the `oauth2` crate),
//! a public client (no secret: the dashboard is the only party that ever holds the verifier).
//! The provider's endpoints come from its discovery document, read once and kept.
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider's discovery document could not be read")]
    Discovery,
    #[error("the identity provider's discovery document names another issuer")]
    IssuerMismatch,
    #[error("the identity provider did not exchange the code: {0}")]
    Exchange(String),
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
}

/// What a sign-in carries from `/auth/start` to `/auth/callback`, in the sealed `sign_in`
/// cookie: the state to compare, the PKCE verifier, and where to go after.
#[derive(Serialize, Deserialize, Default)]
pub struct Pending {
    pub state: String,
    pub verifier: String,
    pub next: Option<String>,
    /// The development sign-in form's CSRF token (double-submitted: cookie and form).
    pub csrf: String,
    /// When the sign-in started (ms): past `sign_in::SIGN_IN_SECS` the cookie is refused.
    pub started_ms: u64,
}

/// A token the provider issued.
pub struct Issued {
    pub access_token: String,
    pub expires_in_secs: Option<u64>,
}

pub struct Provider {
    issuer: String,
    client_id: String,
    scopes: Vec<String>,
    redirect: String,
    http: reqwest::Client,
    endpoints: OnceCell<Discovery>,
}

impl Provider {
    pub fn new(issuer: &str, client_id: &str, scopes: &str, redirect: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            // The token endpoint must answer itself: a redirect could send the code elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client with rustls builds");
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            redirect,
            http,
            endpoints: OnceCell::new(),
        }
    }

    /// The discovery document, fetched on first use (not at start, so a provider that is down
    /// when the dashboard starts only delays sign-in) and kept once read.
    async fn discovery(&self) -> Result<&Discovery, OidcError> {
        self.endpoints
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", self.issuer);
                let doc: Discovery = async { self.http.get(&url).send().await?.error_for_status()?.json().await }
                    .await
                    .map_err(|e: reqwest::Error| {
                        tracing::warn!(error = %e, "OpenID discovery failed");
                        OidcError::Discovery
                    })?;
                if doc.issuer.trim_end_matches('/') != self.issuer {
                    return Err(OidcError::IssuerMismatch);
                }
                // The code and the token travel to these: https only (http only on this machine).
                let safe = crate::util::is_https_or_loopback;
                if !safe(&doc.authorization_endpoint) || !safe(&doc.token_endpoint) {
                    return Err(OidcError::Discovery);
                }
                Ok(doc)
            })
            .await
    }

    async fn client(
        &self,
    ) -> Result<
        BasicClient<
            oauth2::EndpointSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointSet,
        >,
        OidcError,
    > {
        let d = self.discovery().await?;
        let bad = |_| OidcError::Discovery;
        Ok(BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::new(d.authorization_endpoint.clone()).map_err(bad)?)
            .set_token_uri(TokenUrl::new(d.token_endpoint.clone()).map_err(bad)?)
            .set_redirect_uri(RedirectUrl::new(self.redirect.clone()).map_err(bad)?))
    }

    /// Where to send the browser, and what to keep until it comes back.
    pub async fn start(&self, next: Option<String>) -> Result<(String, Pending), OidcError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client().await?;
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        let pending = Pending {
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
            next,
            csrf: String::new(),
            started_ms: crate::util::now_ms(),
        };
        Ok((url.to_string(), pending))
    }

    /// The code of the provider's redirect exchanged for a token, with the verifier only this
    /// browser's sign-in cookie holds.
    pub async fn finish(&self, code: String, verifier: String) -> Result<Issued, OidcError> {
        let client = self.client().await?;
        let client_http = self.http.clone();
        let http = move |req: HttpRequest| {
            let client_http = client_http.clone();
            async move { exchange(&client_http, req).await }
        };
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&http)
            .await
            .map_err(|e| OidcError::Exchange(e.to_string()))?;
        Ok(Issued {
            access_token: token.access_token().secret().clone(),
            expires_in_secs: token.expires_in().map(|d| d.as_secs()),
        })
    }
}

/// One call of the `oauth2` crate (the token exchange) over this crate's reqwest.
async fn exchange(http: &reqwest::Client, req: HttpRequest) -> Result<HttpResponse, reqwest::Error> {
    let resp = http.execute(reqwest::Request::try_from(req)?).await?;
    let mut out = HttpResponse::new(Vec::new());
    *out.status_mut() = resp.status();
    *out.headers_mut() = resp.headers().clone();
    *out.body_mut() = resp.bytes().await?.to_vec();
    Ok(out)
}

/// Who a token names and until when, read from its claims for the page only: the API, not the
/// dashboard, verifies the token on every call.
pub fn claims_of(token: &str) -> (Option<String>, Option<u64>) {
    use base64::Engine;
    let Some(payload) = token.split('.').nth(1) else { return (None, None) };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else { return (None, None) };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return (None, None) };
    let who = ["email", "cognito:username", "username", "merchant_id", "sub"]
        .iter()
        .find_map(|c| claims.get(*c).and_then(|v| v.as_str()).map(str::to_owned));
    (who, claims.get("exp").and_then(serde_json::Value::as_u64))
}
