//! Manual-capture payments against the bank's authorizations, captures and voids: held once,
//! each capture applied once and as recorded, never more captured than authorized, and no money
//! left held once the payment is final.
use std::collections::HashMap;
use std::fmt;

use payment_platform::domain::payment::PaymentView;
use payment_platform::domain::status::{CaptureStatus, PaymentStatus};

use super::{BankLine, Mismatch, Summary};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldMismatch {
    AuthorizedTwice {
        payment: String,
        times: usize,
    },
    /// The bank holds money for a payment that says it was declined or failed.
    AuthorizedNotSucceeded {
        payment: String,
        status: PaymentStatus,
    },
    /// The payment says it was authorized; the bank has no hold of it.
    NotAuthorized {
        payment: String,
    },
    CapturedTwice {
        capture: String,
        times: usize,
    },
    CapturedNotSucceeded {
        capture: String,
        status: CaptureStatus,
    },
    SucceededNotCaptured {
        capture: String,
    },
    CaptureAmountDiffers {
        capture: String,
        platform: u64,
        bank: u64,
    },
    CapturesAboveAuthorization {
        payment: String,
        captured: u64,
        authorized: u64,
    },
    /// The payment is final, yet the bank still holds part of its authorization.
    HeldAfterFinal {
        payment: String,
        held: u64,
    },
}

impl fmt::Display for HoldMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthorizedTwice { payment, times } => write!(f, "authorized_twice payment={payment} times={times}"),
            Self::AuthorizedNotSucceeded { payment, status } => {
                write!(f, "authorized_but_not_succeeded payment={payment} status={status}")
            }
            Self::NotAuthorized { payment } => write!(f, "authorized_but_not_at_the_bank payment={payment}"),
            Self::CapturedTwice { capture, times } => write!(f, "captured_twice capture={capture} times={times}"),
            Self::CapturedNotSucceeded { capture, status } => {
                write!(f, "captured_but_not_succeeded capture={capture} status={status}")
            }
            Self::SucceededNotCaptured { capture } => write!(f, "succeeded_but_not_captured capture={capture}"),
            Self::CaptureAmountDiffers { capture, platform, bank } => {
                write!(f, "capture_amount_differs capture={capture} platform={platform} bank={bank}")
            }
            Self::CapturesAboveAuthorization { payment, captured, authorized } => {
                write!(f, "captures_above_authorization payment={payment} captured={captured} authorized={authorized}")
            }
            Self::HeldAfterFinal { payment, held } => write!(f, "held_after_final payment={payment} held={held}"),
        }
    }
}

/// Compares one manual-capture payment with the bank at `now_ms`; answers what the bank
/// captured of it (what its refunds may give back).
pub fn compare(
    view: &PaymentView,
    by_ref: &HashMap<(&str, &str), Vec<&BankLine>>,
    now_ms: u64,
    summary: &mut Summary,
    found: &mut Vec<Mismatch>,
) -> u64 {
    let p = &view.payment;
    let Some(a) = p.authorization.as_ref() else { return 0 };
    let id = p.id.to_string();
    let mut push = |m| found.push(Mismatch::Hold(m));
    let holds = by_ref.get(&("authorization", id.as_str())).cloned().unwrap_or_default();
    summary.bank_charges += holds.len();
    if holds.len() > 1 {
        push(HoldMismatch::AuthorizedTwice { payment: id.clone(), times: holds.len() });
    }
    let authorized = holds.first().map_or(0, |l| l.amount);
    match (p.status, holds.first()) {
        (PaymentStatus::Pending | PaymentStatus::Processing, _) => summary.in_flight += 1,
        (PaymentStatus::Declined | PaymentStatus::Failed, Some(_)) => {
            push(HoldMismatch::AuthorizedNotSucceeded { payment: id.clone(), status: p.status })
        }
        (_, None) if a.bank_authorization_id.is_some() => push(HoldMismatch::NotAuthorized { payment: id.clone() }),
        _ => {}
    }
    let mut captured = 0;
    let mut closed = by_ref.contains_key(&("void", id.as_str()));
    for c in &a.captures {
        let cid = c.id.to_string();
        let lines = by_ref.get(&("capture", cid.as_str())).cloned().unwrap_or_default();
        captured += lines.iter().map(|l| l.amount).sum::<u64>();
        closed |= lines.iter().any(|l| l.final_capture == Some(true));
        if lines.len() > 1 {
            push(HoldMismatch::CapturedTwice { capture: cid.clone(), times: lines.len() });
        }
        match (c.status, lines.first()) {
            (CaptureStatus::Pending | CaptureStatus::Processing, _) => summary.in_flight += 1,
            (CaptureStatus::Succeeded, None) => push(HoldMismatch::SucceededNotCaptured { capture: cid }),
            (CaptureStatus::Succeeded, Some(l)) if l.amount != c.amount.get() => {
                push(HoldMismatch::CaptureAmountDiffers { capture: cid, platform: c.amount.get(), bank: l.amount })
            }
            (CaptureStatus::Failed, Some(_)) => {
                push(HoldMismatch::CapturedNotSucceeded { capture: cid, status: c.status })
            }
            _ => {}
        }
    }
    if captured > authorized {
        push(HoldMismatch::CapturesAboveAuthorization { payment: id.clone(), captured, authorized });
    }
    let expired = holds.first().and_then(|l| l.expires_at).is_some_and(|at| now_ms >= at);
    let held = authorized.saturating_sub(captured);
    if p.status.is_final() && held > 0 && !closed && !expired {
        push(HoldMismatch::HeldAfterFinal { payment: id, held });
    }
    captured
}
