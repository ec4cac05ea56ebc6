//! The dashboard's configuration (`dashboard --help`). It touches no AWS service: it calls the
//! API, so `AWS_ENDPOINT_URL` only tells whether this is development mode (`config::keys`).
use secrecy::SecretString;

use super::{SecretSetting, SettingError, keys, mask, secret};

/// The dashboard's configuration.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "dashboard",
    about = "The shop staff's dashboard: payments, refunds, captures, events and webhook endpoints in a browser, \
             through the public API",
    after_help = crate::telemetry::ENV_HELP
)]
pub struct DashboardConfig {
    #[arg(long, env = "DASHBOARD_HOST", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    #[arg(long, env = "DASHBOARD_PORT", default_value_t = 4490)]
    pub port: u16,
    /// The API the dashboard calls, with the signed-in user's token.
    #[arg(long, env = "DASHBOARD_API_URL", default_value = "http://127.0.0.1:4444")]
    pub api_url: String,
    /// The dashboard's own public URL, as browsers reach it: the sign-in's redirect URI is this
    /// with `/auth/callback`.
    #[arg(long, env = "DASHBOARD_BASE_URL", default_value = "http://127.0.0.1:4490")]
    pub base_url: String,
    /// The OpenID provider's issuer (discovery at `{issuer}/.well-known/openid-configuration`),
    /// e.g. Cognito's `https://cognito-idp.<region>.amazonaws.com/<pool>`. Required outside
    /// development mode; in development mode, set, it replaces the one-click sign-in.
    #[arg(long, env = "DASHBOARD_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The app client at the provider: a public client (no secret), authorization code with PKCE.
    #[arg(long, env = "DASHBOARD_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The scopes asked for, space-separated.
    #[arg(long, env = "DASHBOARD_OIDC_SCOPES", default_value = "openid")]
    pub oidc_scopes: String,
    /// Base64 of 32 random bytes: seals the session cookie (which holds the user's token).
    /// Required outside development mode.
    #[arg(long, env = "DASHBOARD_SESSION_KEY", hide_env_values = true, value_parser = secret)]
    pub session_key: Option<SecretString>,
    /// Comma-separated previous session keys, still opening sessions during a rotation.
    #[arg(long, env = "DASHBOARD_SESSION_OLD_KEYS", hide_env_values = true, value_delimiter = ',', value_parser = secret)]
    pub session_old_keys: Vec<SecretString>,
    /// The merchant the development sign-in signs in as (`GET /token` of the API).
    #[arg(long, env = "MERCHANT_ID", default_value = "test@merchant")]
    pub merchant_id: String,
    /// Only read to tell development mode: a loopback address (the emulator) means development.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// How long a call to the API may take before the page says the API did not answer.
    /// Longer than the API's own `REQUEST_TIMEOUT_MS` (10 s), so its answer, even a 504, arrives.
    #[arg(long, env = "DASHBOARD_API_TIMEOUT_MS", default_value_t = 15_000)]
    pub api_timeout_ms: u64,
}

/// How people sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Development mode: one click, as `merchant`, with a token from the API's `GET /token`.
    Development { merchant: String },
    /// OAuth 2.0 authorization code with PKCE at `issuer`.
    Oidc { issuer: String, client_id: String, scopes: String },
}

impl DashboardConfig {
    pub fn is_development(&self) -> bool {
        self.aws_endpoint_url.as_deref().is_some_and(keys::is_loopback_url)
    }

    fn session_setting(&self) -> SecretSetting<'_> {
        SecretSetting {
            name: "DASHBOARD_SESSION_KEY",
            old_name: "DASHBOARD_SESSION_OLD_KEYS",
            current: &self.session_key,
            previous: &self.session_old_keys,
            dev_default: keys::DEV_DASHBOARD_SESSION_KEY,
        }
    }

    /// The session key after the production checks (no published default, present).
    pub fn session_key(&self) -> Result<SecretString, SettingError> {
        self.session_setting().resolve(self.is_development())
    }

    /// How people sign in: the identity provider when one is set; the one-click development
    /// sign-in only in development mode; anything else refuses to start, naming the setting.
    /// Outside development mode the API and the dashboard itself are reached over https (http
    /// only on this machine): every call carries a user's token, every page a session cookie.
    pub fn sign_in(&self) -> Result<SignIn, SettingError> {
        let web = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        let safe = crate::util::is_https_or_loopback;
        if !web(&self.api_url) || !self.is_development() && !safe(&self.api_url) {
            return Err(SettingError::NotHttps("DASHBOARD_API_URL"));
        }
        if !web(&self.base_url) || !self.is_development() && !safe(&self.base_url) {
            return Err(SettingError::NotHttps("DASHBOARD_BASE_URL"));
        }
        let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        match (set(&self.oidc_issuer), set(&self.client_id)) {
            (Some(issuer), Some(client_id)) => {
                // Plain http only to this machine (a test's provider): a token must not cross a
                // network in the clear.
                if !crate::util::is_https_or_loopback(&issuer) {
                    return Err(SettingError::NotHttps("DASHBOARD_OIDC_ISSUER"));
                }
                Ok(SignIn::Oidc { issuer, client_id, scopes: self.oidc_scopes.clone() })
            }
            (Some(_), None) => Err(SettingError::Missing("DASHBOARD_CLIENT_ID")),
            (None, _) if self.is_development() => Ok(SignIn::Development { merchant: self.merchant_id.clone() }),
            (None, _) => Err(SettingError::Missing("DASHBOARD_OIDC_ISSUER")),
        }
    }

    /// Cookies are `Secure` outside development mode (where the dashboard is served over https).
    pub fn secure_cookies(&self) -> bool {
        !self.is_development()
    }

    pub fn log_effective(&self) {
        tracing::info!(
            addr = %format!("{}:{}", self.host, self.port),
            api_url = %self.api_url,
            base_url = %self.base_url,
            oidc_issuer = self.oidc_issuer.as_deref().unwrap_or("(unset)"),
            client_id = self.client_id.as_deref().unwrap_or("(unset)"),
            oidc_scopes = %self.oidc_scopes,
            session_key = mask(&self.session_key),
            session_old_keys = self.session_old_keys.len(),
            merchant_id = %self.merchant_id,
            development_mode = self.is_development(),
            api_timeout_ms = self.api_timeout_ms,
            runtime_worker_threads = super::runtime_worker_threads(),
            "effective configuration"
        );
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{DashboardConfig, SignIn};
    use crate::config::SettingError;

    fn config(endpoint: Option<&str>, issuer: Option<&str>, client: Option<&str>) -> DashboardConfig {
        // Set field by field, so the environment of whoever runs the tests cannot change them.
        let mut c = DashboardConfig::try_parse_from(["dashboard"]).unwrap();
        c.aws_endpoint_url = endpoint.map(str::to_owned);
        c.oidc_issuer = issuer.map(str::to_owned);
        c.client_id = client.map(str::to_owned);
        c.session_key = None;
        c
    }

    #[test]
    fn the_one_click_sign_in_is_for_development_mode_only() {
        let dev = config(Some("http://127.0.0.1:4566"), None, None);
        assert_eq!(dev.sign_in().unwrap(), SignIn::Development { merchant: dev.merchant_id.clone() });
        assert!(dev.session_key().is_ok(), "development default");
        assert!(!dev.secure_cookies());

        let prod = config(None, None, None);
        assert_eq!(prod.sign_in().unwrap_err(), SettingError::Missing("DASHBOARD_OIDC_ISSUER"));
        assert_eq!(prod.session_key().unwrap_err(), SettingError::Missing("DASHBOARD_SESSION_KEY"));
        assert!(prod.secure_cookies());
    }

    #[test]
    fn an_identity_provider_needs_a_client_and_https_off_this_machine() {
        let idp = "https://cognito-idp.eu-west-1.amazonaws.com/pool";
        let c = config(None, Some(idp), Some("client"));
        assert!(matches!(c.sign_in().unwrap(), SignIn::Oidc { .. }));
        assert_eq!(config(None, Some(idp), None).sign_in().unwrap_err(), SettingError::Missing("DASHBOARD_CLIENT_ID"));
        assert!(config(None, Some("http://idp.example.com"), Some("c")).sign_in().is_err());
        assert!(config(None, Some("http://127.0.0.1:9000"), Some("c")).sign_in().is_ok(), "a test's provider");
        let mut plain_api = config(None, Some(idp), Some("c"));
        plain_api.api_url = "http://api.internal:4444".into();
        assert_eq!(plain_api.sign_in().unwrap_err(), SettingError::NotHttps("DASHBOARD_API_URL"));
        let mut plain_base = config(None, Some(idp), Some("c"));
        plain_base.base_url = "http://dashboard.example.com".into();
        assert_eq!(plain_base.sign_in().unwrap_err(), SettingError::NotHttps("DASHBOARD_BASE_URL"));
        let mut not_web = config(Some("http://127.0.0.1:4566"), None, None);
        not_web.api_url = "ftp://127.0.0.1".into();
        assert!(not_web.sign_in().is_err());
        let mut published = config(None, Some(idp), Some("c"));
        published.session_key = Some(crate::config::DEV_DASHBOARD_SESSION_KEY.into());
        assert_eq!(published.session_key().unwrap_err(), SettingError::DevelopmentDefault("DASHBOARD_SESSION_KEY"));
    }
}
