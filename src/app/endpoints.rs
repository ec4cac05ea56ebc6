//! A merchant's webhook endpoints: created with a secret shown once, listed, deleted, and given
//! a new secret while the old one keeps signing for a day. Secrets are sealed before they are
//! stored, bound to their endpoint.
use super::delivery::CATCH_UP_DELAY_SECS;
use super::{AppError, Services};
use crate::domain::events::EventType;
use crate::domain::ids::MerchantId;
use crate::domain::ports::{ConflictKind, Job, StoreError};
use crate::domain::webhooks::{
    Endpoint, EndpointId, EndpointStatus, MAX_ENDPOINTS, SecretEntry, Wanted, WebhookUrl, new_secret,
};

/// What a merchant asks for.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: WebhookUrl,
    /// Empty: every type.
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
}

/// Rounds a rotation tries when a worker updates the endpoint at the same moment.
const UPDATE_ROUNDS: usize = 5;

impl Services {
    /// The new endpoint and its secret, which is never shown again. The store holds the cap of
    /// `MAX_ENDPOINTS` in the write itself (`Conflict(WrongState)` for a full merchant), so
    /// racing creates cannot pass it together.
    pub async fn create_endpoint(
        &self,
        merchant: &MerchantId,
        new: NewEndpoint,
    ) -> Result<(Endpoint, String), AppError> {
        let id = EndpointId::new();
        let secret = new_secret();
        let now = self.clock.now_ms();
        let endpoint = Endpoint {
            id,
            merchant_id: merchant.clone(),
            url: new.url,
            event_types: new.event_types,
            description: new.description,
            status: EndpointStatus::Enabled,
            disabled_reason: None,
            secrets: vec![SecretEntry {
                sealed: self
                    .secrets
                    .seal_secret(&secret, &id.to_string())
                    .map_err(|e| AppError::Internal(e.to_string()))?,
                created_ms: now,
                expires_ms: None,
            }],
            created_ms: now,
            failing_since_ms: None,
            revision: 0,
        };
        let written = match self.store.endpoints.create_endpoint(&endpoint).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(ConflictKind::WrongState)) => {
                return Err(AppError::TooManyEndpoints(MAX_ENDPOINTS));
            }
            // The write may have landed, its answer lost: the catch-up below is still owed to it.
            Err(e) => match AppError::after_write_of(e) {
                AppError::OutcomeUnknown => Err(AppError::OutcomeUnknown),
                other => return Err(other),
            },
        };
        if written.is_ok() {
            // This process sends the merchant's events to the webhooks from now on
            // (`app::notify`): those its endpoints, the new one among them, want; all of them if
            // they cannot be read.
            let wanted = match self.store.endpoints.endpoints(merchant).await {
                Ok(all) if all.iter().any(|e| e.id == endpoint.id) => Wanted::of(&all),
                _ => Wanted::ALL,
            };
            self.presence.set(merchant, wanted, now);
        }
        // Other processes learn of it within `DISCOVERY_MS`: the events of its first seconds that
        // they did not plan for it are given to it once they all know it (`Deliverer::catch_up`).
        // Sent whether or not the write was confirmed: for an endpoint that never landed, the
        // catch-up finds nothing and ends.
        let catch_up = Job::CatchUp { merchant: merchant.clone(), endpoint: id };
        if let Err(e) = super::carry::enqueue(|| self.queue.enqueue_after(&catch_up, CATCH_UP_DELAY_SECS)).await {
            tracing::warn!(endpoint = %id, error = %e,
                "could not enqueue the new endpoint's catch-up: it gets the events recorded from 5 s after its creation on");
        }
        written.map(|()| (endpoint, secret))
    }

    pub async fn endpoints(&self, merchant: &MerchantId) -> Result<Vec<Endpoint>, AppError> {
        Ok(self.store.endpoints.endpoints(merchant).await?)
    }

    /// Another merchant's endpoint is `NotFound`, like an unknown one.
    pub async fn endpoint(&self, merchant: &MerchantId, id: EndpointId) -> Result<Endpoint, AppError> {
        self.endpoints(merchant).await?.into_iter().find(|e| e.id == id).ok_or(AppError::EndpointNotFound)
    }

    pub async fn delete_endpoint(&self, merchant: &MerchantId, id: EndpointId) -> Result<(), AppError> {
        match self.store.endpoints.delete_endpoint(merchant, id).await? {
            true => Ok(()),
            false => Err(AppError::EndpointNotFound),
        }
    }

    /// A new secret (shown once); the previous one signs beside it for 24 hours
    /// (`Endpoint::rotate`, which also keeps any still in their overlap).
    pub async fn rotate_secret(&self, merchant: &MerchantId, id: EndpointId) -> Result<(Endpoint, String), AppError> {
        let secret = new_secret();
        let sealed =
            self.secrets.seal_secret(&secret, &id.to_string()).map_err(|e| AppError::Internal(e.to_string()))?;
        for _ in 0..UPDATE_ROUNDS {
            let mut endpoint = self.endpoint(merchant, id).await?;
            endpoint.rotate(sealed.clone(), self.clock.now_ms());
            match self.store.endpoints.update_endpoint(&endpoint).await {
                Ok(()) => return Ok((Endpoint { revision: endpoint.revision + 1, ..endpoint }, secret)),
                Err(StoreError::Conflict(ConflictKind::Changed)) => continue,
                Err(e) => return Err(AppError::from(e).after_write()),
            }
        }
        Err(AppError::Contended)
    }
}

impl AppError {
    /// A create whose answer was lost may have landed: never report it as "nothing happened".
    fn after_write_of(e: StoreError) -> Self {
        Self::from(e).after_write()
    }
}
