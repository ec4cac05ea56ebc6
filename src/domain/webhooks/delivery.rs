//! One event's delivery to one endpoint: attempts on a retry schedule until a 2xx, a 410, or
//! the schedule runs out. Pure decisions; the webhook-worker (`app::delivery`) makes the calls.
use super::EndpointId;

/// The longest a `Retry-After` may push an attempt back.
pub const MAX_RETRY_AFTER_MS: u64 = 24 * 3_600_000;

/// The delays between attempts: after the first failed attempt the first delay, and so on;
/// once they are used up the delivery has failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(Vec<u64>);

impl Default for RetrySchedule {
    /// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over about 27 hours.
    fn default() -> Self {
        const MIN: u64 = 60_000;
        Self(vec![5_000, 5 * MIN, 30 * MIN, 120 * MIN, 300 * MIN, 600 * MIN, 600 * MIN])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a retry schedule is a comma-separated list of delays such as 500ms,5s,5m,2h")]
pub struct BadSchedule;

impl RetrySchedule {
    /// `"5s,5m,30m,2h"`: each delay a number and `ms`, `s`, `m` or `h`.
    pub fn parse(s: &str) -> Result<Self, BadSchedule> {
        let delays = s
            .split(',')
            .map(|d| {
                let d = d.trim();
                let split = d.find(|c: char| !c.is_ascii_digit()).ok_or(BadSchedule)?;
                let n: u64 = d[..split].parse().map_err(|_| BadSchedule)?;
                let unit = match &d[split..] {
                    "ms" => 1,
                    "s" => 1_000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    _ => return Err(BadSchedule),
                };
                n.checked_mul(unit).ok_or(BadSchedule)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() { Err(BadSchedule) } else { Ok(Self(delays)) }
    }

    /// The delay after `tries` failed attempts (1 for the first), or `None` when none is left.
    pub fn after(&self, tries: u32) -> Option<u64> {
        self.0.get(usize::try_from(tries).ok()?.checked_sub(1)?).copied()
    }

    /// Attempts in all: the first and one after each delay.
    pub fn attempts(&self) -> usize {
        self.0.len() + 1
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet delivered; attempted again at `due_ms`.
    Pending,
    /// A 2xx answered.
    Delivered,
    /// The schedule ran out, or the endpoint answered 410.
    Failed,
    /// The endpoint was deleted or disabled before it was delivered.
    Cancelled,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed, Self::Cancelled].into_iter().find(|k| k.as_str() == s)
    }
}

/// How one attempt went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The endpoint answered (redirects are not followed: a 3xx is a failure).
    Answered { status: u16, retry_after_ms: Option<u64> },
    /// No answer within the timeout.
    Timeout,
    /// No connection (refused, reset, DNS, TLS).
    Unreachable,
    /// The URL resolved to an address deliveries may not reach.
    Blocked,
    /// None of the endpoint's secrets could be opened (a vault key missing): nothing was sent.
    Unsignable,
}

impl AttemptOutcome {
    pub fn delivered(&self) -> bool {
        matches!(self, Self::Answered { status: 200..=299, .. })
    }

    /// For metrics and the attempts list: `2xx`, `4xx`, `5xx`, `other_status` (any other answer),
    /// `timeout`, `unreachable`, `blocked`, `unsignable`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Answered { status: 200..=299, .. } => "2xx",
            Self::Answered { status: 400..=499, .. } => "4xx",
            Self::Answered { status: 500..=599, .. } => "5xx",
            Self::Answered { .. } => "other_status",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Blocked => "blocked",
            Self::Unsignable => "unsignable",
        }
    }
}

/// One attempt, as `GET /events/{id}/attempts` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    pub endpoint: EndpointId,
    /// 1 for the first attempt to this endpoint; redeliveries continue the count.
    pub number: u32,
    pub at_ms: u64,
    pub latency_ms: u64,
    pub status_code: Option<u16>,
    /// `timeout`, `unreachable`, `blocked` or `unsignable` when there was no answer.
    pub error: Option<String>,
}

/// What an attempt says about its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointEffect {
    Succeeded,
    Failed,
    /// 410 Gone: the endpoint is disabled.
    Gone,
}

/// One event's delivery to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub endpoint: EndpointId,
    pub state: DeliveryState,
    /// Attempts made in all (numbering them).
    pub attempts: u32,
    /// Attempts since it was (re)planned: the place in the schedule.
    pub tries: u32,
    /// When the next attempt is due, while pending.
    pub due_ms: u64,
}

impl Delivery {
    pub fn new(endpoint: EndpointId, now_ms: u64) -> Self {
        Self { endpoint, state: DeliveryState::Pending, attempts: 0, tries: 0, due_ms: now_ms }
    }

    pub fn is_due(&self, now_ms: u64) -> bool {
        self.state == DeliveryState::Pending && self.due_ms <= now_ms
    }

    /// Records an attempt made at `at_ms`; `jitter` in [0, 1) spreads the next delay by ±10 %.
    pub fn settle(
        &mut self,
        outcome: &AttemptOutcome,
        at_ms: u64,
        latency_ms: u64,
        schedule: &RetrySchedule,
        jitter: f64,
    ) -> (EndpointEffect, AttemptRecord) {
        self.attempts += 1;
        self.tries += 1;
        let (status_code, error) = match outcome {
            AttemptOutcome::Answered { status, .. } => (Some(*status), None),
            other => (None, Some(other.label().to_owned())),
        };
        let record =
            AttemptRecord { endpoint: self.endpoint, number: self.attempts, at_ms, latency_ms, status_code, error };
        let effect = match outcome {
            o if o.delivered() => {
                self.state = DeliveryState::Delivered;
                EndpointEffect::Succeeded
            }
            AttemptOutcome::Answered { status: 410, .. } => {
                self.state = DeliveryState::Failed;
                EndpointEffect::Gone
            }
            other => {
                match schedule.after(self.tries) {
                    None => self.state = DeliveryState::Failed,
                    Some(delay) => {
                        let spread = (delay as f64 * (jitter.clamp(0.0, 1.0) - 0.5) * 0.2) as i64;
                        let mut due = at_ms.saturating_add(delay).saturating_add_signed(spread);
                        if let AttemptOutcome::Answered { status: 429 | 503, retry_after_ms: Some(ms) } = other {
                            due = due.max(at_ms.saturating_add((*ms).min(MAX_RETRY_AFTER_MS)));
                        }
                        self.due_ms = due;
                    }
                }
                EndpointEffect::Failed
            }
        };
        (effect, record)
    }

    /// The endpoint cannot take it now (all its connections busy): try again at `until_ms`,
    /// without counting an attempt.
    pub fn postpone(&mut self, until_ms: u64) {
        self.due_ms = until_ms;
    }

    /// The endpoint was deleted or disabled.
    pub fn cancel(&mut self) {
        if self.state == DeliveryState::Pending {
            self.state = DeliveryState::Cancelled;
        }
    }

    /// Sent again from the start of the schedule (a redelivery asked for by the merchant).
    pub fn replan(&mut self, now_ms: u64) {
        self.state = DeliveryState::Pending;
        self.tries = 0;
        self.due_ms = now_ms;
    }
}

/// When the next attempt of any of `deliveries` is due; `None` when none is pending.
pub fn next_due(deliveries: &[Delivery]) -> Option<u64> {
    deliveries.iter().filter(|d| d.state == DeliveryState::Pending).map(|d| d.due_ms).min()
}
