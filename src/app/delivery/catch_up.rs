//! A new endpoint's first seconds. The writers of events and the webhook-worker trust what they
//! read of a merchant's endpoints for `DISCOVERY_MS` (`app::notify`, `Deliverer::endpoints_of`),
//! so an event recorded in the first seconds of an endpoint may not be planned for it: its writer
//! did not announce it, or its first round was planned without it. The API that created the
//! endpoint sends a `Job::CatchUp`, delayed until every process has learnt of the endpoint
//! (`CATCH_UP_DELAY_SECS`); the worker then reads the merchant's events of those seconds with
//! their plans, and adds a delivery to the endpoint to each one it wants that lacks one. Every
//! later event is planned for it by whoever records or delivers it.
use super::{CLOCK_SKEW_MS, DISCOVERY_MS, Deliverer, first_plan};
use crate::app::Step;
use crate::domain::events::{EventId, EventType};
use crate::domain::ids::MerchantId;
use crate::domain::ports::{DeliveryClaim, StoreError};
use crate::domain::webhooks::{Delivery, DeliveryState, Endpoint, EndpointId, EndpointStatus};

/// How long after an endpoint's creation its catch-up runs. Every process's knowledge of the
/// merchant's endpoints is newer than the endpoint after `DISCOVERY_MS`; the rest is for the
/// writes decided before that to land (a write retried through a stalled store takes seconds)
/// and for the first rounds of the last events it may lack to end.
pub const CATCH_UP_DELAY_SECS: u32 = 30;
/// How long the catch-up holds an event it adds a delivery to: a claim and a save.
const LEASE_MS: u64 = 10_000;
/// The events an endpoint may lack, by the time their writers stamped them, from its creation
/// (by the API's clock): recorded within `DISCOVERY_MS` of it, by a clock up to `CLOCK_SKEW_MS`
/// off either way (`first_plan` gives an endpoint the events stamped up to that before it).
const WINDOW_MS: (u64, u64) = (CLOCK_SKEW_MS, DISCOVERY_MS + 2 * CLOCK_SKEW_MS);
// The catch-up runs after every event it looks at was stamped (by a clock up to the skew
// ahead), within SQS's longest delay (900 s).
const _: () = assert!(CATCH_UP_DELAY_SECS as u64 * 1000 > WINDOW_MS.1 + CLOCK_SKEW_MS && CATCH_UP_DELAY_SECS <= 900);
/// Events read per page of the merchant's feed (DynamoDB answers at most 1 MB a page)...
const PAGE: u32 = 1_000;
/// ...and at most in all. A merchant recording more in an endpoint's first seconds gets the
/// newest of them looked at, and a warning in the log; the others can be redelivered.
const MOST_EVENTS: usize = 10_000;

/// Whether `deliveries` already carry `endpoint`'s delivery: any but one cancelled (a round of a
/// worker that did not know the endpoint yet cancels its delivery).
fn carries(deliveries: &[Delivery], endpoint: EndpointId) -> bool {
    deliveries.iter().any(|d| d.endpoint == endpoint && d.state != DeliveryState::Cancelled)
}

/// What a catch-up did: pages read, events looked at, planned for the endpoint, and held by a
/// round (to come back for).
#[derive(Default)]
struct Tally {
    pages: usize,
    seen: usize,
    added: usize,
    held: usize,
}

impl Deliverer {
    /// Gives `endpoint` the events of its first seconds that lack it (module comment). Done at
    /// once for an endpoint deleted or disabled since. The feed is read by type when the endpoint
    /// names its types (GSI3), so only its events are read; only those whose plan, as the feed
    /// shows it, lacks the endpoint are claimed and written. One that a round holds is passed
    /// over, and the job tried again once the others are done (it then finds those planned).
    pub async fn catch_up(&self, merchant: &MerchantId, endpoint: EndpointId) -> Step {
        // Read now, not from the worker's cache: it may be older than the endpoint.
        let all = match self.services.store.endpoints.endpoints(merchant).await {
            Ok(all) => all,
            Err(e) => return Step::Retry(e.to_string()),
        };
        let Some(new) = all.iter().find(|e| e.id == endpoint && e.status == EndpointStatus::Enabled) else {
            return Step::Done;
        };
        let kinds: Vec<Option<EventType>> = match new.event_types.as_slice() {
            [] => vec![None],
            some => some.iter().copied().map(Some).collect(),
        };
        let mut tally = Tally::default();
        for kind in kinds {
            if let Err(step) = self.catch_up_kind(new, &all, kind, &mut tally).await {
                return step;
            }
        }
        tracing::info!(endpoint = %endpoint, pages = tally.pages, looked_at = tally.seen, caught_up = tally.added,
            held = tally.held, "webhook endpoint catch-up");
        if tally.held > 0 {
            return Step::Retry(format!("{} events to catch up were held by delivery rounds", tally.held));
        }
        Step::Done
    }

    /// One pass of `catch_up` over the feed: the events of `kind` (all, for `None`).
    async fn catch_up_kind(
        &self,
        new: &Endpoint,
        all: &[Endpoint],
        kind: Option<EventType>,
        tally: &mut Tally,
    ) -> Result<(), Step> {
        let range = (new.created_ms.saturating_sub(WINDOW_MS.0), new.created_ms.saturating_add(WINDOW_MS.1));
        let mut cursor = None::<String>;
        loop {
            let page =
                self.services.store.deliveries.planned_events(&new.merchant_id, kind, range, PAGE, cursor.as_deref());
            let page = page.await.map_err(|e| Step::Retry(e.to_string()))?;
            tally.pages += 1;
            for event in page.events.iter().filter(|e| new.wants(e.kind)) {
                tally.seen += 1;
                if tally.seen > MOST_EVENTS {
                    tracing::warn!(endpoint = %new.id, caught_up = tally.added, "catch-up stopped at its bound; older events of the endpoint's first seconds can be redelivered");
                    return Ok(());
                }
                if event.deliveries.as_deref().is_some_and(|d| carries(d, new.id)) {
                    continue;
                }
                match self.plan_into(event.id, new, all).await? {
                    Some(true) => tally.added += 1,
                    Some(false) => {}
                    None => tally.held += 1,
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Adds a delivery to `new` to `event`'s plan if it lacks one (an event never planned is
    /// planned as its first round would, with the endpoints just read), and enqueues the event;
    /// answers whether it planned one, `None` when a round holds the event.
    async fn plan_into(&self, event: EventId, new: &Endpoint, all: &[Endpoint]) -> Result<Option<bool>, Step> {
        let now = self.services.clock.now_ms();
        let claim = self.services.store.deliveries.claim_delivery(event, now, now + LEASE_MS, true);
        let (event, planned, lease) = match claim.await {
            Ok(DeliveryClaim::Claimed { event, deliveries, lease_ms }) => (event, deliveries, lease_ms),
            Ok(DeliveryClaim::Busy) => return Ok(None),
            Ok(DeliveryClaim::Settled) => return Ok(Some(false)),
            Err(e) => return Err(Step::Retry(e.to_string())),
        };
        let first = planned.is_none();
        let mut deliveries = planned.unwrap_or_else(|| first_plan(all, &event, now));
        let lacking = !carries(&deliveries, new.id);
        if lacking {
            match deliveries.iter_mut().find(|d| d.endpoint == new.id) {
                Some(cancelled) => cancelled.replan(now),
                None => deliveries.push(Delivery::new(new.id, now)),
            }
        }
        match self.services.store.deliveries.save_delivery(&event, lease, &deliveries, &[]).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(Step::Retry("an event's lease ran out while catching up".into()));
            }
            Err(e) => return Err(Step::Retry(e.to_string())),
        }
        // Whatever changed: a round's message that found the event held by this claim was
        // dropped as done, so its due deliveries need one.
        self.trigger_next(event.id(), &deliveries).await;
        Ok(Some(first || lacking))
    }
}
