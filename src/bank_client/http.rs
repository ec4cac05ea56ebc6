//! One HTTP attempt against the bank, classified into an outcome, a transient or a permanent
//! error. Error texts carry only a status and a short code: never card data, never the body.
use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{Instrument, debug};

use super::{BankClientConfig, BankClientError};
#[path = "holds.rs"]
mod holds;

use crate::domain::bank::{AuthorizationOutcome, BankCaptureOutcome, CaptureRequest, VoidOutcome, VoidRequest};
use crate::domain::bank::{Bank, BankError, BankRefundOutcome, ChargeOutcome, ChargeRequest, RefundRequest};
use crate::domain::ids::{CaptureId, PaymentId, RefundId};
use crate::telemetry::{metrics, propagation};

/// The bank over HTTP. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct HttpBank {
    client: reqwest::Client,
    charges: Url,
    refunds: Url,
    authorizations: Url,
    captures: Url,
    voids: Url,
}

/// One line of a status inquiry (`GET /charges?reference=`, `GET /refunds?reference=`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Applied {
    #[serde(rename = "ChargeID")]
    charge_id: Option<String>,
    #[serde(rename = "RefundID")]
    refund_id: Option<String>,
    #[serde(rename = "AuthorizationID")]
    authorization_id: Option<String>,
    #[serde(rename = "CaptureID")]
    capture_id: Option<String>,
    expires_at: Option<u64>,
    status: String,
    decline_code: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Inquiry {
    #[serde(rename = "Charges", alias = "Refunds", alias = "Authorizations", alias = "Captures", default)]
    lines: Vec<Applied>,
}

impl HttpBank {
    pub fn new(config: &BankClientConfig) -> Result<Self, BankClientError> {
        let mut base = Url::parse(&config.url).map_err(|_| BankClientError::InvalidUrl)?;
        let plain_ok = config.allow_loopback_http && crate::util::is_loopback_url(&config.url);
        let scheme_ok = base.scheme() == "https" || (base.scheme() == "http" && plain_ok);
        if !scheme_ok || base.cannot_be_a_base() {
            return Err(BankClientError::InvalidUrl);
        }
        // `join` replaces the last path segment unless the base ends in a slash.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let join = |path| base.join(path).map_err(|_| BankClientError::InvalidUrl);
        let client = reqwest::Client::builder()
            // A redirect would send the card to a host nobody configured (a 307 or 308 re-sends
            // the body): answered as a refusal instead (`classify_status`).
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!plain_ok)
            .timeout(config.attempt_timeout)
            .connect_timeout(config.attempt_timeout)
            .build()
            .map_err(BankClientError::Client)?;
        Ok(Self {
            client,
            charges: join("charges")?,
            refunds: join("refunds")?,
            authorizations: join("authorizations")?,
            captures: join("captures")?,
            voids: join("voids")?,
        })
    }

    /// One POST with the key, in a span of its own whose trace context travels in the request
    /// headers (W3C `traceparent`), timed into `bank_request_duration_seconds`.
    async fn post<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        url: &Url,
        key: &str,
        body: &impl Serialize,
    ) -> Result<T, BankError> {
        let span = tracing::info_span!("bank_call", operation, idempotency_key = %key);
        let started = Instant::now();
        let result = self.attempt(url, key, body, &span).instrument(span.clone()).await;
        metrics::bank_call(operation, outcome_label(&result), started.elapsed());
        result
    }

    /// A status inquiry: every line the bank applied under `reference`, timed like a call.
    async fn inquire(&self, operation: &'static str, url: &Url, reference: &str) -> Result<Vec<Applied>, BankError> {
        let span = tracing::info_span!("bank_inquiry", operation, reference);
        let started = Instant::now();
        let result = async {
            let mut request = self.client.get(url.clone()).query(&[("reference", reference)]);
            for (name, value) in propagation::inject(&span) {
                request = request.header(name, value);
            }
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status();
            if status != StatusCode::OK {
                return Err(classify_status(status, "inquiry"));
            }
            let inquiry =
                response.json::<Inquiry>().await.map_err(|_| BankError::Transient("unreadable_answer".into()))?;
            Ok(inquiry.lines)
        }
        .instrument(span.clone())
        .await;
        metrics::bank_call(operation, outcome_label(&result), started.elapsed());
        result
    }

    /// A 200 is decoded into `T`, anything else becomes a `BankError`.
    async fn attempt<T: DeserializeOwned>(
        &self,
        url: &Url,
        key: &str,
        body: &impl Serialize,
        span: &tracing::Span,
    ) -> Result<T, BankError> {
        let mut request = self.client.post(url.clone()).header("Idempotency-Key", key).json(body);
        for (name, value) in propagation::inject(span) {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        debug!(%key, status = status.as_u16(), "bank answered");
        if status == StatusCode::OK {
            // The request was applied but its answer got lost or garbled: still ambiguous.
            return response.json::<T>().await.map_err(|e| {
                BankError::Transient(if e.is_timeout() { "timeout" } else { "unreadable_answer" }.into())
            });
        }
        let code = match response.json::<Envelope>().await {
            Ok(envelope) => short_code(&envelope.error.code).unwrap_or("unknown").to_owned(),
            Err(_) => "unknown".to_owned(),
        };
        Err(classify_status(status, &code))
    }
}

#[async_trait]
impl Bank for HttpBank {
    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, BankError> {
        let body = ChargeBody::of(req);
        let reply: ChargeReply = self.post("charge", &self.charges, &req.idempotency_key(), &body).await?;
        charge_outcome(&reply.status, reply.charge_id, reply.decline_code.as_deref())
            .ok_or_else(|| BankError::Transient("unexpected_answer".into()))
    }

    async fn refund(&self, req: &RefundRequest) -> Result<BankRefundOutcome, BankError> {
        let body = RefundBody {
            reference: req.refund_id.to_string(),
            charge_id: &req.bank_charge_id,
            amount: req.amount.get(),
            currency: req.currency.as_str(),
        };
        let reply: RefundReply = self.post("refund", &self.refunds, &req.idempotency_key(), &body).await?;
        refund_outcome(&reply.status, reply.refund_id, reply.reason.as_deref())
            .ok_or_else(|| BankError::Transient("unexpected_answer".into()))
    }

    async fn charges_for(&self, payment: PaymentId) -> Result<Vec<ChargeOutcome>, BankError> {
        let lines = self.inquire("charge_inquiry", &self.charges, &payment.to_string()).await?;
        let outcomes = lines.into_iter().map(|l| charge_outcome(&l.status, l.charge_id, l.decline_code.as_deref()));
        outcomes.collect::<Option<Vec<_>>>().ok_or_else(|| BankError::Transient("unexpected_answer".into()))
    }

    async fn refunds_for(&self, refund: RefundId) -> Result<Vec<BankRefundOutcome>, BankError> {
        let lines = self.inquire("refund_inquiry", &self.refunds, &refund.to_string()).await?;
        let outcomes = lines.into_iter().map(|l| refund_outcome(&l.status, l.refund_id, l.reason.as_deref()));
        outcomes.collect::<Option<Vec<_>>>().ok_or_else(|| BankError::Transient("unexpected_answer".into()))
    }

    async fn authorize(&self, req: &ChargeRequest) -> Result<AuthorizationOutcome, BankError> {
        self.authorize_card(req).await
    }

    async fn authorizations_for(&self, payment: PaymentId) -> Result<Vec<AuthorizationOutcome>, BankError> {
        self.authorizations_of(payment).await
    }

    async fn capture(&self, req: &CaptureRequest) -> Result<BankCaptureOutcome, BankError> {
        self.capture_held(req).await
    }

    async fn captures_for(&self, capture: CaptureId) -> Result<Vec<BankCaptureOutcome>, BankError> {
        self.captures_of(capture).await
    }

    async fn void(&self, req: &VoidRequest) -> Result<VoidOutcome, BankError> {
        self.void_held(req).await
    }
}

fn outcome_label<T>(result: &Result<T, BankError>) -> &'static str {
    match result {
        Ok(_) => "answered",
        Err(BankError::Unsent(_)) => "unsent",
        Err(BankError::Transient(_)) => "transient",
        Err(BankError::Permanent(_)) => "permanent",
    }
}

/// A refused connection sent nothing; anything else after connecting may have reached the
/// bank, so its outcome is unknown.
fn transport_error(e: reqwest::Error) -> BankError {
    if e.is_builder() {
        return BankError::Permanent("invalid_request".into());
    }
    if e.is_connect() && !e.is_timeout() {
        return BankError::Unsent("connect".into());
    }
    BankError::Transient(if e.is_timeout() { "timeout" } else { "transport" }.into())
}

/// A bank's id is stored on the record and in every event: it passes only if it looks like one
/// (1-128 of `A-Z a-z 0-9 - _ . :`), so nothing the bank sends can grow or taint them.
fn bank_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn charge_outcome(status: &str, charge_id: Option<String>, decline_code: Option<&str>) -> Option<ChargeOutcome> {
    match (status, charge_id) {
        ("approved", Some(id)) if bank_id(&id) => Some(ChargeOutcome::Approved { bank_charge_id: id }),
        ("declined", _) => {
            let reason = decline_code.and_then(short_code).unwrap_or("declined").to_owned();
            Some(ChargeOutcome::Declined { reason })
        }
        _ => None,
    }
}

fn refund_outcome(status: &str, refund_id: Option<String>, reason: Option<&str>) -> Option<BankRefundOutcome> {
    match (status, refund_id) {
        ("succeeded", Some(id)) if bank_id(&id) => Some(BankRefundOutcome::Succeeded { bank_refund_id: id }),
        ("rejected", _) => {
            let reason = reason.and_then(short_code).unwrap_or("rejected").to_owned();
            Some(BankRefundOutcome::Rejected { reason })
        }
        _ => None,
    }
}

/// Server trouble, an unfinished twin request or throttling may pass; a refusal will not.
fn classify_status(status: StatusCode, code: &str) -> BankError {
    if status.is_redirection() {
        // Never followed, and never taken for a refusal: an earlier attempt of the same key may
        // still be applied (or a 303 may answer an applied request), so the outcome stays
        // unknown and the inquiry and the late-apply bound decide (`app::bank_calls`).
        tracing::error!(
            status = status.as_u16(),
            "the bank answered with a redirect, which is never followed; check BANK_URL"
        );
        return BankError::Transient(format!("http {} redirect_refused", status.as_u16()));
    }
    let text = format!("http {} {code}", status.as_u16());
    let transient = status.is_server_error()
        || matches!(status, StatusCode::REQUEST_TIMEOUT | StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS);
    if transient { BankError::Transient(text) } else { BankError::Permanent(text) }
}

/// A code from the bank is passed on only if it looks like one (`snake_case`, short), so
/// nothing the bank echoes can smuggle data into our records or logs.
fn short_code(code: &str) -> Option<&str> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(code)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ChargeBody<'a> {
    reference: String,
    amount: u64,
    currency: &'a str,
    card_number: &'a str,
    #[serde(rename = "CardCVV")]
    card_cvv: &'a str,
    card_expiry_date: String,
}

impl<'a> ChargeBody<'a> {
    /// A charge's body, and an authorization's (the same fields).
    fn of(req: &'a ChargeRequest) -> Self {
        Self {
            reference: req.payment_id.to_string(),
            amount: req.amount.get(),
            currency: req.currency.as_str(),
            card_number: req.card.number(),
            card_cvv: req.card.cvv(),
            card_expiry_date: req.card.expiry().to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChargeReply {
    #[serde(rename = "ChargeID")]
    charge_id: Option<String>,
    status: String,
    decline_code: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RefundBody<'a> {
    reference: String,
    #[serde(rename = "ChargeID")]
    charge_id: &'a str,
    amount: u64,
    currency: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RefundReply {
    #[serde(rename = "RefundID")]
    refund_id: Option<String>,
    status: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Error")]
    error: EnvelopeError,
}

#[derive(Deserialize)]
struct EnvelopeError {
    #[serde(rename = "Code")]
    code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_that_may_pass_are_transient_and_refusals_permanent() {
        let transient = [500, 502, 503, 504, 408, 409, 429];
        for s in transient {
            let status = StatusCode::from_u16(s).unwrap();
            assert!(matches!(classify_status(status, "x"), BankError::Transient(_)), "{s}");
        }
        for s in [400, 401, 404, 413, 422] {
            let status = StatusCode::from_u16(s).unwrap();
            assert!(matches!(classify_status(status, "x"), BankError::Permanent(_)), "{s}");
        }
        let reused = classify_status(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
        assert_eq!(reused, BankError::Permanent("http 422 idempotency_key_reused".into()));
    }

    #[test]
    fn only_id_like_bank_ids_are_taken() {
        let approved = |id: &str| charge_outcome("approved", Some(id.to_owned()), None);
        assert!(approved("0b6f8c1e-2b7d-4c1e-9a55-0d2f3b4c5d6e").is_some());
        for bad in ["", &"a".repeat(129), "id with spaces", "<script>"] {
            assert_eq!(approved(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_code_like_strings_pass() {
        assert_eq!(short_code("card_declined"), Some("card_declined"));
        assert_eq!(short_code("4000000000000002 declined"), None);
        assert_eq!(short_code(""), None);
        assert_eq!(short_code(&"a".repeat(65)), None);
    }

    #[test]
    fn the_base_url_may_have_a_path_and_must_be_https_but_on_loopback_in_development() {
        let with_path = BankClientConfig { url: "https://h:1/bank".into(), ..Default::default() };
        assert_eq!(HttpBank::new(&with_path).unwrap().charges.as_str(), "https://h:1/bank/charges");
        let dev = BankClientConfig { allow_loopback_http: true, ..Default::default() };
        assert_eq!(HttpBank::new(&dev).unwrap().refunds.as_str(), "http://127.0.0.1:4445/refunds");
        assert!(HttpBank::new(&BankClientConfig::default()).is_err(), "plain http outside development mode");
        for bad in ["127.0.0.1:4445", "ftp://h/", "not a url", "http://bank.example.com/"] {
            let config = BankClientConfig { url: bad.into(), allow_loopback_http: true, ..Default::default() };
            assert!(HttpBank::new(&config).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_redirect_is_never_followed_and_leaves_the_outcome_unknown() {
        for status in [StatusCode::TEMPORARY_REDIRECT, StatusCode::PERMANENT_REDIRECT, StatusCode::SEE_OTHER] {
            assert!(matches!(classify_status(status, "x"), BankError::Transient(c) if c.ends_with("redirect_refused")));
        }
    }
}
