//! The event log. Every change of a payment or of one of its refunds is an event, stored in the
//! same write as the change (see `change.rs`); the payment's `Version` counts them, so event `n`
//! of a payment is the one that made its version `n`.
use std::fmt;
use std::str::FromStr;

use super::ids::{CaptureId, MerchantId, PaymentId, RefundId};
use super::payment::PaymentView;

macro_rules! event_types {
    ($($variant:ident => $s:literal),+ $(,)?) => {
        /// What changed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventType { $($variant),+ }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(Self::$variant),+];

            /// Whether it records a payment's final state.
            pub fn settles_payment(self) -> bool {
                matches!(
                    self,
                    Self::PaymentSucceeded | Self::PaymentDeclined | Self::PaymentFailed | Self::PaymentCanceled
                )
            }

            /// Whether the change puts its payment at the back of the repair index (it moved to
            /// a state a worker must carry on from, or asked a worker for something).
            pub fn touches_repair(self) -> bool {
                matches!(
                    self,
                    Self::PaymentProcessing
                        | Self::PaymentAuthorized
                        | Self::PaymentCancelRequested
                        | Self::CaptureCreated
                        | Self::CaptureProcessing
                        | Self::CaptureSucceeded
                        | Self::CaptureFailed
                )
            }

            /// Whether the payment's sealed card goes with this change: at its final state, or
            /// once authorized (captures need no card).
            pub fn erases_card(self) -> bool {
                self.settles_payment() || self == Self::PaymentAuthorized
            }

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
        }

        impl FromStr for EventType {
            type Err = UnknownEventType;
            fn from_str(s: &str) -> Result<Self, UnknownEventType> {
                match s { $($s => Ok(Self::$variant),)+ _ => Err(UnknownEventType) }
            }
        }
    };
}

event_types! {
    PaymentCreated => "payment.created",
    PaymentProcessing => "payment.processing",
    PaymentSucceeded => "payment.succeeded",
    PaymentDeclined => "payment.declined",
    PaymentFailed => "payment.failed",
    RefundCreated => "refund.created",
    RefundProcessing => "refund.processing",
    RefundSucceeded => "refund.succeeded",
    RefundFailed => "refund.failed",
    PaymentAuthorized => "payment.authorized",
    PaymentCancelRequested => "payment.cancel_requested",
    PaymentCanceled => "payment.canceled",
    CaptureCreated => "capture.created",
    CaptureProcessing => "capture.processing",
    CaptureSucceeded => "capture.succeeded",
    CaptureFailed => "capture.failed",
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type")]
pub struct UnknownEventType;

/// Who made a change: the merchant through the API, or one of the workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Merchant(MerchantId),
    PaymentWorker,
    RefundWorker,
    /// The repair path, when it changes a record itself rather than handing it to a worker.
    Repair,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Merchant(m) => write!(f, "merchant:{m}"),
            Self::PaymentWorker => f.write_str("payment-worker"),
            Self::RefundWorker => f.write_str("refund-worker"),
            Self::Repair => f.write_str("repair"),
        }
    }
}

impl FromStr for Actor {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, UnknownEventType> {
        match s {
            "payment-worker" => Ok(Self::PaymentWorker),
            "refund-worker" => Ok(Self::RefundWorker),
            "repair" => Ok(Self::Repair),
            other => other
                .strip_prefix("merchant:")
                .and_then(|m| MerchantId::parse(m).ok())
                .map(Self::Merchant)
                .ok_or(UnknownEventType),
        }
    }
}

/// Why a change is being made: who asks, under which trace, and whether the API request that
/// asked carried an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub actor: Actor,
    pub trace_id: Option<String>,
    pub idempotency_key: bool,
}

impl Cause {
    pub fn new(actor: Actor, trace_id: Option<String>) -> Self {
        Self { actor, trace_id, idempotency_key: false }
    }
}

/// An event's id: its payment and the version it gave the payment, so the id alone finds it
/// (`evt_<payment id, 32 hex>_<version>`). The same on every webhook retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId {
    pub payment_id: PaymentId,
    pub version: u64,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "evt_{}_{}", self.payment_id.simple(), self.version)
    }
}

impl EventId {
    /// Accepts only what `Display` writes: anything else names no event.
    pub fn parse(s: &str) -> Option<Self> {
        let (payment, version) = s.strip_prefix("evt_")?.split_once('_')?;
        if payment.len() != 32 || !payment.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        if version.is_empty() || version.len() > 19 || version.starts_with('0') {
            return None;
        }
        if !version.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self { payment_id: PaymentId::parse(payment).ok()?, version: version.parse().ok()? })
    }
}

/// One change, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    pub version: u64,
    pub at_ms: u64,
    pub cause: Cause,
    /// The refund that changed, for `refund.*` events.
    pub refund_id: Option<RefundId>,
    /// The capture that changed, for `capture.*` events.
    pub capture_id: Option<CaptureId>,
    /// The payment with its refunds right after the change; never card data (the sealed card
    /// is left out when the event is built).
    pub data: PaymentView,
}

impl Event {
    pub fn id(&self) -> EventId {
        EventId { payment_id: self.data.payment.id, version: self.version }
    }

    pub fn merchant_id(&self) -> &MerchantId {
        &self.data.payment.merchant_id
    }
}

/// One page of events; the order is the query's (oldest first for a payment's audit trail,
/// newest first for a merchant's feed).
#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_round_trip_and_nothing_else_parses() {
        let id = EventId { payment_id: PaymentId::new(), version: 12 };
        assert_eq!(EventId::parse(&id.to_string()), Some(id));
        let good = id.to_string();
        for bad in [
            "",
            "evt_",
            "evt_x_1",
            &good.replace("evt_", "evx_"),
            &format!("{good}0x"),
            &good.replace("_12", "_012"),
            &good.replace("_12", "_"),
            &good.to_uppercase(),
            &good.replace("_12", "_99999999999999999999"),
        ] {
            assert_eq!(EventId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn types_and_actors_round_trip_through_their_names() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(*t));
        }
        assert!("payment.refunded".parse::<EventType>().is_err());
        let m = MerchantId::parse("test@merchant").unwrap();
        for a in [Actor::Merchant(m), Actor::PaymentWorker, Actor::RefundWorker, Actor::Repair] {
            assert_eq!(a.to_string().parse::<Actor>(), Ok(a));
        }
        assert!("merchant:".parse::<Actor>().is_err());
    }
}
