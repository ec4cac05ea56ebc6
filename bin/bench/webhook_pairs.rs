//! The webhook-worker against its floor in turns. After the webhook run (its services stopped),
//! its delivered events are split into `TURNS` shares; on each, the floor (`webhook_floor`) and
//! a fresh webhook-worker (`webhook_replay`) deliver them at the run's pace, one after the other
//! and the other way round on the next share, as the API's levels alternate with the floor's.
//! The whole floor followed by the whole replay put a minute between the two, and on this
//! machine every process's CPU per unit of work drifts by up to a fifth within a minute; each
//! pair here is a few seconds apart, and the target is their median
//! (`WebhookFloor::replay_ratio`).
use payment_platform::config::AwsArgs;

use super::error::BenchError;
use super::hooks::Receiver;
use super::system::System;
use super::webhook_floor::{self, FloorSide, ReplayPair, WebhookFloor};
use super::webhook_replay::ReplaySide;

/// Shares of the events, each delivered by both sides.
const TURNS: usize = 5;

/// The floor and the replay in turns; `None` (with a warning) when either could not be measured.
pub async fn measure(
    sys: &mut System,
    stack: &AwsArgs,
    receiver: &Receiver,
    pace: f64,
    per_receive: usize,
) -> Option<WebhookFloor> {
    run(sys, stack, receiver, pace, per_receive)
        .await
        .inspect_err(|e| eprintln!("warning: the webhook-worker's floor and replay were not measured: {e}"))
        .ok()
}

async fn run(
    sys: &mut System,
    stack: &AwsArgs,
    receiver: &Receiver,
    pace: f64,
    per_receive: usize,
) -> Result<WebhookFloor, BenchError> {
    let clients = payment_platform::aws::clients(stack).await;
    let events = webhook_floor::delivered(&clients.dynamodb, &stack.table).await?;
    if events.is_empty() || pace <= 0.0 {
        return Err(BenchError::Unexpected("the webhook run left no delivered event".into()));
    }
    let floor = FloorSide::start(sys, stack).await?;
    let replay = match ReplaySide::start(sys, stack).await {
        Ok(replay) => replay,
        Err(e) => {
            floor.stop(sys, stack).await;
            return Err(e);
        }
    };
    let share = events.len().div_ceil(TURNS);
    eprintln!(
        "bench: the webhook-worker's floor and a fresh webhook-worker in turns, {} events at {pace:.1}/s in {} shares, {per_receive} a receive",
        events.len(),
        events.len().div_ceil(share)
    );
    let mut pairs = Vec::new();
    let mut failed = None;
    for (i, part) in events.chunks(share).enumerate() {
        let (f, r) = if i % 2 == 0 {
            let f = floor.turn(part, pace, per_receive).await;
            (f, replay.turn(sys, part, receiver, pace).await)
        } else {
            let r = replay.turn(sys, part, receiver, pace).await;
            (floor.turn(part, pace, per_receive).await, r)
        };
        match (f, r) {
            (Ok(f), Ok(r)) => pairs.push(ReplayPair {
                events: f.events,
                floor_cpu_us_per_event: f.cpu_us_per_event,
                floor_requests_per_event: f.requests_per_event,
                replay_cpu_us_per_event: r,
            }),
            (Err(e), _) | (_, Err(e)) => {
                failed = Some(e);
                break;
            }
        }
    }
    replay.stop(sys).await;
    floor.stop(sys, stack).await;
    if let Some(e) = failed {
        return Err(e);
    }
    WebhookFloor::of_pairs(per_receive.clamp(1, 10), pairs)
        .ok_or_else(|| BenchError::Unexpected("no pair of turns measured".into()))
}
