//! Development mode and the secrets each binary may hold.
//!
//! Development mode is an emulator on this machine: `AWS_ENDPOINT_URL` (and
//! `AWS_ENDPOINT_URL_DYNAMODB`, when set) on a loopback address. Only there do the published
//! development defaults apply (a JWT secret, the card, webhook-secret and fingerprint keys),
//! `GET /token` is served unasked and webhooks may go to private addresses. An endpoint anywhere
//! else (a VPC or FIPS endpoint of real AWS) is production: a binary given a development
//! default, a weak secret, or token issuance without its acknowledgement refuses to start with
//! a message naming the setting (`SettingError`).
use secrecy::{ExposeSecret, SecretString};

/// A fixed key for development mode only, so `make dev` needs no set-up. Published: any
/// process that finds it outside development mode refuses to start.
pub const DEV_CARD_KEY: &str = "ZGV2LW9ubHktY2FyZC1rZXktbm90LWZvci1wcm9kISE=";
pub const DEV_JWT_SECRET: &str = "dev-only-jwt-secret-not-for-production";
pub const DEV_WEBHOOK_SECRET_KEY: &str = "ZGV2LW9ubHktd2ViaG9vay1zZWNyZXRzLWtleSEhISE=";
pub const DEV_FINGERPRINT_KEY: &str = "ZGV2LW9ubHktaWRlbXBvdGVuY3ktZmluZ2VycHJpbnQ=";
pub const DEV_DASHBOARD_SESSION_KEY: &str = "ZGV2LW9ubHktZGFzaGJvYXJkLXNlc3Npb24ta2V5ISE=";

/// The shortest HS256 secret accepted outside development mode: as long as the hash's output,
/// RFC 7518 section 3.2.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

pub use crate::util::is_loopback_url;

/// Why a secret setting cannot be used. Each message names the variable and what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingError {
    #[error("{0} must be set outside development mode (development mode is AWS_ENDPOINT_URL on a loopback address)")]
    Missing(&'static str),
    #[error("{0} is the published development default; outside development mode set a secret of your own")]
    DevelopmentDefault(&'static str),
    #[error("{0} is shorter than {MIN_JWT_SECRET_BYTES} bytes; outside development mode use at least 32 random bytes")]
    TooShort(&'static str),
    #[error(
        "TOKEN_ISSUANCE=true outside development mode lets anyone who reaches the API take a token for any \
         registered merchant; set TOKEN_ISSUANCE_ACKNOWLEDGED=true if that is what you want"
    )]
    TokenIssuanceNotAcknowledged,
    #[error("{0} must be base64 of 32 bytes")]
    Invalid(&'static str),
    #[error("{0} must be an https URL (http only to this machine, or in development mode)")]
    NotHttps(&'static str),
}

/// A secret setting as given: its variable's name, its current value and previous ones still
/// accepted during a rotation, and the development default.
pub struct SecretSetting<'a> {
    pub name: &'static str,
    pub old_name: &'static str,
    pub current: &'a Option<SecretString>,
    pub previous: &'a [SecretString],
    pub dev_default: &'static str,
}

impl SecretSetting<'_> {
    /// The current secret (the development default in development mode when unset) after the
    /// production checks: no published default, among the current or the previous values.
    pub fn resolve(&self, development: bool) -> Result<SecretString, SettingError> {
        let given = self.current.as_ref().filter(|v| !v.expose_secret().trim().is_empty());
        if !development {
            let is_default = |v: &SecretString| v.expose_secret().trim() == self.dev_default;
            if given.is_some_and(is_default) {
                return Err(SettingError::DevelopmentDefault(self.name));
            }
            if self.previous.iter().any(is_default) {
                return Err(SettingError::DevelopmentDefault(self.old_name));
            }
        }
        match given {
            Some(v) => Ok(v.clone()),
            None if development => {
                tracing::warn!("{} not set: using the development default (development mode only)", self.name);
                Ok(SecretString::from(self.dev_default))
            }
            None => Err(SettingError::Missing(self.name)),
        }
    }

    /// `resolve`, then, outside development mode, every secret at least `min` bytes long (a
    /// short HS256 secret can be guessed offline from one token).
    pub fn resolve_at_least(&self, development: bool, min: usize) -> Result<SecretString, SettingError> {
        let current = self.resolve(development)?;
        if !development {
            if current.expose_secret().trim().len() < min {
                return Err(SettingError::TooShort(self.name));
            }
            if crate::util::present_secrets(self.previous).any(|v| v.len() < min) {
                return Err(SettingError::TooShort(self.old_name));
            }
        }
        Ok(current)
    }
}

/// Warns about keys a binary was given but never uses: each process should hold only its own
/// (README, "Who holds which key").
pub fn warn_unused(binary: &str, given: &[(&'static str, bool)]) {
    for (name, set) in given {
        if *set {
            tracing::warn!("{name} is set but {binary} does not use it; take it out of its environment");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_endpoint_on_this_machine_is_development() {
        for url in ["http://127.0.0.1:4566", "http://localhost:4566", "http://127.9.9.9", "http://[::1]:4566"] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://vpce-0123.dynamodb.us-east-1.vpce.amazonaws.com",
            "https://dynamodb-fips.us-east-1.amazonaws.com",
            "http://10.0.0.5:4566",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "not a url",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    fn setting<'a>(current: &'a Option<SecretString>, previous: &'a [SecretString]) -> SecretSetting<'a> {
        SecretSetting {
            name: "JWT_SECRET_KEY",
            old_name: "JWT_OLD_SECRET_KEYS",
            current,
            previous,
            dev_default: DEV_JWT_SECRET,
        }
    }

    #[test]
    fn development_defaults_apply_only_in_development_mode() {
        let unset = None;
        assert_eq!(setting(&unset, &[]).resolve(true).unwrap().expose_secret(), DEV_JWT_SECRET);
        assert_eq!(setting(&unset, &[]).resolve(false).unwrap_err(), SettingError::Missing("JWT_SECRET_KEY"));
        let dev = Some(SecretString::from(DEV_JWT_SECRET));
        assert_eq!(setting(&dev, &[]).resolve(false).unwrap_err(), SettingError::DevelopmentDefault("JWT_SECRET_KEY"));
        let own = Some(SecretString::from("x".repeat(40)));
        let old = [SecretString::from(DEV_JWT_SECRET)];
        assert_eq!(
            setting(&own, &old).resolve(false).unwrap_err(),
            SettingError::DevelopmentDefault("JWT_OLD_SECRET_KEYS")
        );
        assert!(setting(&own, &[]).resolve(false).is_ok());
    }

    #[test]
    fn short_secrets_are_refused_outside_development_mode() {
        let short = Some(SecretString::from("s3cret"));
        assert_eq!(
            setting(&short, &[]).resolve_at_least(false, 32).unwrap_err(),
            SettingError::TooShort("JWT_SECRET_KEY")
        );
        assert!(setting(&short, &[]).resolve_at_least(true, 32).is_ok(), "development mode accepts any");
        let long = Some(SecretString::from("k".repeat(32)));
        let old = [SecretString::from("old")];
        assert_eq!(
            setting(&long, &old).resolve_at_least(false, 32).unwrap_err(),
            SettingError::TooShort("JWT_OLD_SECRET_KEYS")
        );
        assert!(setting(&long, &[]).resolve_at_least(false, 32).is_ok());
    }
}
