//! The webhook-worker against its floor in turns. After the webhook run (its services stopped),
//! its delivered events are split into `TURNS` shares; on each, the floor (`webhook_floor`) and
//! then a fresh webhook-worker (`webhook_replay`) deliver them at the run's pace. The whole floor
//! followed by the whole replay put a minute between the two, and on this machine a process's
//! CPU per unit of work drifts by a fifth or more within a minute; here each replay turn has a
//! floor turn seconds before and after it, and the target is the median of the pairs
//! (`WebhookFloor::replay_ratio`).
//!
//! The floor goes first on each share, never the replay: the replay worker's last saves (which
//! remove its lease) can trail its last POST, and the floor's lease is conditional on there
//! being none, so a floor turn right after a replay turn on the same events could be refused.
use payment_platform::config::AwsArgs;
use serde::Serialize;

use super::error::BenchError;
use super::hooks::Receiver;
use super::stats::round;
use super::system::System;
use super::webhook_floor::{self, FloorSide, WebhookFloor, priced};
use super::webhook_replay::ReplaySide;

/// Shares of the events, each delivered by both sides.
const TURNS: usize = 5;

/// One pair of turns on the same events: the floor's and the webhook-worker's.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayPair {
    pub events: u64,
    pub floor_cpu_us_per_event: f64,
    pub floor_requests_per_event: f64,
    pub replay_cpu_us_per_event: f64,
}

impl ReplayPair {
    /// The floor turn's CPU per event had it made `requests` AWS requests per event.
    pub fn floor_priced_at(&self, requests: f64) -> f64 {
        priced(self.floor_cpu_us_per_event, self.floor_requests_per_event, requests)
    }
}

impl WebhookFloor {
    /// The webhook-worker's CPU per event over its floor's, `requests` AWS requests per event
    /// priced at each floor turn's own price: the median over the pairs.
    pub fn replay_ratio(&self, requests: f64) -> Option<f64> {
        let replay: Vec<f64> = self.pairs.iter().map(|p| p.replay_cpu_us_per_event).collect();
        let floor: Vec<f64> = self.pairs.iter().map(|p| p.floor_priced_at(requests)).collect();
        super::levels::median_ratio(&replay, &floor).map(|r| round(r, 2))
    }
}

/// The floor turns' figures together, each weighted by its events, with the replay's where every
/// floor turn has its replay turn (then also the pairs).
fn combine(per_receive: usize, floors: &[WebhookFloor], replays: &[f64]) -> Option<WebhookFloor> {
    let events: u64 = floors.iter().map(|f| f.events).sum();
    if events == 0 {
        return None;
    }
    let mean = |v: &mut dyn Iterator<Item = f64>| {
        round(v.zip(floors).map(|(x, f)| x * f.events as f64).sum::<f64>() / events as f64, 2)
    };
    let cpu_us_per_event = mean(&mut floors.iter().map(|f| f.cpu_us_per_event));
    let requests_per_event = mean(&mut floors.iter().map(|f| f.requests_per_event));
    let paired = replays.len() == floors.len();
    let replay_cpu_us_per_event = paired.then(|| mean(&mut replays.iter().copied()));
    let pairs = if paired {
        floors
            .iter()
            .zip(replays)
            .map(|(f, r)| ReplayPair {
                events: f.events,
                floor_cpu_us_per_event: f.cpu_us_per_event,
                floor_requests_per_event: f.requests_per_event,
                replay_cpu_us_per_event: *r,
            })
            .collect()
    } else {
        Vec::new()
    };
    Some(WebhookFloor { events, per_receive, cpu_us_per_event, requests_per_event, replay_cpu_us_per_event, pairs })
}

/// The floor and the replay in turns. `None` (with a warning) when the floor could not be
/// measured; without the replay's figures (warned too) when only the replay failed.
pub async fn measure(
    sys: &mut System,
    stack: &AwsArgs,
    receiver: &Receiver,
    pace: f64,
    per_receive: usize,
) -> Option<WebhookFloor> {
    run(sys, stack, receiver, pace, per_receive)
        .await
        .inspect_err(|e| eprintln!("warning: the webhook-worker's floor was not measured: {e}"))
        .ok()
}

async fn run(
    sys: &mut System,
    stack: &AwsArgs,
    receiver: &Receiver,
    pace: f64,
    per_receive: usize,
) -> Result<WebhookFloor, BenchError> {
    let per_receive = per_receive.clamp(1, 10);
    let clients = payment_platform::aws::clients(stack).await;
    let events = webhook_floor::delivered(&clients.dynamodb, &stack.table).await?;
    if events.is_empty() || pace <= 0.0 {
        return Err(BenchError::Unexpected("the webhook run left no delivered event".into()));
    }
    let floor = FloorSide::start(sys, stack).await?;
    let mut replay = ReplaySide::start(sys, stack)
        .await
        .inspect_err(|e| eprintln!("warning: the webhook-worker's replay was not measured: {e}"))
        .ok();
    let share = events.len().div_ceil(TURNS);
    eprintln!(
        "bench: the webhook-worker's floor and a fresh webhook-worker in turns, {} events at {pace:.1}/s in {} shares, {per_receive} a receive",
        events.len(),
        events.len().div_ceil(share)
    );
    let (mut floors, mut replays, mut failed) = (Vec::new(), Vec::new(), None);
    for part in events.chunks(share) {
        match floor.turn(part, pace, per_receive).await {
            Ok(f) => floors.push(f),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
        let Some(side) = replay.as_ref() else { continue };
        match side.turn(sys, part, receiver, pace).await {
            Ok(us) => replays.push(us),
            Err(e) => {
                eprintln!("warning: the webhook-worker's replay was not measured: {e}");
                if let Some(side) = replay.take() {
                    side.stop(sys).await;
                }
            }
        }
    }
    if let Some(side) = replay {
        side.stop(sys).await;
    }
    floor.stop(sys, stack).await;
    if let Some(e) = failed {
        return Err(e);
    }
    combine(per_receive, &floors, &replays).ok_or_else(|| BenchError::Unexpected("no floor turn measured".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floor(events: u64, cpu: f64) -> WebhookFloor {
        WebhookFloor {
            events,
            per_receive: 5,
            cpu_us_per_event: cpu,
            requests_per_event: 2.0,
            replay_cpu_us_per_event: None,
            pairs: Vec::new(),
        }
    }

    #[test]
    fn pairs_are_weighted_by_their_events_and_the_ratio_is_their_median() {
        let floors = [floor(100, 600.0), floor(300, 900.0), floor(100, 800.0)];
        // Priced at their own 2 requests: 600 / 600 = 1.0, 990 / 900 = 1.1, 1,200 / 800 = 1.5.
        let all = combine(5, &floors, &[600.0, 990.0, 1_200.0]).expect("events");
        assert_eq!((all.events, all.cpu_us_per_event, all.replay_cpu_us_per_event), (500, 820.0, Some(954.0)));
        assert_eq!(all.pairs.len(), 3);
        assert_eq!(all.replay_ratio(2.0), Some(1.1));
        // At 4 requests each floor turn is priced two thirds higher: 990 / 1,500 = 0.66 is the median then.
        assert_eq!(all.replay_ratio(4.0), Some(0.66));
        assert_eq!(combine(5, &[], &[]).map(|f| f.events), None);
    }

    #[test]
    fn a_replay_that_failed_part_way_leaves_the_floor_alone() {
        let floors = [floor(100, 600.0), floor(100, 800.0)];
        let half = combine(5, &floors, &[700.0]).expect("events");
        assert_eq!((half.events, half.cpu_us_per_event, half.replay_cpu_us_per_event), (200, 700.0, None));
        assert!(half.pairs.is_empty());
        assert_eq!(half.replay_ratio(2.0), None);
    }
}
