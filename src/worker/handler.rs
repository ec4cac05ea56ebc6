//! The job handlers: the runtime is generic over what a job does, so the payment and refund
//! workers share every line of message handling, and tests plug in fakes.
use std::sync::Arc;

use async_trait::async_trait;

use crate::app::Services;
use crate::app::settle::Step;
use crate::domain::bank::Bank;
use crate::domain::ports::Job;

/// Runs one job to a [`Step`]. Must not panic on bad input: anything it cannot use is
/// `Step::Poison`, anything that may work later is `Step::Retry`.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn handle(&self, job: Job) -> Step;
}

/// Charges payments: the payment worker's handler.
#[derive(Clone)]
pub struct ChargeHandler {
    pub services: Services,
    pub bank: Arc<dyn Bank>,
}

#[async_trait]
impl JobHandler for ChargeHandler {
    async fn handle(&self, job: Job) -> Step {
        match job {
            Job::Charge { payment_id } => self.services.process_charge(self.bank.as_ref(), payment_id).await,
            // Never sent here by us: retrying on this queue could never succeed.
            Job::Refund { .. } | Job::Deliver { .. } => Step::Poison("not a charge job, on the payments queue".into()),
        }
    }
}

/// Carries out refunds: the refund worker's handler.
#[derive(Clone)]
pub struct RefundHandler {
    pub services: Services,
    pub bank: Arc<dyn Bank>,
}

#[async_trait]
impl JobHandler for RefundHandler {
    async fn handle(&self, job: Job) -> Step {
        match job {
            Job::Refund { payment_id, refund_id } => {
                self.services.process_refund(self.bank.as_ref(), payment_id, refund_id).await
            }
            Job::Charge { .. } | Job::Deliver { .. } => Step::Poison("not a refund job, on the refunds queue".into()),
        }
    }
}

/// Delivers events to merchants' endpoints: the webhook worker's handler.
#[derive(Clone)]
pub struct DeliverHandler {
    pub webhooks: Arc<crate::app::deliver::Webhooks>,
}

#[async_trait]
impl JobHandler for DeliverHandler {
    async fn handle(&self, job: Job) -> Step {
        match job {
            Job::Deliver { event } => self.webhooks.deliver(event).await,
            _ => Step::Poison("not a delivery, on the webhooks queue".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::domain::bank::{Bank, BankError, BankRefundOutcome, ChargeOutcome, ChargeRequest, RefundRequest};
    use crate::domain::ids::{PaymentId, RefundId};

    /// Must never be reached: a job on the wrong queue is refused before any I/O.
    struct NoBank;

    #[async_trait]
    impl Bank for NoBank {
        async fn charge(&self, _: &ChargeRequest) -> Result<ChargeOutcome, BankError> {
            unreachable!("the bank was called")
        }
        async fn refund(&self, _: &RefundRequest) -> Result<BankRefundOutcome, BankError> {
            unreachable!("the bank was called")
        }
        async fn charges_for(&self, _: PaymentId) -> Result<Vec<ChargeOutcome>, BankError> {
            unreachable!("the bank was asked")
        }
        async fn refunds_for(&self, _: RefundId) -> Result<Vec<BankRefundOutcome>, BankError> {
            unreachable!("the bank was asked")
        }
    }

    /// The use cases on memory: nothing here does I/O.
    fn services() -> Services {
        crate::testing::World::new().services
    }

    #[tokio::test]
    async fn a_job_on_the_wrong_queue_is_poison() {
        let bank: Arc<dyn Bank> = Arc::new(NoBank);
        let charge = ChargeHandler { services: services(), bank: Arc::clone(&bank) };
        let refund = RefundHandler { services: services(), bank };
        let refund_job = Job::Refund { payment_id: PaymentId::new(), refund_id: RefundId::new() };
        let charge_job = Job::Charge { payment_id: PaymentId::new() };
        assert!(matches!(charge.handle(refund_job).await, Step::Poison(_)));
        assert!(matches!(refund.handle(charge_job).await, Step::Poison(_)));
    }
}
