//! Manual capture: a payment authorized at checkout, captured when the order ships (in one or
//! more parts, the last one marked final), or canceled for what is not shipped. Everything about
//! it lives in the payment's `Authorization`, written with the payment in its one versioned
//! write, so captures never add up to more than was authorized, however many are asked at once.
use std::fmt;
use std::str::FromStr;

use super::ids::{CaptureId, MerchantId};
use super::money::Amount;
use super::reference::Metadata;
use super::status::CaptureStatus;

/// Captures one payment may have: each event carries its payment with every capture.
pub const MAX_CAPTURES: usize = 50;

/// `CaptureMethod` of `POST /payments`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CaptureMethod {
    /// Charged at once (the default).
    #[default]
    Automatic,
    /// Authorized at once, captured on request.
    Manual,
}

impl CaptureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::Manual => "manual",
        }
    }
}

impl FromStr for CaptureMethod {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "automatic" => Ok(Self::Automatic),
            "manual" => Ok(Self::Manual),
            _ => Err(()),
        }
    }
}

impl fmt::Display for CaptureMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A manual-capture payment's authorization and what became of it. Present from creation on
/// (empty until the bank authorizes), so a payment is manual exactly when it has one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authorization {
    /// The bank's id of the hold, once authorized.
    pub bank_authorization_id: Option<String>,
    /// What the bank holds: the payment's amount once AUTHORIZED, 0 before.
    pub authorized_amount: u64,
    /// Until when the bank holds it (ms since the epoch), once authorized.
    pub expires_at_ms: Option<u64>,
    /// The sum of SUCCEEDED captures.
    pub captured_amount: u64,
    /// The authorized amount less every capture not FAILED: what a new capture may take.
    pub capturable_left: u64,
    /// When the merchant asked to cancel: carried out once nothing is in flight.
    pub cancel_requested_at_ms: Option<u64>,
    /// Oldest first.
    pub captures: Vec<Capture>,
}

impl Authorization {
    /// A capture PENDING or PROCESSING.
    pub fn capture_in_flight(&self) -> bool {
        self.captures.iter().any(|c| !c.status.is_final())
    }

    /// A final capture that has not failed: nothing more may be captured.
    pub fn closed_by_final_capture(&self) -> bool {
        self.captures.iter().any(|c| c.final_capture && c.status != CaptureStatus::Failed)
    }

    /// Whether the hold has run out at `now_ms`.
    pub fn expired_at(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| now_ms >= at)
    }

    /// Whether nothing is left to do but end the payment: a final capture succeeded, or
    /// everything authorized was captured.
    pub fn fully_captured(&self) -> bool {
        let final_done = self.captures.iter().any(|c| c.final_capture && c.status == CaptureStatus::Succeeded);
        (final_done || (self.authorized_amount > 0 && self.captured_amount >= self.authorized_amount))
            && !self.capture_in_flight()
    }

    /// Nothing under way and nothing to end: an AUTHORIZED payment so waits on its merchant (to
    /// capture or cancel), not on a worker, until its expiry.
    pub fn waits_on_merchant(&self) -> bool {
        !self.capture_in_flight() && self.cancel_requested_at_ms.is_none() && !self.fully_captured()
    }

    pub fn capture(&self, id: CaptureId) -> Option<&Capture> {
        self.captures.iter().find(|c| c.id == id)
    }
}

/// One capture of a manual-capture payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    pub id: CaptureId,
    pub amount: Amount,
    pub status: CaptureStatus,
    /// Nothing more will be captured after it; the bank releases the rest.
    pub final_capture: bool,
    /// Why it failed, when it did.
    pub reason: Option<String>,
    pub bank_capture_id: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// When it was sent to the bank. A capture is sent once (`app::settle::capture`): an unknown
    /// outcome is asked about, never sent blindly again, so this one time is all the late-apply
    /// bound needs.
    pub sent_at_ms: Option<u64>,
    pub metadata: Metadata,
}

/// What a merchant asks to capture, validated: `amount` `None` is all that is capturable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCapture {
    pub id: CaptureId,
    pub merchant_id: MerchantId,
    pub amount: Option<Amount>,
    pub final_capture: bool,
    pub metadata: Metadata,
}

/// How a capture ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureOutcome {
    Succeeded { bank_capture_id: String },
    Failed { reason: String },
}

/// The reason of a payment whose authorization ran out (and of a capture it ended).
pub const AUTHORIZATION_EXPIRED: &str = "authorization_expired";
