//! The transitions of a manual-capture payment (`change::Transition`), applied to the payment as
//! read: its authorization, its captures, its cancel, its end. Each gives the event type it
//! records, or why it does not apply; `PaymentView::apply` bumps the version and builds the event.
use super::capture::{Capture, CaptureOutcome, MAX_CAPTURES, NewCapture};
use super::change::{Refused, move_payment};
use super::events::EventType;
use super::ids::CaptureId;
use super::payment::{PaymentOutcome, PaymentView};
use super::status::{CaptureStatus, PaymentStatus};

/// `PaymentSettled(Authorized | Ended)`.
pub(super) fn settle(view: &mut PaymentView, outcome: PaymentOutcome, now_ms: u64) -> Result<EventType, Refused> {
    let amount = view.payment.amount.get();
    let Some(auth) = view.payment.authorization.as_ref() else { return Err(Refused::WrongState) };
    match outcome {
        PaymentOutcome::Authorized { bank_authorization_id, expires_at_ms } => {
            move_payment(view, PaymentStatus::Authorized, now_ms)?;
            let p = &mut view.payment;
            p.sealed_card = None;
            let a = p.authorization.get_or_insert_with(Default::default);
            a.bank_authorization_id = Some(bank_authorization_id);
            a.authorized_amount = amount;
            a.capturable_left = amount;
            a.expires_at_ms = Some(expires_at_ms);
            Ok(EventType::PaymentAuthorized)
        }
        PaymentOutcome::Ended { reason } => {
            // A capture in flight is carried to its end first: the payment's outcome depends on it.
            // Never while PROCESSING: an authorization may be on its way, and must be settled (and
            // voided) first; from PENDING only before anything was sent.
            let sent = view.payment.bank_attempts.is_some();
            let open = match view.payment.status {
                PaymentStatus::Authorized => true,
                PaymentStatus::Pending => !sent,
                _ => false,
            };
            if auth.capture_in_flight() || !open {
                return Err(Refused::WrongState);
            }
            let captured = auth.captured_amount > 0;
            let to = if captured { PaymentStatus::Succeeded } else { PaymentStatus::Canceled };
            move_payment(view, to, now_ms)?;
            let p = &mut view.payment;
            p.sealed_card = None;
            if !captured {
                p.reason = reason;
            }
            if let Some(a) = p.authorization.as_mut() {
                a.capturable_left = 0;
            }
            Ok(if captured { EventType::PaymentSucceeded } else { EventType::PaymentCanceled })
        }
        PaymentOutcome::Succeeded { .. } | PaymentOutcome::Declined { .. } | PaymentOutcome::Failed { .. } => {
            Err(Refused::WrongState)
        }
    }
}

/// `CaptureCreated`: reserves its amount on the authorization in the same write.
pub(super) fn create(view: &mut PaymentView, new: NewCapture, now_ms: u64) -> Result<EventType, Refused> {
    let p = &mut view.payment;
    if p.merchant_id != new.merchant_id {
        return Err(Refused::NotCapturable);
    }
    let status = p.status;
    let Some(a) = p.authorization.as_mut() else { return Err(Refused::NotCapturable) };
    if a.capture(new.id).is_some() {
        return Err(Refused::WrongState);
    }
    // Past its expiry an authorization takes no capture, whether or not the payment has ended yet.
    if a.bank_authorization_id.is_some() && a.expired_at(now_ms) && a.cancel_requested_at_ms.is_none() {
        return Err(Refused::AuthorizationExpired);
    }
    if status != PaymentStatus::Authorized || a.cancel_requested_at_ms.is_some() || a.closed_by_final_capture() {
        return Err(Refused::NotCapturable);
    }
    if a.expired_at(now_ms) {
        return Err(Refused::AuthorizationExpired);
    }
    if a.captures.len() >= MAX_CAPTURES {
        return Err(Refused::TooManyCaptures);
    }
    let amount = match new.amount {
        Some(amount) => amount,
        None => {
            super::money::Amount::parse(i128::from(a.capturable_left)).map_err(|_| Refused::InsufficientCapturable)?
        }
    };
    a.capturable_left = a.capturable_left.checked_sub(amount.get()).ok_or(Refused::InsufficientCapturable)?;
    a.captures.push(Capture {
        id: new.id,
        amount,
        status: CaptureStatus::Pending,
        final_capture: new.final_capture,
        reason: None,
        bank_capture_id: None,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
        sent_at_ms: None,
        metadata: new.metadata,
    });
    p.updated_at_ms = now_ms;
    Ok(EventType::CaptureCreated)
}

/// `CaptureProcessing`: the payment-worker sends it right after this write (its one send).
pub(super) fn processing(view: &mut PaymentView, id: CaptureId, now_ms: u64) -> Result<EventType, Refused> {
    let c = move_capture(view, id, CaptureStatus::Processing, now_ms)?;
    c.sent_at_ms = Some(now_ms);
    Ok(EventType::CaptureProcessing)
}

/// `CaptureSettled`: a success moves its amount to what may be refunded; a failure gives it
/// back to what may be captured.
pub(super) fn settled(
    view: &mut PaymentView,
    id: CaptureId,
    outcome: CaptureOutcome,
    now_ms: u64,
) -> Result<EventType, Refused> {
    let to = match outcome {
        CaptureOutcome::Succeeded { .. } => CaptureStatus::Succeeded,
        CaptureOutcome::Failed { .. } => CaptureStatus::Failed,
    };
    let c = move_capture(view, id, to, now_ms)?;
    let amount = c.amount.get();
    let kind = match outcome {
        CaptureOutcome::Succeeded { bank_capture_id } => {
            c.bank_capture_id = Some(bank_capture_id);
            EventType::CaptureSucceeded
        }
        CaptureOutcome::Failed { reason } => {
            c.reason = Some(reason);
            EventType::CaptureFailed
        }
    };
    let p = &mut view.payment;
    let a = p.authorization.as_mut().ok_or(Refused::UnknownCapture)?;
    if kind == EventType::CaptureSucceeded {
        a.captured_amount += amount;
        p.refundable_left += amount;
    } else if !a.expired_at(now_ms) && p.status == PaymentStatus::Authorized {
        a.capturable_left += amount;
    }
    Ok(kind)
}

/// `CancelRequested`: allowed while PENDING, PROCESSING or AUTHORIZED with no capture in flight.
pub(super) fn cancel_requested(view: &mut PaymentView, now_ms: u64) -> Result<EventType, Refused> {
    let p = &mut view.payment;
    let open = matches!(p.status, PaymentStatus::Pending | PaymentStatus::Processing | PaymentStatus::Authorized);
    let Some(a) = p.authorization.as_mut().filter(|_| open) else { return Err(Refused::NotCancelable) };
    if a.capture_in_flight() {
        return Err(Refused::NotCancelable);
    }
    if a.cancel_requested_at_ms.is_some() {
        return Err(Refused::WrongState);
    }
    a.cancel_requested_at_ms = Some(now_ms);
    p.updated_at_ms = now_ms;
    Ok(EventType::PaymentCancelRequested)
}

fn move_capture(
    view: &mut PaymentView,
    id: CaptureId,
    to: CaptureStatus,
    now_ms: u64,
) -> Result<&mut Capture, Refused> {
    let a = view.payment.authorization.as_mut().ok_or(Refused::UnknownCapture)?;
    let c = a.captures.iter_mut().find(|c| c.id == id).ok_or(Refused::UnknownCapture)?;
    if !to.allowed_from().contains(&c.status) || c.status == to {
        return Err(Refused::WrongState);
    }
    c.status = to;
    c.updated_at_ms = now_ms;
    Ok(c)
}

#[cfg(test)]
#[path = "capture_tests.rs"]
mod tests;
