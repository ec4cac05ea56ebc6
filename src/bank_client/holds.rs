//! Authorizations, captures and voids over HTTP (`POST /authorizations`, `/captures`, `/voids`,
//! and the inquiries by reference), classified like charges and refunds.
use serde::{Deserialize, Serialize};

use super::{Applied, ChargeBody, HttpBank, bank_id, short_code};
use crate::domain::bank::{AuthorizationOutcome, BankCaptureOutcome, BankError, CaptureRequest, ChargeRequest};
use crate::domain::bank::{VoidOutcome, VoidRequest};
use crate::domain::ids::{CaptureId, PaymentId};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthorizationReply {
    #[serde(rename = "AuthorizationID")]
    authorization_id: Option<String>,
    status: String,
    decline_code: Option<String>,
    expires_at: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CaptureBody<'a> {
    reference: String,
    #[serde(rename = "AuthorizationID")]
    authorization_id: &'a str,
    amount: u64,
    currency: &'a str,
    r#final: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CaptureReply {
    #[serde(rename = "CaptureID")]
    capture_id: Option<String>,
    status: String,
    reason: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VoidBody<'a> {
    reference: String,
    #[serde(rename = "AuthorizationID")]
    authorization_id: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VoidReply {
    status: String,
    reason: Option<String>,
    released: Option<u64>,
}

fn unexpected() -> BankError {
    BankError::Transient("unexpected_answer".into())
}

impl HttpBank {
    pub(super) async fn authorize_card(&self, req: &ChargeRequest) -> Result<AuthorizationOutcome, BankError> {
        let body = ChargeBody::of(req);
        let reply: AuthorizationReply =
            self.post("authorization", &self.authorizations, &req.authorization_key(), &body).await?;
        authorization_outcome(&reply.status, reply.authorization_id, reply.expires_at, reply.decline_code.as_deref())
            .ok_or_else(unexpected)
    }

    pub(super) async fn authorizations_of(&self, payment: PaymentId) -> Result<Vec<AuthorizationOutcome>, BankError> {
        let lines = self.inquire("authorization_inquiry", &self.authorizations, &payment.to_string()).await?;
        let outcomes = lines.into_iter().map(|l: Applied| {
            authorization_outcome(&l.status, l.authorization_id, l.expires_at, l.decline_code.as_deref())
        });
        outcomes.collect::<Option<Vec<_>>>().ok_or_else(unexpected)
    }

    pub(super) async fn capture_held(&self, req: &CaptureRequest) -> Result<BankCaptureOutcome, BankError> {
        let body = CaptureBody {
            reference: req.capture_id.to_string(),
            authorization_id: &req.bank_authorization_id,
            amount: req.amount.get(),
            currency: req.currency.as_str(),
            r#final: req.final_capture,
        };
        let reply: CaptureReply = self.post("capture", &self.captures, &req.idempotency_key(), &body).await?;
        capture_outcome(&reply.status, reply.capture_id, reply.reason.as_deref()).ok_or_else(unexpected)
    }

    pub(super) async fn captures_of(&self, capture: CaptureId) -> Result<Vec<BankCaptureOutcome>, BankError> {
        let lines = self.inquire("capture_inquiry", &self.captures, &capture.to_string()).await?;
        let outcomes = lines.into_iter().map(|l| capture_outcome(&l.status, l.capture_id, l.reason.as_deref()));
        outcomes.collect::<Option<Vec<_>>>().ok_or_else(unexpected)
    }

    pub(super) async fn void_held(&self, req: &VoidRequest) -> Result<VoidOutcome, BankError> {
        let body = VoidBody { reference: req.payment_id.to_string(), authorization_id: &req.bank_authorization_id };
        let reply: VoidReply = self.post("void", &self.voids, &req.idempotency_key(), &body).await?;
        match reply.status.as_str() {
            "succeeded" => Ok(VoidOutcome::Released { amount: reply.released.unwrap_or(0) }),
            "rejected" => {
                let reason = reply.reason.as_deref().and_then(short_code).unwrap_or("rejected").to_owned();
                Ok(VoidOutcome::Rejected { reason })
            }
            _ => Err(unexpected()),
        }
    }
}

fn authorization_outcome(
    status: &str,
    id: Option<String>,
    expires_at: Option<u64>,
    decline_code: Option<&str>,
) -> Option<AuthorizationOutcome> {
    match (status, id, expires_at) {
        ("approved", Some(id), Some(expires_at_ms)) if bank_id(&id) => {
            Some(AuthorizationOutcome::Approved { bank_authorization_id: id, expires_at_ms })
        }
        ("declined", _, _) => {
            let reason = decline_code.and_then(short_code).unwrap_or("declined").to_owned();
            Some(AuthorizationOutcome::Declined { reason })
        }
        _ => None,
    }
}

fn capture_outcome(status: &str, id: Option<String>, reason: Option<&str>) -> Option<BankCaptureOutcome> {
    match (status, id) {
        ("succeeded", Some(id)) if bank_id(&id) => Some(BankCaptureOutcome::Succeeded { bank_capture_id: id }),
        ("rejected", _) => {
            let reason = reason.and_then(short_code).unwrap_or("rejected").to_owned();
            Some(BankCaptureOutcome::Rejected { reason })
        }
        _ => None,
    }
}
