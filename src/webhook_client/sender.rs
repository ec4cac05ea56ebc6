//! Sends one signed event to an endpoint. No redirects are followed (a 3xx is a failed attempt:
//! following one would let a public URL lead to a private address), no proxy from the
//! environment is used, and in production every name is resolved here and only public
//! addresses are connected to, so DNS cannot point a delivery into this platform's network.
use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::sign;
use crate::domain::ports::{Outgoing, WebhookSender};
use crate::domain::webhooks::{AttemptOutcome, is_public};
use crate::wire::event::webhook_body;

pub struct HttpWebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpWebhookSender {
    /// `timeout` bounds a whole attempt; `allow_private` (the emulator) lets deliveries reach
    /// loopback and private addresses.
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("payment-platform-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(std::sync::Arc::new(PublicOnly));
        }
        Ok(Self { client: builder.build()?, allow_private })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, out: &Outgoing<'_>) -> AttemptOutcome {
        let Ok(url) = reqwest::Url::parse(out.url) else { return AttemptOutcome::Blocked };
        // An address in the URL is never resolved, so the resolver cannot check it: do it here.
        if !self.allow_private {
            let literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
                _ => None,
            };
            if url.scheme() != "https" || literal.is_some_and(|ip| !is_public(ip)) {
                return AttemptOutcome::Blocked;
            }
        }
        let id = out.event.id().to_string();
        let body = webhook_body(out.event);
        let keys: Vec<Vec<u8>> = out.secrets.iter().filter_map(|s| sign::secret_bytes(s)).collect();
        let signature = sign::signature_header(&keys, &id, out.timestamp_s, &body);
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", out.timestamp_s.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let retry_after_ms = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|secs| secs.saturating_mul(1000));
                AttemptOutcome::Answered { status: resp.status().as_u16(), retry_after_ms }
            }
            Err(e) if is_blocked(&e) => AttemptOutcome::Blocked,
            Err(e) if e.is_timeout() => AttemptOutcome::Timeout,
            Err(_) => AttemptOutcome::Unreachable,
        }
    }
}

/// A name resolved only to addresses deliveries may not reach.
#[derive(Debug, thiserror::Error)]
#[error("the endpoint's name resolves to no public address")]
struct BlockedAddress;

fn is_blocked(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<BlockedAddress>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Resolves with the system resolver and keeps only public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(BlockedAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn production_never_connects_to_a_private_address() {
        let sender = HttpWebhookSender::new(Duration::from_secs(2), false).unwrap();
        let event = crate::testing::fakes::sample_event();
        for url in
            ["https://127.0.0.1:1/", "https://169.254.169.254/latest", "https://localhost:1/", "http://example.com/"]
        {
            let out =
                Outgoing { url, event: &event, secrets: &[crate::domain::webhooks::new_secret()], timestamp_s: 1 };
            assert_eq!(sender.send(&out).await, AttemptOutcome::Blocked, "{url}");
        }
    }

    #[test]
    fn the_body_has_the_type_an_rfc3339_timestamp_and_the_payment_without_its_card() {
        let event = crate::testing::fakes::sample_event();
        let body: serde_json::Value = serde_json::from_str(&webhook_body(&event)).unwrap();
        assert_eq!(body["type"], "payment.created");
        assert_eq!(body["timestamp"], "2027-01-15T08:00:00.123Z");
        assert_eq!(body["data"]["PaymentID"], event.data.payment.id.to_string());
        assert_eq!(body["data"]["Version"], 1);
        assert!(!body.to_string().contains("CardNumber") && !body.to_string().contains("v1."));
        assert!(body.get("RefundID").is_none(), "a payment's event names no refund");
        let mut about_a_refund = event.clone();
        let refund = crate::domain::ids::RefundId::new();
        about_a_refund.refund_id = Some(refund);
        let body: serde_json::Value = serde_json::from_str(&webhook_body(&about_a_refund)).unwrap();
        assert_eq!(body["RefundID"], refund.to_string());
    }
}
