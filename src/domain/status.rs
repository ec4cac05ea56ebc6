//! States and the moves allowed between them. A final state is never left:
//! every store write names the states it may move from, and this table is their only source.
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    Pending,
    Processing,
    /// A manual-capture payment the bank holds the money of, until captured, voided or expired.
    Authorized,
    Succeeded,
    Declined,
    Failed,
    /// A manual-capture payment ended with nothing captured: canceled, or its authorization
    /// expired.
    Canceled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    Pending,
    Processing,
    Succeeded,
    Failed,
}

/// A capture of a manual-capture payment: the same life as a refund's.
pub type CaptureStatus = RefundStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

macro_rules! status_strings {
    ($ty:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
        }
        impl FromStr for $ty {
            type Err = UnknownStatus;
            fn from_str(s: &str) -> Result<Self, UnknownStatus> {
                match s { $($s => Ok(Self::$variant),)+ other => Err(UnknownStatus(other.to_owned())) }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

status_strings!(PaymentStatus {
    Pending => "PENDING",
    Processing => "PROCESSING",
    Authorized => "AUTHORIZED",
    Succeeded => "SUCCEEDED",
    Declined => "DECLINED",
    Failed => "FAILED",
    Canceled => "CANCELED",
});

status_strings!(RefundStatus {
    Pending => "PENDING",
    Processing => "PROCESSING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
});

impl PaymentStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Declined | Self::Failed | Self::Canceled)
    }

    /// The states a payment may be in for a move to `self` to be allowed.
    /// A worker that crashed mid-charge is replaced by one that picks the PROCESSING payment up
    /// again (the bank's idempotency key makes that safe); that is no move, so it is not here.
    /// A manual-capture payment ends from AUTHORIZED: SUCCEEDED for what was captured, or
    /// CANCELED; one canceled before it was authorized ends CANCELED from PENDING.
    pub fn allowed_from(self) -> &'static [PaymentStatus] {
        use PaymentStatus::*;
        match self {
            Pending => &[],
            Processing => &[Pending],
            Authorized | Declined | Failed => &[Pending, Processing],
            Succeeded | Canceled => &[Pending, Processing, Authorized],
        }
    }
}

impl RefundStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }

    /// As for payments; `PENDING -> FAILED` covers a refund whose payment never succeeded.
    pub fn allowed_from(self) -> &'static [RefundStatus] {
        use RefundStatus::*;
        match self {
            Pending => &[],
            Processing => &[Pending],
            Succeeded => &[Processing],
            Failed => &[Pending, Processing],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYMENTS: [PaymentStatus; 7] = [
        PaymentStatus::Pending,
        PaymentStatus::Processing,
        PaymentStatus::Authorized,
        PaymentStatus::Succeeded,
        PaymentStatus::Declined,
        PaymentStatus::Failed,
        PaymentStatus::Canceled,
    ];

    #[test]
    fn no_payment_state_leaves_a_final_state() {
        for to in PAYMENTS {
            assert!(to.allowed_from().iter().all(|from| !from.is_final()), "{to} from a final");
        }
    }

    #[test]
    fn nothing_moves_back_to_pending() {
        assert!(PaymentStatus::Pending.allowed_from().is_empty());
        assert!(RefundStatus::Pending.allowed_from().is_empty());
    }

    #[test]
    fn refunds_succeed_only_after_the_bank_was_asked() {
        assert_eq!(RefundStatus::Succeeded.allowed_from(), &[RefundStatus::Processing]);
        for to in [RefundStatus::Succeeded, RefundStatus::Failed] {
            assert!(to.allowed_from().iter().all(|from| !from.is_final()));
        }
    }

    #[test]
    fn an_authorization_is_not_final_and_ends_only_captured_or_canceled() {
        assert!(!PaymentStatus::Authorized.is_final() && PaymentStatus::Canceled.is_final());
        for to in PAYMENTS {
            let from_authorized = to.allowed_from().contains(&PaymentStatus::Authorized);
            assert_eq!(from_authorized, matches!(to, PaymentStatus::Succeeded | PaymentStatus::Canceled), "{to}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in PAYMENTS {
            assert_eq!(s.as_str().parse::<PaymentStatus>(), Ok(s));
        }
        assert!("pending".parse::<PaymentStatus>().is_err());
    }
}
