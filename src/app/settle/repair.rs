//! The repair path's use case: records that stayed non-final too long are claimed and enqueued
//! again (each worker's repair loop runs it for its own kind).
use crate::app::{AppError, Services};
use crate::domain::ids::PaymentId;
use crate::domain::ports::Job;
use crate::domain::status::PaymentStatus;

pub enum Stale {
    Payments,
    Refunds,
}

impl Services {
    /// Re-enqueues records that stayed non-final longer than `age_ms` (a lost send, a parked
    /// message, a crashed worker). Each is claimed first, so racing repairers enqueue it once.
    pub async fn repair(&self, kind: Stale, age_ms: u64, limit: u32) -> Result<usize, AppError> {
        let now = self.clock.now_ms();
        let cutoff = now.saturating_sub(age_ms);
        let jobs: Vec<Job> = match kind {
            Stale::Refunds => {
                let stale = self.store.repair.stale_refunds(cutoff, limit).await?;
                stale.into_iter().map(|(payment_id, refund_id)| Job::Refund { payment_id, refund_id }).collect()
            }
            Stale::Payments => {
                let stale = self.store.repair.stale_payments(cutoff, limit).await?;
                stale.into_iter().map(|payment_id| Job::Charge { payment_id }).collect()
            }
        };
        let mut repaired = 0;
        for job in jobs {
            // One record that cannot be handled now (unreadable, a failed send) must not stop
            // the pass for the others: it is logged, and met again on a later pass.
            match self.repair_one(&job, cutoff, now).await {
                Ok(true) => repaired += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, ?job, "repair: record skipped this pass"),
            }
        }
        Ok(repaired)
    }

    /// Re-enqueues one stale record if this repairer wins its claim. A refund still waiting for
    /// its payment is not stale: its claim only moves it to the back of the index (so waiting
    /// refunds cannot crowd stale ones out of a pass), and its payment's settlement releases it.
    async fn repair_one(&self, job: &Job, cutoff: u64, now: u64) -> Result<bool, AppError> {
        let (payment, refund) = match *job {
            Job::Charge { payment_id } => (payment_id, None),
            Job::Refund { payment_id, refund_id } => (payment_id, Some(refund_id)),
            Job::Deliver { .. } | Job::CatchUp { .. } => return Ok(false),
        };
        // The claim comes first: a repairer that loses it spends no read on the payment.
        if !self.store.repair.claim_stale(payment, refund, cutoff, now).await? {
            return Ok(false);
        }
        if refund.is_some() && self.waits_for_its_payment(payment).await? {
            return Ok(false);
        }
        tracing::warn!(payment_id = %payment, refund_id = ?refund, "repair: re-enqueuing a stale record");
        self.queue.enqueue(job).await?;
        Ok(true)
    }

    async fn waits_for_its_payment(&self, payment: PaymentId) -> Result<bool, AppError> {
        let view = self.store.payments.get_payment(payment).await?;
        // Only a payment not yet charged or authorized holds its refunds back (`settle::refund`).
        Ok(view.is_some_and(|v| matches!(v.payment.status, PaymentStatus::Pending | PaymentStatus::Processing)))
    }
}
