//! The shared half of an idempotent request: claiming a key, and answering a second request
//! that finds the key already claimed.
use crate::domain::idempotency::{Accepted, IdempotencyClaim, IdempotencyKey, IdempotencyState};

use super::{AppError, Services};

/// How long the first request holds its key before a replay may take over its work.
pub const LOCK_MS: u64 = 10_000;
/// How long keys are kept: the contract asks for at least 24 hours.
pub const KEEP_SECS: u64 = 48 * 3600;

/// A key as the HTTP layer hands it over: scoped to the merchant, with the request's keyed
/// fingerprint (stored with the claim) and what else a stored fingerprint of the same request
/// may be (under a previous key, or the plain hash of records from before fingerprints were
/// keyed). Only `request_hash` is ever stored.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    pub key: IdempotencyKey,
    pub request_hash: String,
    pub also_matches: Vec<String>,
}

impl KeyedRequest {
    pub fn new(key: IdempotencyKey, request_hash: impl Into<String>) -> Self {
        Self { key, request_hash: request_hash.into(), also_matches: Vec::new() }
    }

    fn matches(&self, stored: &str) -> bool {
        stored == self.request_hash || self.also_matches.iter().any(|m| m == stored)
    }

    /// A claim written already done with `response`: the record, the claim and the answer
    /// land in one write, so a replay finds the answer as soon as the record exists. If the SQS
    /// send then fails, the repair path enqueues the PENDING record.
    pub fn claim(&self, resource_id: String, now_ms: u64, response: Accepted) -> IdempotencyClaim {
        IdempotencyClaim {
            key: self.key.clone(),
            request_hash: self.request_hash.clone(),
            resource_id,
            locked_until_ms: now_ms + LOCK_MS,
            expires_at_secs: now_ms / 1000 + KEEP_SECS,
            response: Some(response),
        }
    }
}

/// What to do about a key someone already claimed.
pub enum Existing {
    /// The first request finished: answer exactly as it did. `resource_id` tells a replay from
    /// our own write that landed on an attempt whose answer was lost.
    Replay { resource_id: String, response: Accepted },
    /// The first request stopped before finishing (crash, timeout): finish its work for it.
    Resume { resource_id: String },
}

impl Services {
    /// Looks at a claimed key. `Ok(None)` means it vanished (expired): try afresh.
    pub(super) async fn existing_key(&self, req: &KeyedRequest) -> Result<Option<Existing>, AppError> {
        let Some(record) = self.store.keys.get_idempotency(&req.key).await? else {
            return Ok(None);
        };
        if !req.matches(&record.request_hash) {
            return Err(AppError::IdempotencyKeyReused);
        }
        match record.state {
            IdempotencyState::Done(response) => {
                Ok(Some(Existing::Replay { resource_id: record.resource_id, response }))
            }
            IdempotencyState::InProgress { locked_until_ms } => {
                let now = self.clock.now_ms();
                if locked_until_ms > now {
                    return Err(AppError::IdempotencyInFlight);
                }
                // Only one replay wins the takeover; the others see the new lock.
                match self.store.keys.renew_idempotency(&req.key, locked_until_ms, now + LOCK_MS).await {
                    Ok(()) => Ok(Some(Existing::Resume { resource_id: record.resource_id })),
                    Err(crate::domain::ports::StoreError::Conflict(_)) => Err(AppError::IdempotencyInFlight),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Stores the answer for replays. A failure here is logged, not returned: the work is done
    /// and the key will be resumed (and the answer rebuilt) by the next replay.
    pub(super) async fn finish_key(&self, req: Option<&KeyedRequest>, resp: &Accepted) {
        if let Some(req) = req
            && let Err(e) = self.store.keys.complete_idempotency(&req.key, resp).await
        {
            tracing::warn!(error = %e, "could not store the idempotent answer");
        }
    }
}
