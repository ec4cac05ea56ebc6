//! A worker's jobs behind one trait: the worker runtime (`crate::worker`) receives, runs and
//! repairs through `Jobs` and knows no job by name. Each worker binary runs one of the three:
//! charges (payment-worker), refunds (refund-worker), deliveries (webhook-worker).
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::delivery::Deliverer;
use super::settle::Stale;
use super::{AppError, Services, Step};
use crate::domain::bank::Bank;
use crate::domain::queue::Job;

/// Records claimed per repair pass; the rest wait for the next pass.
pub const REPAIR_BATCH: u32 = 100;

/// What one worker does with its queue's messages and with what they left behind.
#[async_trait]
pub trait Jobs: Send + Sync + 'static {
    /// Short name for logs, metrics and `GET /status`: `payment`, `refund` or `webhook`.
    fn name(&self) -> &'static str;

    /// Runs one job to a [`Step`]. Must not panic on bad input: anything it cannot use is
    /// `Step::Poison`, anything that may work later is `Step::Retry`.
    async fn run(&self, job: Job) -> Step;

    /// One pass of the repair loop: what stayed non-final too long is enqueued again (or, for
    /// deliveries, swept). Answers how many.
    async fn repair(&self) -> Result<usize, AppError>;
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Charges payments; repairs payments left non-final for longer than `repair_after`.
#[derive(Clone)]
pub struct Charges {
    pub services: Services,
    pub bank: Arc<dyn Bank>,
    pub repair_after: Duration,
}

#[async_trait]
impl Jobs for Charges {
    fn name(&self) -> &'static str {
        "payment"
    }

    async fn run(&self, job: Job) -> Step {
        match job {
            Job::Charge { payment_id } => self.services.process_charge(self.bank.as_ref(), payment_id).await,
            // Never sent here by us: retrying on this queue could never succeed.
            Job::Refund { .. } | Job::Deliver { .. } | Job::CatchUp { .. } => {
                Step::Poison("not a charge job, on the payments queue".into())
            }
        }
    }

    async fn repair(&self) -> Result<usize, AppError> {
        self.services.repair(Stale::Payments, millis(self.repair_after), REPAIR_BATCH).await
    }
}

/// Carries out refunds; repairs refunds left non-final for longer than `repair_after`.
#[derive(Clone)]
pub struct Refunds {
    pub services: Services,
    pub bank: Arc<dyn Bank>,
    pub repair_after: Duration,
}

#[async_trait]
impl Jobs for Refunds {
    fn name(&self) -> &'static str {
        "refund"
    }

    async fn run(&self, job: Job) -> Step {
        match job {
            Job::Refund { payment_id, refund_id } => {
                self.services.process_refund(self.bank.as_ref(), payment_id, refund_id).await
            }
            Job::Charge { .. } | Job::Deliver { .. } | Job::CatchUp { .. } => {
                Step::Poison("not a refund job, on the refunds queue".into())
            }
        }
    }

    async fn repair(&self) -> Result<usize, AppError> {
        self.services.repair(Stale::Refunds, millis(self.repair_after), REPAIR_BATCH).await
    }
}

/// Delivers events to merchants' endpoints; sweeps events due more than `grace` ago.
#[derive(Clone)]
pub struct Deliveries {
    pub webhooks: Arc<Deliverer>,
    pub grace: Duration,
}

#[async_trait]
impl Jobs for Deliveries {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn run(&self, job: Job) -> Step {
        match job {
            Job::Deliver { event } => self.webhooks.deliver(event).await,
            Job::CatchUp { merchant, endpoint } => self.webhooks.catch_up(&merchant, endpoint).await,
            Job::Charge { .. } | Job::Refund { .. } => Step::Poison("not a delivery, on the webhooks queue".into()),
        }
    }

    async fn repair(&self) -> Result<usize, AppError> {
        self.webhooks.sweep(self.grace, REPAIR_BATCH).await
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::domain::bank::{BankError, BankRefundOutcome, ChargeOutcome, ChargeRequest, RefundRequest};
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

    #[tokio::test]
    async fn a_job_on_the_wrong_queue_is_poison() {
        let services = crate::testing::World::new().services;
        let bank: Arc<dyn Bank> = Arc::new(NoBank);
        let after = Duration::from_secs(60);
        let charges = Charges { services: services.clone(), bank: Arc::clone(&bank), repair_after: after };
        let refunds = Refunds { services, bank, repair_after: after };
        let refund_job = Job::Refund { payment_id: PaymentId::new(), refund_id: RefundId::new() };
        let charge_job = Job::Charge { payment_id: PaymentId::new() };
        assert!(matches!(charges.run(refund_job).await, Step::Poison(_)));
        assert!(matches!(refunds.run(charge_job).await, Step::Poison(_)));
        assert_eq!((charges.name(), refunds.name()), ("payment", "refund"));
    }
}
