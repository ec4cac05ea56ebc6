//! What a token may do: OAuth 2.0 scopes, one per kind of request.
//!
//! | scope | routes |
//! |---|---|
//! | `payments.read` | `GET` of payments, their events and the event feed |
//! | `payments.write` | `POST /payments`, `PATCH /payments/{id}/refund` |
//! | `webhooks.manage` | `/webhook-endpoints/*`, `GET /events/{id}/attempts`, `POST /events/{id}/redeliver` |
//!
//! A provider's token (`JWT_JWKS_URL`) carries them in its `scope` claim, space-separated, each
//! either bare or behind its resource server's identifier (`payment-platform/payments.read`, as
//! Cognito writes them): without the claim it may do nothing. An HS256 token without a `scope`
//! claim may do everything: whoever holds `JWT_SECRET_KEY` can sign any scope anyway, so the
//! absence grants nothing the secret does not. Short of the scope a route needs: 403
//! `insufficient_scope`.
use axum::http::Method;

/// One thing a token may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    PaymentsRead,
    PaymentsWrite,
    WebhooksManage,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::PaymentsRead, Scope::PaymentsWrite, Scope::WebhooksManage];

    pub fn name(self) -> &'static str {
        match self {
            Self::PaymentsRead => "payments.read",
            Self::PaymentsWrite => "payments.write",
            Self::WebhooksManage => "webhooks.manage",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The scope a request to `path` with `method` needs (authenticated routes only).
    pub fn required(method: &Method, path: &str) -> Scope {
        let webhooks = path.starts_with("/webhook-endpoints")
            || (path.starts_with("/events/") && (path.ends_with("/attempts") || path.ends_with("/redeliver")));
        match (webhooks, method) {
            (true, _) => Self::WebhooksManage,
            (false, &Method::GET | &Method::HEAD) => Self::PaymentsRead,
            (false, _) => Self::PaymentsWrite,
        }
    }
}

/// The scopes a token was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub const NONE: Scopes = Scopes(0);
    pub const ALL: Scopes = Scopes(0b111);

    /// A `scope` claim: space-separated names, each bare or after its resource server's
    /// identifier and a `/`. Names this API does not know are ignored.
    pub fn parse(claim: &str) -> Self {
        let granted = claim.split_ascii_whitespace().map(|s| s.rsplit('/').next().unwrap_or(s));
        Scopes(
            granted
                .filter_map(|name| Scope::ALL.into_iter().find(|s| s.name() == name))
                .fold(0, |bits, s| bits | s.bit()),
        )
    }

    pub fn allows(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// As a `scope` claim, in the order of `Scope::ALL`.
    pub fn claim(self) -> String {
        Scope::ALL.into_iter().filter(|s| self.allows(*s)).map(Scope::name).collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_needs_its_scope() {
        assert_eq!(Scope::required(&Method::GET, "/payments"), Scope::PaymentsRead);
        assert_eq!(Scope::required(&Method::GET, "/payments/x/events"), Scope::PaymentsRead);
        assert_eq!(Scope::required(&Method::GET, "/events/x"), Scope::PaymentsRead);
        assert_eq!(Scope::required(&Method::POST, "/payments"), Scope::PaymentsWrite);
        assert_eq!(Scope::required(&Method::PATCH, "/payments/x/refund"), Scope::PaymentsWrite);
        assert_eq!(Scope::required(&Method::GET, "/webhook-endpoints"), Scope::WebhooksManage);
        assert_eq!(Scope::required(&Method::DELETE, "/webhook-endpoints/x"), Scope::WebhooksManage);
        assert_eq!(Scope::required(&Method::GET, "/events/x/attempts"), Scope::WebhooksManage);
        assert_eq!(Scope::required(&Method::POST, "/events/x/redeliver"), Scope::WebhooksManage);
    }

    #[test]
    fn a_claim_grants_what_it_names_bare_or_behind_a_resource_server() {
        let s = Scopes::parse("payment-platform/payments.read https://api.example/webhooks.manage other.scope");
        assert!(s.allows(Scope::PaymentsRead) && s.allows(Scope::WebhooksManage));
        assert!(!s.allows(Scope::PaymentsWrite));
        assert_eq!(Scopes::parse(""), Scopes::NONE);
        assert_eq!(Scopes::parse("payments.read payments.write webhooks.manage"), Scopes::ALL);
        assert_eq!(Scopes::parse("payments.readwrite payments"), Scopes::NONE);
        assert_eq!(Scopes::ALL.claim(), "payments.read payments.write webhooks.manage");
        assert_eq!(Scopes::parse(&s.claim()), s);
    }
}
