//! Retries of requests that never reached the bank, with exponential backoff and jitter.
//!
//! Only a refused connection is retried here: nothing was sent, so nothing can be applied
//! twice. A request whose outcome is unknown (a timeout, a reset, a 5xx) is not sent again
//! blindly: the caller asks the bank what it applied first (`app::settle`, `domain::inquiry`),
//! because the bank forgets idempotency keys after a while. Jitter keeps many workers that lost
//! the bank at the same moment from retrying in lockstep.
use std::future::Future;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use tracing::warn;

use super::BankClientConfig;
use crate::domain::bank::{AuthorizationOutcome, BankCaptureOutcome, CaptureRequest, VoidOutcome, VoidRequest};
use crate::domain::bank::{Bank, BankError, BankRefundOutcome, ChargeOutcome, ChargeRequest, RefundRequest};
use crate::domain::ids::{CaptureId, PaymentId, RefundId};

/// Wraps any [`Bank`]: `Unsent` errors are retried within a budget of attempts; outcomes and
/// every other error are returned at once. When the budget is spent the last `Unsent` error is
/// returned, so the caller can leave the work for later rather than guess.
#[derive(Debug, Clone)]
pub struct RetryingBank<B> {
    inner: B,
    backoff: ExponentialBuilder,
}

impl<B: Bank> RetryingBank<B> {
    /// Uses the retry fields of `config` (`retry_min_delay`, `retry_max_delay`,
    /// `max_attempts`); the delay doubles from the minimum up to the maximum, plus jitter of
    /// up to the current delay.
    pub fn new(inner: B, config: &BankClientConfig) -> Self {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(config.retry_min_delay)
            .with_max_delay(config.retry_max_delay)
            .with_max_times(config.max_attempts.saturating_sub(1))
            .with_jitter();
        Self { inner, backoff }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }

    async fn retry<T, F, Fut>(&self, what: &'static str, id: &str, call: F) -> Result<T, BankError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BankError>>,
    {
        let mut attempt = 1_u32;
        let result = call
            .retry(self.backoff)
            .when(|e| matches!(e, BankError::Unsent(_)))
            .notify(|e, delay| {
                crate::telemetry::metrics::bank_retry(what);
                warn!(%what, %id, attempt, error = %e, retry_in_ms = delay.as_millis() as u64,
                      "bank unreachable, nothing sent; retrying");
                attempt += 1;
            })
            .await;
        if let Err(e @ BankError::Unsent(_)) = &result {
            warn!(%what, %id, attempt, error = %e, "bank unreachable; gave up for now");
        }
        result
    }
}

#[async_trait]
impl<B: Bank> Bank for RetryingBank<B> {
    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, BankError> {
        let id = req.payment_id.to_string();
        self.retry("charge", &id, || self.inner.charge(req)).await
    }

    async fn refund(&self, req: &RefundRequest) -> Result<BankRefundOutcome, BankError> {
        let id = req.refund_id.to_string();
        self.retry("refund", &id, || self.inner.refund(req)).await
    }

    async fn charges_for(&self, payment: PaymentId) -> Result<Vec<ChargeOutcome>, BankError> {
        self.retry("charge_inquiry", &payment.to_string(), || self.inner.charges_for(payment)).await
    }

    async fn refunds_for(&self, refund: RefundId) -> Result<Vec<BankRefundOutcome>, BankError> {
        self.retry("refund_inquiry", &refund.to_string(), || self.inner.refunds_for(refund)).await
    }

    async fn authorize(&self, req: &ChargeRequest) -> Result<AuthorizationOutcome, BankError> {
        let id = req.payment_id.to_string();
        self.retry("authorization", &id, || self.inner.authorize(req)).await
    }

    async fn authorizations_for(&self, payment: PaymentId) -> Result<Vec<AuthorizationOutcome>, BankError> {
        self.retry("authorization_inquiry", &payment.to_string(), || self.inner.authorizations_for(payment)).await
    }

    async fn capture(&self, req: &CaptureRequest) -> Result<BankCaptureOutcome, BankError> {
        let id = req.capture_id.to_string();
        self.retry("capture", &id, || self.inner.capture(req)).await
    }

    async fn captures_for(&self, capture: CaptureId) -> Result<Vec<BankCaptureOutcome>, BankError> {
        self.retry("capture_inquiry", &capture.to_string(), || self.inner.captures_for(capture)).await
    }

    async fn void(&self, req: &VoidRequest) -> Result<VoidOutcome, BankError> {
        let id = req.payment_id.to_string();
        self.retry("void", &id, || self.inner.void(req)).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::domain::card::{CardDetails, Expiry};
    use crate::domain::ids::{PaymentId, RefundId};
    use crate::domain::money::{Amount, Currency};

    /// Answers from a script, then keeps answering `Unsent`; counts every attempt.
    #[derive(Default)]
    struct FakeBank {
        script: Mutex<VecDeque<Result<(), BankError>>>,
        attempts: AtomicUsize,
    }

    impl FakeBank {
        fn scripted(script: Vec<Result<(), BankError>>) -> Self {
            Self { script: Mutex::new(script.into()), attempts: AtomicUsize::new(0) }
        }

        fn next(&self) -> Result<(), BankError> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            let next = self.script.lock().unwrap().pop_front();
            next.unwrap_or_else(|| Err(unsent()))
        }
    }

    #[async_trait]
    impl Bank for FakeBank {
        async fn charge(&self, _: &ChargeRequest) -> Result<ChargeOutcome, BankError> {
            self.next().map(|()| ChargeOutcome::Approved { bank_charge_id: "c1".into() })
        }
        async fn refund(&self, _: &RefundRequest) -> Result<BankRefundOutcome, BankError> {
            self.next().map(|()| BankRefundOutcome::Succeeded { bank_refund_id: "r1".into() })
        }
        async fn charges_for(&self, _: PaymentId) -> Result<Vec<ChargeOutcome>, BankError> {
            self.next().map(|()| Vec::new())
        }
        async fn refunds_for(&self, _: RefundId) -> Result<Vec<BankRefundOutcome>, BankError> {
            self.next().map(|()| Vec::new())
        }
    }

    fn transient() -> BankError {
        BankError::Transient("timeout".into())
    }

    fn unsent() -> BankError {
        BankError::Unsent("connect".into())
    }

    fn retrying(fake: FakeBank, max_attempts: usize) -> RetryingBank<FakeBank> {
        let config = BankClientConfig {
            retry_min_delay: Duration::from_millis(1),
            retry_max_delay: Duration::from_millis(2),
            max_attempts,
            ..BankClientConfig::default()
        };
        RetryingBank::new(fake, &config)
    }

    fn charge() -> ChargeRequest {
        let expiry = Expiry::parse("12/30", (2026, 1)).unwrap();
        ChargeRequest {
            payment_id: PaymentId::new(),
            amount: Amount::parse(100).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            card: CardDetails::new("1234123412341234".into(), "123".into(), expiry),
        }
    }

    #[tokio::test]
    async fn a_request_that_was_never_sent_is_retried_until_an_outcome() {
        let bank = retrying(FakeBank::scripted(vec![Err(unsent()), Err(unsent()), Ok(())]), 8);
        let outcome = bank.charge(&charge()).await;
        assert_eq!(outcome, Ok(ChargeOutcome::Approved { bank_charge_id: "c1".into() }));
        assert_eq!(bank.inner().attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_unknown_outcome_is_not_sent_again_blindly() {
        let bank = retrying(FakeBank::scripted(vec![Err(transient()), Ok(())]), 8);
        assert_eq!(bank.charge(&charge()).await, Err(transient()));
        assert_eq!(bank.inner().attempts.load(Ordering::SeqCst), 1, "the caller asks the bank first");
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let refused = BankError::Permanent("http 422 idempotency_key_reused".into());
        let bank = retrying(FakeBank::scripted(vec![Err(refused.clone()), Ok(())]), 8);
        assert_eq!(bank.charge(&charge()).await, Err(refused));
        assert_eq!(bank.inner().attempts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_spent_budget_returns_the_last_unsent_error() {
        let bank = retrying(FakeBank::default(), 4);
        assert_eq!(bank.charge(&charge()).await, Err(unsent()));
        assert_eq!(bank.inner().attempts.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn refunds_are_retried_the_same_way() {
        let bank = retrying(FakeBank::scripted(vec![Err(unsent()), Ok(())]), 2);
        let req = RefundRequest {
            refund_id: RefundId::new(),
            bank_charge_id: "c1".into(),
            amount: Amount::parse(50).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
        };
        let outcome = bank.refund(&req).await;
        assert_eq!(outcome, Ok(BankRefundOutcome::Succeeded { bank_refund_id: "r1".into() }));
        assert_eq!(bank.inner().attempts.load(Ordering::SeqCst), 2);
    }
}
