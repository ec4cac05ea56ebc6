//! Carrying one bank request (a charge or a refund) to an outcome without ever sending it
//! blindly again. The first attempt goes out at once; after an attempt whose outcome is
//! unknown, each round asks the bank what it applied under the reference and decides by
//! `domain::inquiry` (the table in docs/DESIGN.md, "When the bank's answer is lost"): take what the bank
//! applied, send again (noting the attempt first) only well inside the key's window, end it
//! when "nothing" is definitive past the window, or leave it for later.
use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use super::Services;
use crate::domain::bank::BankError;
use crate::domain::ids::{PaymentId, RefundId};
use crate::domain::inquiry::{Attempts, BankWindow, Decision, Inquired};
use crate::domain::ports::StoreError;
use crate::telemetry::metrics;

/// How the workers deal with the bank: its promises, and how many rounds one job spends on a
/// request before it leaves the message for later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankPolicy {
    pub window: BankWindow,
    pub rounds: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// How long after an attempt is noted its request may still reach the bank: the client's
    /// own retries of refused connections, its timeouts, and clock skew between workers. Added
    /// to the bank's late-application bound before "nothing applied" counts as final.
    pub send_slack: Duration,
    /// How long an authorization is kept (`AUTHORIZATION_VALIDITY_SECS`), when the bank's own
    /// hold is longer.
    pub authorization_validity: Duration,
}

impl Default for BankPolicy {
    fn default() -> Self {
        Self {
            window: BankWindow::default(),
            rounds: 8,
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
            send_slack: Duration::from_secs(33),
            authorization_validity: Duration::from_secs(7 * 86_400),
        }
    }
}

impl BankPolicy {
    /// The bank's window as the decisions use it: its late-application bound widened by
    /// `send_slack`.
    pub(crate) fn window(&self) -> BankWindow {
        let slack = u64::try_from(self.send_slack.as_millis()).unwrap_or(u64::MAX);
        BankWindow { late_apply_ms: self.window.late_apply_ms.saturating_add(slack), ..self.window }
    }
}

/// How a bank request ended, for this job.
#[derive(Debug)]
pub(super) enum Resolved<T> {
    /// The bank's answer, or what it applied as an inquiry showed.
    Outcome(T),
    /// The bank refused the request itself (`Permanent`).
    Refused(String),
    /// Nothing was applied, for good (as of these attempts): end it without the bank.
    GaveUp(Attempts),
    /// The record became final meanwhile (another worker settled it).
    Final,
    /// Try again later (the message comes back): the outcome is still unknown.
    Later(String),
}

/// The record a request belongs to: a payment's charge, or one of its refunds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Subject {
    pub payment: PaymentId,
    pub refund: Option<RefundId>,
    pub operation: &'static str,
    /// Whether the request may be sent again after an unknown outcome (its attempts are noted on
    /// the payment or refund item). A capture is sent once: after an unknown outcome the bank is
    /// only asked (`app::settle::capture`).
    pub resend: bool,
}

impl Services {
    /// Carries `send` to an outcome. `attempts` is when it was sent before; `fresh` says the
    /// first of them is being made now (the PROCESSING write just noted it), so there is
    /// nothing to ask the bank about yet. Without `send` (the request can no longer be made),
    /// the bank is only asked.
    pub(super) async fn resolve<T, S, SF, I, IF>(
        &self,
        subject: Subject,
        mut attempts: Attempts,
        fresh: bool,
        send: Option<S>,
        inquire: I,
    ) -> Resolved<T>
    where
        S: Fn() -> SF,
        SF: Future<Output = Result<T, BankError>>,
        I: Fn() -> IF,
        IF: Future<Output = Result<Vec<T>, BankError>>,
    {
        let policy = self.bank_policy;
        let window = policy.window();
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.rounds.saturating_sub(1))
            .with_jitter()
            .build();
        let mut ask = !fresh;
        let mut last_error: String;
        loop {
            let now = self.clock.now_ms();
            let decision = if ask {
                let inquired = match inquire().await {
                    Ok(found) => found.into_iter().next().map_or(Inquired::Nothing, Inquired::Applied),
                    Err(_) => Inquired::Unreachable,
                };
                metrics::bank_inquiry(subject.operation, found_label(&inquired));
                match send {
                    Some(_) if subject.resend => window.decide(attempts, inquired, now),
                    _ => window.decide_unsendable(attempts, inquired, now),
                }
            } else {
                Decision::Send
            };
            match (decision, &send) {
                (Decision::Send, None) => last_error = "nothing to send".into(),
                (Decision::Send, Some(send)) => {
                    if ask {
                        // Noted before it is sent: a late application is bounded from here.
                        let noted = Attempts { first_ms: attempts.first_ms, last_ms: now };
                        match self.store.payments.record_attempt(subject.payment, subject.refund, noted).await {
                            Ok(()) => attempts = noted,
                            Err(StoreError::Conflict(_)) => return Resolved::Final,
                            Err(e) => return Resolved::Later(e.to_string()),
                        }
                    }
                    match send().await {
                        Ok(outcome) => return Resolved::Outcome(outcome),
                        Err(BankError::Permanent(code)) => return Resolved::Refused(code),
                        Err(e @ (BankError::Transient(_) | BankError::Unsent(_))) => last_error = e.to_string(),
                    }
                }
                (Decision::Settle(outcome), _) => return Resolved::Outcome(outcome),
                (Decision::GiveUp, _) => return Resolved::GaveUp(attempts),
                // Asked again after the next delay, or by a later job once this one's rounds are spent.
                (Decision::Wait, _) => last_error = "waiting for the bank".into(),
                (Decision::Unresolved, _) => {
                    metrics::bank_unresolved(subject.operation);
                    tracing::error!(
                        operation = subject.operation,
                        payment_id = %subject.payment,
                        refund_id = ?subject.refund,
                        "bank unreachable past the key window; nothing re-sent"
                    );
                    return Resolved::Later("bank unreachable past the key window".into());
                }
            }
            ask = true;
            match delays.next() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Resolved::Later(last_error),
            }
        }
    }
}

fn found_label<T>(inquired: &Inquired<T>) -> &'static str {
    match inquired {
        Inquired::Applied(_) => "applied",
        Inquired::Nothing => "nothing",
        Inquired::Unreachable => "unreachable",
    }
}
