//! The public API, as the dashboard calls it: with the signed-in user's bearer token, nothing
//! else. Every id that comes from a URL is pushed as one path segment, percent-encoded, so a
//! crafted id cannot reach another route of the API.
use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{ErrorEnvelope, FieldProblem, Token};

/// Why a call to the API did not give what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ApiFailure {
    /// The API answered with its error envelope.
    #[error("the API answered {status}: {code}")]
    Answered { status: StatusCode, code: String, message: String, fields: Vec<FieldProblem>, retry_after: Option<u64> },
    /// No answer (connection refused, timeout) or one that is not the API's: whether a write
    /// took effect is unknown.
    #[error("the API did not answer")]
    NoAnswer,
}

impl ApiFailure {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Answered { status, .. } => Some(*status),
            Self::NoAnswer => None,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Self::Answered { code, .. } => code,
            Self::NoAnswer => "no_answer",
        }
    }

    /// Whether the same request, with the same idempotency key, may be sent again: the write
    /// may or may not have happened, and only a replay of its key is sure not to double it.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::NoAnswer => true,
            Self::Answered { status, .. } => {
                status.is_server_error() || status.as_u16() == 409 && self.code() == "idempotency_key_in_flight"
            }
        }
    }
}

/// An answer's body and whether the resource is still changing (`Retry-After` on a read).
pub struct Answer<T> {
    pub body: T,
    pub in_flight: bool,
}

pub struct ApiClient {
    http: reqwest::Client,
    base: url::Url,
}

impl ApiClient {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, url::ParseError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // The API never redirects; a redirect would carry the bearer token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client with rustls builds");
        Ok(Self { http, base: url::Url::parse(base)? })
    }

    /// The API's URL of `segments` (each percent-encoded as one segment) with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> url::Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("an http base URL").pop_if_empty().extend(segments);
        let present: Vec<_> = query.iter().filter(|(_, v)| !v.is_empty()).collect();
        if !present.is_empty() {
            url.query_pairs_mut().extend_pairs(present);
        }
        url
    }

    pub async fn get<T: DeserializeOwned>(&self, token: &str, url: url::Url) -> Result<Answer<T>, ApiFailure> {
        self.send(self.http.get(url).bearer_auth(token)).await
    }

    /// A write (`POST`, or `PATCH` for a refund), with the `Idempotency-Key` the form carried:
    /// the same on a double click, so the API does it once.
    pub async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        token: &str,
        url: url::Url,
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<T, ApiFailure> {
        let mut req = self.http.request(method, url).bearer_auth(token);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        Ok(self.send(req).await?.body)
    }

    pub async fn delete(&self, token: &str, url: url::Url) -> Result<(), ApiFailure> {
        self.send::<Value>(self.http.delete(url).bearer_auth(token)).await.map(|_| ())
    }

    /// A development token for `merchant` (`GET /token`, served only in development mode).
    pub async fn dev_token(&self, merchant: &str) -> Result<Token, ApiFailure> {
        let url = self.url(&["token"], &[("merchant", merchant)]);
        Ok(self.send(self.http.get(url)).await?.body)
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<Answer<T>, ApiFailure> {
        let resp = req.send().await.map_err(|e| {
            tracing::warn!(error = %e, "the API did not answer");
            ApiFailure::NoAnswer
        })?;
        let status = resp.status();
        let retry_after =
            resp.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let bytes = resp.bytes().await.map_err(|_| ApiFailure::NoAnswer)?;
        if status.is_success() {
            // A 204 (delete) has no body: read it as JSON null.
            let body = if bytes.is_empty() { serde_json::from_slice(b"null") } else { serde_json::from_slice(&bytes) };
            return body.map(|body| Answer { body, in_flight: retry_after.is_some() }).map_err(|e| {
                tracing::error!(error = %e, %status, "an answer of the API the dashboard cannot read");
                ApiFailure::NoAnswer
            });
        }
        match serde_json::from_slice::<ErrorEnvelope>(&bytes) {
            Ok(ErrorEnvelope { error }) => Err(ApiFailure::Answered {
                status,
                code: error.code,
                message: error.message,
                fields: error.fields,
                retry_after,
            }),
            Err(_) => {
                tracing::warn!(%status, "an error answer without the API's envelope (a proxy's?)");
                Err(ApiFailure::NoAnswer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_from_a_url_stays_one_segment() {
        let api = ApiClient::new("http://127.0.0.1:4444", Duration::from_secs(1)).unwrap();
        let url = api.url(&["payments", "../webhook-endpoints?x=1"], &[("limit", "10"), ("cursor", "")]);
        assert_eq!(url.as_str(), "http://127.0.0.1:4444/payments/..%2Fwebhook-endpoints%3Fx=1?limit=10");
        let prefixed = ApiClient::new("http://127.0.0.1:4444/v1/", Duration::from_secs(1)).unwrap();
        assert_eq!(prefixed.url(&["events"], &[]).as_str(), "http://127.0.0.1:4444/v1/events");
    }
}
