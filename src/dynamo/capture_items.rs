//! A manual-capture payment's authorization and captures, as one map attribute of the payment
//! item (`Authorization`): they change only with the payment, in its versioned write, so they are
//! stored with it (at most `MAX_CAPTURES` captures, far below an item's 400 KB).
use serde::Deserialize;
#[cfg(test)]
use serde::Serialize;

use crate::domain::capture::{Authorization, Capture};
use crate::domain::ids::CaptureId;
use crate::domain::money::Amount;
use crate::domain::reference::Metadata;
use crate::domain::status::CaptureStatus;

/// As read; written by `item_writer`, held to this struct's serde form by its tests.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "PascalCase")]
pub(super) struct AuthorizationItem {
    #[serde(rename = "BankAuthorizationID", default, skip_serializing_if = "Option::is_none")]
    bank_authorization_id: Option<String>,
    authorized_amount: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    captured_amount: u64,
    capturable_left: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancel_requested_at: Option<u64>,
    #[serde(default)]
    captures: Vec<CaptureItem>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(rename_all = "PascalCase")]
struct CaptureItem {
    #[serde(rename = "CaptureID")]
    capture_id: CaptureId,
    amount: Amount,
    status: CaptureStatus,
    final_capture: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(rename = "BankCaptureID", default, skip_serializing_if = "Option::is_none")]
    bank_capture_id: Option<String>,
    created_at: u64,
    updated_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    metadata: Metadata,
}

#[cfg(test)]
impl From<&Authorization> for AuthorizationItem {
    fn from(a: &Authorization) -> Self {
        Self {
            bank_authorization_id: a.bank_authorization_id.clone(),
            authorized_amount: a.authorized_amount,
            expires_at: a.expires_at_ms,
            captured_amount: a.captured_amount,
            capturable_left: a.capturable_left,
            cancel_requested_at: a.cancel_requested_at_ms,
            captures: a.captures.iter().map(CaptureItem::from).collect(),
        }
    }
}

impl From<AuthorizationItem> for Authorization {
    fn from(a: AuthorizationItem) -> Self {
        Self {
            bank_authorization_id: a.bank_authorization_id,
            authorized_amount: a.authorized_amount,
            expires_at_ms: a.expires_at,
            captured_amount: a.captured_amount,
            capturable_left: a.capturable_left,
            cancel_requested_at_ms: a.cancel_requested_at,
            captures: a.captures.into_iter().map(Capture::from).collect(),
        }
    }
}

#[cfg(test)]
impl From<&Capture> for CaptureItem {
    fn from(c: &Capture) -> Self {
        Self {
            capture_id: c.id,
            amount: c.amount,
            status: c.status,
            final_capture: c.final_capture,
            reason: c.reason.clone(),
            bank_capture_id: c.bank_capture_id.clone(),
            created_at: c.created_at_ms,
            updated_at: c.updated_at_ms,
            sent_at: c.sent_at_ms,
            metadata: c.metadata.clone(),
        }
    }
}

impl From<CaptureItem> for Capture {
    fn from(c: CaptureItem) -> Self {
        Self {
            id: c.capture_id,
            amount: c.amount,
            status: c.status,
            final_capture: c.final_capture,
            reason: c.reason,
            bank_capture_id: c.bank_capture_id,
            created_at_ms: c.created_at,
            updated_at_ms: c.updated_at,
            sent_at_ms: c.sent_at,
            metadata: c.metadata,
        }
    }
}
