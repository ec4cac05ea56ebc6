//! The API as a client sees it: a token, then `POST /payments` and `PATCH .../refund`, each
//! with a fresh `Idempotency-Key`, over one shared connection pool.
use std::time::Duration;

use serde_json::{Value, json};

use super::error::BenchError;

pub const CARD: &str = "4242424242424242";
/// The bench card's CVV (a number in the JSON body, as clients send it) and expiry.
pub const CARD_CVV: u16 = 123;
pub const CARD_EXPIRY: &str = "12/39";
pub const PRICE: u64 = 1999;

/// Wall-clock milliseconds (comparable with the records' `UpdatedAt`).
pub fn now_ms() -> u64 {
    payment_platform::util::now_ms()
}

/// One shared HTTP client for the whole run (keep-alive, no pool limit).
pub fn http_client() -> Result<reqwest::Client, BenchError> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()?)
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// An accepted payment: its id and when its POST was sent (wall clock, ms).
#[derive(Clone, Debug)]
pub struct Accepted {
    pub id: String,
    pub sent_ms: u64,
}

/// An accepted refund: the ids and when its PATCH was sent.
#[derive(Clone, Debug)]
pub struct AcceptedRefund {
    pub payment_id: String,
    pub refund_id: String,
    pub sent_ms: u64,
}

/// The customer of the bench's `i`th payment: a thousand of them, in turn.
pub fn customer_id(i: usize) -> String {
    format!("bench-{}", i % 1000)
}

fn payment_body(i: usize) -> Value {
    json!({
        "CustomerID": customer_id(i), "CustomerName": "Bench Customer",
        "CardNumber": CARD, "CardCVV": CARD_CVV, "CardExpiryDate": CARD_EXPIRY, "Price": PRICE, "Currency": "EUR"
    })
}

fn status_error(what: &str, status: reqwest::StatusCode) -> String {
    format!("{what} HTTP {}", status.as_u16())
}

fn send_error(what: &str, e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    };
    format!("{what} {kind}")
}

impl Api {
    /// `GET /token` for the default merchant.
    pub async fn connect(http: reqwest::Client, base: String) -> Result<Self, BenchError> {
        let resp = http.get(format!("{base}/token")).send().await?.error_for_status()?;
        let body: Value = resp.json().await?;
        let token = body["AuthenticationToken"]
            .as_str()
            .ok_or_else(|| BenchError::Unexpected("GET /token answered without AuthenticationToken".into()))?
            .to_owned();
        Ok(Self { http, base, token })
    }

    /// Registers `url` as a webhook endpoint for `types`.
    pub async fn register_endpoint(&self, url: &str, types: &[&str]) -> Result<(), BenchError> {
        self.http
            .post(format!("{}/webhook-endpoints", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "Url": url, "EventTypes": types }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// `POST /payments`; `Err` carries the kind of failure (for the error counts).
    pub async fn create(&self, i: usize) -> Result<Accepted, String> {
        self.post_payment(&payment_body(i)).await
    }

    /// `POST /payments` with `CaptureMethod: manual`: authorized, not charged.
    pub async fn create_manual(&self, i: usize) -> Result<Accepted, String> {
        let mut body = payment_body(i);
        body["CaptureMethod"] = json!("manual");
        self.post_payment(&body).await
    }

    /// `POST /payments` of `body`: the accepted payment, timed from its sending.
    async fn post_payment(&self, body: &Value) -> Result<Accepted, String> {
        let sent_ms = now_ms();
        let v = self.accepted("POST", self.http.post(format!("{}/payments", self.base)), body).await?;
        let id = v["paymentID"].as_str().ok_or("POST no paymentID")?.to_owned();
        Ok(Accepted { id, sent_ms })
    }

    /// `POST /payments/{id}/capture` of all that is left, final.
    pub async fn capture(&self, payment_id: &str) -> Result<(), String> {
        let req = self.http.post(format!("{}/payments/{payment_id}/capture", self.base));
        self.accepted("POST capture", req, &json!({})).await.map(|_| ())
    }

    /// `PATCH /payments/{id}/refund` of the whole amount.
    pub async fn refund(&self, payment_id: &str) -> Result<AcceptedRefund, String> {
        let sent_ms = now_ms();
        let req = self.http.patch(format!("{}/payments/{payment_id}/refund", self.base));
        let v = self.accepted("PATCH", req, &json!({ "Amount": PRICE })).await?;
        let refund_id = v["RefundID"].as_str().ok_or("PATCH no RefundID")?.to_owned();
        Ok(AcceptedRefund { payment_id: payment_id.to_owned(), refund_id, sent_ms })
    }

    /// `GET /status`: the API's HTTP stack and nothing behind it.
    pub async fn status(&self) -> Result<(), String> {
        let resp = self.http.get(format!("{}/status", self.base)).send().await.map_err(|e| send_error("GET", &e))?;
        let status = resp.status();
        resp.bytes().await.map_err(|e| send_error("GET body", &e))?;
        if status != reqwest::StatusCode::OK {
            return Err(status_error("GET", status));
        }
        Ok(())
    }

    /// Sends `req` with the token, a fresh `Idempotency-Key` and `body`; the 202's JSON body, or
    /// the kind of failure, named after `what` (the method).
    async fn accepted(&self, what: &str, req: reqwest::RequestBuilder, body: &Value) -> Result<Value, String> {
        let resp = req
            .bearer_auth(&self.token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(body)
            .send()
            .await
            .map_err(|e| send_error(what, &e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| send_error(&format!("{what} body"), &e))?;
        if status != reqwest::StatusCode::ACCEPTED {
            return Err(status_error(what, status));
        }
        serde_json::from_slice(&bytes).map_err(|_| format!("{what} bad body"))
    }
}
