//! The signed-in user's session, kept in the browser as a sealed cookie (AES-256-GCM under
//! `DASHBOARD_SESSION_KEY`, `vault::AeadVault`): the dashboard stores nothing, so any replica
//! serves any user and a restart signs nobody out. The cookie is HttpOnly, SameSite=Lax (the
//! provider's redirect back is a top-level navigation) and Secure outside development mode,
//! where its name takes the `__Host-` prefix, which browsers accept only from https with no
//! Domain and Path=/.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};

use crate::domain::ports::SecretVault;
use crate::vault::AeadVault;

/// What a session holds. The token is the provider's (or `GET /token`'s) bearer token: the
/// dashboard never sees a password, and every call it makes is the user's own.
#[derive(Serialize, Deserialize, Clone)]
pub struct Session {
    pub token: String,
    /// Who is signed in, as the pages show it.
    pub who: String,
    /// When the token expires (ms since the epoch): past it the user signs in again.
    pub expires_at_ms: u64,
    /// Every form of this session carries it (`csrf`), and every POST is checked against it.
    pub csrf: String,
}

impl Session {
    pub fn new(token: String, who: String, expires_at_ms: u64) -> Self {
        Self { token, who, expires_at_ms, csrf: random_token() }
    }

    /// Whether `given` is this session's CSRF token.
    pub fn csrf_matches(&self, given: &str) -> bool {
        same_token(given, &self.csrf)
    }
}

/// Whether `given` is the secret token `expected` (a CSRF token, a sign-in's state), compared
/// in constant time; an empty token never matches.
pub fn same_token(given: &str, expected: &str) -> bool {
    !given.is_empty()
        && !expected.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes()).is_ok()
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("system random number generator failed");
    crate::util::hex(&bytes)
}

/// Seals and opens the dashboard's cookies.
pub struct Cookies {
    vault: AeadVault,
    secure: bool,
}

/// The session cookie, and the short-lived one that carries a sign-in's PKCE verifier and state
/// from `/auth/start` to `/auth/callback`.
pub const SESSION: &str = "session";
pub const SIGN_IN: &str = "sign_in";

impl Cookies {
    pub fn new(vault: AeadVault, secure: bool) -> Self {
        Self { vault, secure }
    }

    fn name(&self, base: &str) -> String {
        if self.secure { format!("__Host-{base}") } else { base.to_owned() }
    }

    /// `value` sealed into a `Set-Cookie` named `base`, for `max_age_secs` (0 removes it).
    pub fn set<T: Serialize>(&self, base: &str, value: Option<&T>, max_age_secs: u64) -> HeaderValue {
        let name = self.name(base);
        let sealed = value
            .and_then(|v| serde_json::to_string(v).ok())
            .and_then(|json| self.vault.seal_secret(&json, &name).ok())
            .unwrap_or_default();
        let secure = if self.secure { "; Secure" } else { "" };
        let max_age = if sealed.is_empty() { 0 } else { max_age_secs };
        HeaderValue::from_str(&format!("{name}={sealed}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
            .expect("a sealed value is base64 and cookie-safe")
    }

    /// The cookie `base` of `headers`, opened: `None` when absent, forged, or sealed under a key
    /// this dashboard no longer holds.
    pub fn get<T: for<'de> Deserialize<'de>>(&self, headers: &HeaderMap, base: &str) -> Option<T> {
        let name = self.name(base);
        let prefix = format!("{name}=");
        let sealed = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(prefix.as_str()))?;
        let json = self.vault.open_secret(sealed, &name).ok()?;
        serde_json::from_str(&json).ok()
    }

    /// The session of this request, if it has one that has not expired.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        self.get::<Session>(headers, SESSION).filter(|s| s.expires_at_ms > crate::util::now_ms())
    }
}

/// A handler's signed-in user. Without a live session the request is sent to sign in, and
/// back to where it was going after (a GET's path; a POST goes back to the list it came from).
pub struct SignedIn(pub Session);

impl FromRequestParts<super::State> for SignedIn {
    type Rejection = super::error::PageError;

    async fn from_request_parts(parts: &mut Parts, state: &super::State) -> Result<Self, Self::Rejection> {
        match state.cookies.session(&parts.headers) {
            Some(session) => Ok(Self(session)),
            None => {
                let next = if parts.method == axum::http::Method::GET {
                    parts.uri.path_and_query().map(|p| p.as_str().to_owned())
                } else {
                    None
                };
                Err(super::error::PageError::SignedOut { next })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(secure: bool) -> Cookies {
        Cookies::new(AeadVault::new(crate::config::DEV_DASHBOARD_SESSION_KEY, &[]).unwrap(), secure)
    }

    fn request_with(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; {pair}")).unwrap());
        headers
    }

    #[test]
    fn a_session_round_trips_sealed_and_a_tampered_one_does_not_open() {
        let c = cookies(true);
        let s = Session::new("tok".into(), "test@merchant".into(), crate::util::now_ms() + 60_000);
        let set = c.set(SESSION, Some(&s), 3600);
        let text = set.to_str().unwrap();
        assert!(text.starts_with("__Host-session=v1."), "{text}");
        for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(text.contains(attr), "{attr} in {text}");
        }
        assert!(!text.contains("tok"), "the token is sealed");
        let back = c.session(&request_with(&set)).expect("opens");
        assert_eq!((back.token.as_str(), back.csrf.as_str()), ("tok", s.csrf.as_str()));

        let tampered = HeaderValue::from_str(&text.replacen("v1.", "v1.0", 1)).unwrap();
        assert!(c.session(&request_with(&tampered)).is_none());
        let other_key =
            Cookies::new(AeadVault::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", &[]).unwrap(), true);
        assert!(other_key.session(&request_with(&set)).is_none(), "another key does not open it");
    }

    #[test]
    fn an_expired_session_is_none_and_csrf_must_match() {
        let c = cookies(false);
        let s = Session::new("tok".into(), "m".into(), crate::util::now_ms() - 1);
        assert!(c.session(&request_with(&c.set(SESSION, Some(&s), 60))).is_none());
        assert!(s.csrf_matches(&s.csrf.clone()));
        assert!(!s.csrf_matches(""));
        assert!(!s.csrf_matches(&random_token()));
        assert!(!c.set::<Session>(SESSION, None, 60).to_str().unwrap().contains("Secure"));
        assert!(c.set::<Session>(SESSION, None, 60).to_str().unwrap().contains("Max-Age=0"));
    }
}
