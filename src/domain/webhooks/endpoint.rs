//! A merchant's webhook endpoint: where it is, what it wants, its secrets, whether it is on.
use std::fmt;

use uuid::Uuid;

use super::{EndpointEffect, WebhookUrl};
use crate::domain::events::EventType;
use crate::domain::ids::MerchantId;

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP_MS: u64 = 24 * 3_600_000;

/// The most secrets that sign at once: the current one and two still in their overlap.
pub const MAX_SIGNING_SECRETS: usize = 3;
/// Endpoints one merchant may have: every event is offered to each of them.
pub const MAX_ENDPOINTS: usize = 16;
/// Longest `Description` kept.
pub const MAX_DESCRIPTION: usize = 512;

/// The event types a merchant's enabled endpoints want, as one set: an event of a type none
/// of them wants costs the webhooks nothing (`app::notify`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wanted(u32);

impl Wanted {
    /// Every type: what a process assumes when it cannot tell.
    pub const ALL: Self = Self(u32::MAX);
    pub const NONE: Self = Self(0);

    fn bit(kind: EventType) -> u32 {
        let i = EventType::ALL.iter().position(|k| *k == kind).expect("every type is in ALL");
        1 << i
    }

    /// What `endpoints` want between them (disabled ones want nothing).
    pub fn of<'a>(endpoints: impl IntoIterator<Item = &'a Endpoint>) -> Self {
        endpoints.into_iter().filter(|e| e.status == EndpointStatus::Enabled).fold(Self::NONE, |w, e| {
            if e.event_types.is_empty() {
                Self::ALL
            } else {
                e.event_types.iter().fold(w, |w, k| Self(w.0 | Self::bit(*k)))
            }
        })
    }

    pub fn wants(self, kind: EventType) -> bool {
        self.0 & Self::bit(kind) != 0
    }
}

/// An endpoint's id: `we_` and 32 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(Uuid);

impl EndpointId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Accepts only what `Display` writes.
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.strip_prefix("we_")?;
        if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        Uuid::parse_str(hex).ok().map(Self)
    }
}

impl Default for EndpointId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "we_{}", self.0.simple())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointStatus {
    Enabled,
    Disabled,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "enabled" => Some(Self::Enabled),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// A signing secret as stored: sealed by the vault, bound to its endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretEntry {
    pub sealed: String,
    pub created_ms: u64,
    /// Set when a newer secret replaced it: it signs until then.
    pub expires_ms: Option<u64>,
}

/// One of a merchant's webhook endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub id: EndpointId,
    pub merchant_id: MerchantId,
    pub url: WebhookUrl,
    /// Empty: every type.
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
    pub status: EndpointStatus,
    /// Why it was disabled: `gone` (it answered 410) or `failing` (no success for too long).
    pub disabled_reason: Option<String>,
    /// Newest first.
    pub secrets: Vec<SecretEntry>,
    pub created_ms: u64,
    /// Since when every delivery failed (none since the last success); `None` while healthy.
    pub failing_since_ms: Option<u64>,
    /// Counts this endpoint's writes: an update lands only on the revision it read.
    pub revision: u64,
}

impl Endpoint {
    /// Whether events of `kind` go to this endpoint.
    pub fn wants(&self, kind: EventType) -> bool {
        self.status == EndpointStatus::Enabled && (self.event_types.is_empty() || self.event_types.contains(&kind))
    }

    /// The secrets that sign at `now_ms`, newest first.
    pub fn signing_secrets(&self, now_ms: u64) -> impl Iterator<Item = &SecretEntry> {
        self.secrets.iter().filter(move |s| s.expires_ms.is_none_or(|e| e > now_ms))
    }

    /// A new current secret; the current one keeps signing for `ROTATION_OVERLAP_MS`, and those
    /// already in their overlap keep theirs, so a rotation sent again after its answer was lost
    /// never cuts off the secret the receivers have. At most `MAX_SIGNING_SECRETS` sign: past
    /// that the oldest stops at once; expired ones are dropped.
    pub fn rotate(&mut self, sealed: String, now_ms: u64) {
        self.secrets.retain(|s| s.expires_ms.is_none_or(|end| end > now_ms));
        for s in self.secrets.iter_mut().filter(|s| s.expires_ms.is_none()) {
            s.expires_ms = Some(now_ms + ROTATION_OVERLAP_MS);
        }
        self.secrets.insert(0, SecretEntry { sealed, created_ms: now_ms, expires_ms: None });
        self.secrets.truncate(MAX_SIGNING_SECRETS);
    }

    /// What a delivery's outcome does to the endpoint; `true` when it changed.
    pub fn apply(&mut self, effect: EndpointEffect, now_ms: u64, disable_after_ms: u64) -> bool {
        let before = (self.status, self.failing_since_ms);
        match effect {
            EndpointEffect::Succeeded => self.failing_since_ms = None,
            EndpointEffect::Failed => {
                let since = *self.failing_since_ms.get_or_insert(now_ms);
                if now_ms.saturating_sub(since) >= disable_after_ms {
                    self.disable("failing");
                }
            }
            EndpointEffect::Gone => self.disable("gone"),
        }
        before != (self.status, self.failing_since_ms)
    }

    fn disable(&mut self, reason: &str) {
        if self.status == EndpointStatus::Enabled {
            self.status = EndpointStatus::Disabled;
            self.disabled_reason = Some(reason.to_owned());
        }
    }
}
