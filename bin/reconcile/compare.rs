//! The comparison itself: the platform's payments and refunds against the bank's lines, one
//! mismatch per thing that does not add up. Pure, so every rule has a unit test.
use std::collections::{HashMap, HashSet};
use std::fmt;

use payment_platform::domain::payment::PaymentView;
use payment_platform::domain::status::{PaymentStatus, RefundStatus};
use serde::Deserialize;

#[path = "holds.rs"]
mod holds;

/// One line of the bank's books (the simulator's `GET /ledger`; an acquirer's settlement file).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BankLine {
    /// `charge`, `refund`, `authorization`, `capture` or `void`.
    pub kind: String,
    /// The merchant's reference: the payment id of a charge, an authorization or a void, the
    /// refund id of a refund, the capture id of a capture.
    pub reference: String,
    pub amount: u64,
    /// `approved` | `declined` for charges and authorizations, `succeeded` | `rejected` for the rest.
    pub outcome: String,
    #[serde(default)]
    pub applied_at: u64,
    /// A capture's `Final`.
    #[serde(default)]
    pub final_capture: Option<bool>,
    /// Until when an authorization holds its amount.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

impl BankLine {
    fn moved_money(&self) -> bool {
        matches!(self.outcome.as_str(), "approved" | "succeeded")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    ChargedTwice {
        payment: String,
        times: usize,
    },
    ChargedNotSucceeded {
        payment: String,
        status: PaymentStatus,
    },
    SucceededNotCharged {
        payment: String,
    },
    ChargeAmountDiffers {
        payment: String,
        platform: u64,
        bank: u64,
    },
    RefundedTwice {
        refund: String,
        times: usize,
    },
    RefundedNotSucceeded {
        refund: String,
        status: RefundStatus,
    },
    SucceededNotRefunded {
        refund: String,
    },
    RefundAmountDiffers {
        refund: String,
        platform: u64,
        bank: u64,
    },
    RefundsAboveCharge {
        payment: String,
        refunded: u64,
        charged: u64,
    },
    UnknownReference {
        kind: String,
        reference: String,
    },
    /// Manual capture (`holds.rs`).
    Hold(holds::HoldMismatch),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChargedTwice { payment, times } => write!(f, "charged_twice payment={payment} charges={times}"),
            Self::ChargedNotSucceeded { payment, status } => {
                write!(f, "charged_but_not_succeeded payment={payment} status={status}")
            }
            Self::SucceededNotCharged { payment } => write!(f, "succeeded_but_not_charged payment={payment}"),
            Self::ChargeAmountDiffers { payment, platform, bank } => {
                write!(f, "charge_amount_differs payment={payment} platform={platform} bank={bank}")
            }
            Self::RefundedTwice { refund, times } => write!(f, "refunded_twice refund={refund} refunds={times}"),
            Self::RefundedNotSucceeded { refund, status } => {
                write!(f, "refunded_but_not_succeeded refund={refund} status={status}")
            }
            Self::SucceededNotRefunded { refund } => write!(f, "succeeded_but_not_refunded refund={refund}"),
            Self::RefundAmountDiffers { refund, platform, bank } => {
                write!(f, "refund_amount_differs refund={refund} platform={platform} bank={bank}")
            }
            Self::RefundsAboveCharge { payment, refunded, charged } => {
                write!(f, "refunds_above_charge payment={payment} refunded={refunded} charged={charged}")
            }
            Self::UnknownReference { kind, reference } => {
                write!(f, "unknown_reference kind={kind} reference={reference}")
            }
            Self::Hold(m) => m.fmt(f),
        }
    }
}

/// What was compared.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub payments: usize,
    pub refunds: usize,
    pub bank_charges: usize,
    pub bank_refunds: usize,
    /// Records not final yet: neither matched nor mismatched (run again once they settle).
    pub in_flight: usize,
}

/// Compares `platform` (payments created in the range, with their refunds) with the bank's
/// `lines`; a money-moving line applied in `range` under a reference the platform does not know
/// (neither in `platform` nor in `elsewhere`, its records outside the range) is a mismatch too.
pub fn reconcile(
    platform: &[PaymentView],
    elsewhere: &HashSet<(String, String)>,
    lines: &[BankLine],
    range: (u64, u64),
) -> (Summary, Vec<Mismatch>) {
    let mut by_ref: HashMap<(&str, &str), Vec<&BankLine>> = HashMap::new();
    for line in lines.iter().filter(|l| l.moved_money()) {
        by_ref.entry((line.kind.as_str(), line.reference.as_str())).or_default().push(line);
    }
    let mut summary = Summary { payments: platform.len(), ..Summary::default() };
    let mut found = Vec::new();
    let mut known: HashSet<(String, String)> = HashSet::new();
    for view in platform {
        let p = &view.payment;
        let id = p.id.to_string();
        if p.authorization.is_some() {
            let charged = holds::compare(view, &by_ref, range.1, &mut summary, &mut found);
            for kind in ["authorization", "void"] {
                known.insert((kind.to_owned(), id.clone()));
            }
            for c in p.authorization.iter().flat_map(|a| &a.captures) {
                known.insert(("capture".to_owned(), c.id.to_string()));
            }
            refunds(view, &by_ref, charged, &mut summary, &mut found, &mut known);
            continue;
        }
        let charges = by_ref.get(&("charge", id.as_str())).cloned().unwrap_or_default();
        summary.bank_charges += charges.len();
        let charged: u64 = charges.iter().map(|l| l.amount).sum();
        if charges.len() > 1 {
            found.push(Mismatch::ChargedTwice { payment: id.clone(), times: charges.len() });
        }
        match (p.status, charges.first()) {
            (PaymentStatus::Pending | PaymentStatus::Processing, _) => summary.in_flight += 1,
            (PaymentStatus::Succeeded, None) => found.push(Mismatch::SucceededNotCharged { payment: id.clone() }),
            (PaymentStatus::Succeeded, Some(line)) if line.amount != p.amount.get() => {
                found.push(Mismatch::ChargeAmountDiffers {
                    payment: id.clone(),
                    platform: p.amount.get(),
                    bank: line.amount,
                })
            }
            (PaymentStatus::Declined | PaymentStatus::Failed, Some(_)) => {
                found.push(Mismatch::ChargedNotSucceeded { payment: id.clone(), status: p.status })
            }
            _ => {}
        }
        refunds(view, &by_ref, charged, &mut summary, &mut found, &mut known);
        known.insert(("charge".to_owned(), id));
    }
    for line in lines.iter().filter(|l| l.moved_money() && (range.0..=range.1).contains(&l.applied_at)) {
        let key = (line.kind.clone(), line.reference.clone());
        if !known.contains(&key) && !elsewhere.contains(&key) {
            found.push(Mismatch::UnknownReference { kind: line.kind.clone(), reference: line.reference.clone() });
        }
    }
    (summary, found)
}

/// A payment's refunds against the bank's refund lines, and all of them against what it was
/// `charged` (or, with manual capture, what was captured).
fn refunds(
    view: &PaymentView,
    by_ref: &HashMap<(&str, &str), Vec<&BankLine>>,
    charged: u64,
    summary: &mut Summary,
    found: &mut Vec<Mismatch>,
    known: &mut HashSet<(String, String)>,
) {
    let id = view.payment.id.to_string();
    let mut refunded = 0;
    for r in &view.refunds {
        summary.refunds += 1;
        let rid = r.id.to_string();
        let done = by_ref.get(&("refund", rid.as_str())).cloned().unwrap_or_default();
        summary.bank_refunds += done.len();
        refunded += done.iter().map(|l| l.amount).sum::<u64>();
        if done.len() > 1 {
            found.push(Mismatch::RefundedTwice { refund: rid.clone(), times: done.len() });
        }
        match (r.status, done.first()) {
            (RefundStatus::Pending | RefundStatus::Processing, _) => summary.in_flight += 1,
            (RefundStatus::Succeeded, None) => found.push(Mismatch::SucceededNotRefunded { refund: rid.clone() }),
            (RefundStatus::Succeeded, Some(line)) if line.amount != r.amount.get() => {
                found.push(Mismatch::RefundAmountDiffers {
                    refund: rid.clone(),
                    platform: r.amount.get(),
                    bank: line.amount,
                })
            }
            (RefundStatus::Failed, Some(_)) => {
                found.push(Mismatch::RefundedNotSucceeded { refund: rid.clone(), status: r.status })
            }
            _ => {}
        }
        known.insert(("refund".to_owned(), rid));
    }
    if refunded > charged {
        found.push(Mismatch::RefundsAboveCharge { payment: id, refunded, charged });
    }
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
