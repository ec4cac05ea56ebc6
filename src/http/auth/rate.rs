//! Per-merchant rate limits: a token bucket per merchant for reads (GET, HEAD) and one for writes
//! (every other method),
//! each refilling at its rate per second with a burst of one second's worth. Limits are per API
//! replica: with N replicas behind a balancer, a merchant gets up to N times the rate (size it as
//! the merchant's allowance divided by the replica count). Over it: 429 `rate_limited`.
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::domain::ids::MerchantId;
use crate::http::error::ApiError;

type Limiter = RateLimiter<MerchantId, DefaultKeyedStateStore<MerchantId>, DefaultClock, StateInformationMiddleware>;

/// One class of requests (reads or writes) and its bucket per merchant.
struct Class {
    name: &'static str,
    per_sec: u32,
    limiter: Limiter,
}

/// `None` for a class whose rate is 0 (unlimited).
pub struct RateLimits {
    reads: Option<Class>,
    writes: Option<Class>,
}

/// What a 429 tells the client: the policy (`RateLimit-Policy`), what is left and when it
/// refills (`RateLimit`), and `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub policy: &'static str,
    pub quota: u32,
    pub retry_after_secs: u64,
}

impl Limited {
    /// `RateLimit-Policy`, as the IETF draft writes it: the policy's name, its quota `q` per
    /// window `w` (seconds).
    pub fn policy_header(&self) -> String {
        format!("\"{}\";q={};w=1", self.policy, self.quota)
    }

    /// `RateLimit`: nothing remaining (`r`), refilled in `t` seconds.
    pub fn state_header(&self) -> String {
        format!("\"{}\";r=0;t={}", self.policy, self.retry_after_secs)
    }
}

fn class(name: &'static str, per_sec: u32) -> Option<Class> {
    let rate = NonZeroU32::new(per_sec)?;
    let limiter = RateLimiter::keyed(Quota::per_second(rate).allow_burst(rate)).with_middleware();
    Some(Class { name, per_sec, limiter })
}

impl RateLimits {
    /// Rates per second per merchant; 0 switches a class off.
    pub fn new(reads_per_sec: u32, writes_per_sec: u32) -> Self {
        Self { reads: class("reads", reads_per_sec), writes: class("writes", writes_per_sec) }
    }

    /// Takes one token from `merchant`'s bucket of the request's class.
    pub fn check(&self, merchant: &MerchantId, write: bool) -> Result<(), ApiError> {
        let Some(class) = (if write { &self.writes } else { &self.reads }) else { return Ok(()) };
        match class.limiter.check_key(merchant) {
            Ok(_) => Ok(()),
            Err(not_until) => {
                let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
                // Whole seconds, rounded up: a client that waits that long gets through.
                let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(ApiError::RateLimited(Limited {
                    policy: class.name,
                    quota: class.per_sec,
                    retry_after_secs: retry_after_secs.max(1),
                }))
            }
        }
    }

    /// Forgets merchants whose buckets are full again (the API calls it every minute).
    pub fn shrink(&self) {
        for class in [&self.reads, &self.writes].into_iter().flatten() {
            class.limiter.retain_recent();
            class.limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_over_the_rate_is_refused_per_merchant_and_class() {
        let limits = RateLimits::new(0, 3);
        let (a, b) = (MerchantId::parse("a@m").unwrap(), MerchantId::parse("b@m").unwrap());
        for _ in 0..3 {
            limits.check(&a, true).unwrap();
        }
        let Err(ApiError::RateLimited(limited)) = limits.check(&a, true) else { panic!("the 4th write is limited") };
        assert_eq!((limited.policy, limited.quota, limited.retry_after_secs), ("writes", 3, 1));
        assert_eq!(limited.policy_header(), "\"writes\";q=3;w=1");
        assert!(limits.check(&b, true).is_ok(), "another merchant has its own bucket");
        for _ in 0..100 {
            limits.check(&a, false).unwrap();
        }
    }
}
