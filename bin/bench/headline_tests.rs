//! The headline's figures, last line and targets (`headline`).
use super::*;

fn headline_for_tests() -> Headline {
    Headline {
        concurrency: 64,
        api_vs_floor: Some(0.8567),
        api_vs_floor_median_min: Some(0.9),
        api_added_p99_ms: None,
        settle_vs_accept: Some(1.0),
        settle_vs_api_alone: Some(0.5),
        settle_workers: Some(2),
        aws_requests_per_payment: None,
        aws_create_per_payment: None,
        aws_charge_per_payment: None,
        aws_refund_per_refund: None,
        max_rss_mb: Some(23),
        api_cpu_us_per_payment: Some(812.4),
        floor_cpu_us_per_payment: Some(640.0),
        load_cpu_us_per_payment: None,
        api_cpu_bound_ratio: Some(0.876),
        worker_cpu_us_per_payment: None,
        webhook_p50_ms: Some(41.0),
        webhook_p99_ms: None,
        webhook_aws_requests_per_delivered: Some(13.333),
        webhook_run_aws_requests_per_delivered: None,
        webhook_cpu_us_per_delivered: None,
        webhook_requests_per_event: Some(3.456),
        webhook_cpu_us_per_event: None,
        webhook_delivery_p99_ms: Some(812.0),
        floor_cpu_us_per_request: None,
        worker_floor_ratio: Some(1.234),
        worker_floor_ratio_phase: Some(1.234),
        worker_requests_per_payment: Some(4.0),
        worker_floor_ratio_averaged: None,
        worker_price_us_per_request: None,
        webhook_price_us_per_request: None,
        webhook_floor_ratio: None,
        webhook_post_floor_ratio: None,
        webhook_post_floor_ratio_averaged: None,
        webhook_post_floor_us: None,
        webhook_measured_post_floor_ratio: Some(1.104),
        webhook_op_floor_us_per_event: None,
        webhook_op_floor_ratio: Some(1.156),
        webhook_replay_cpu_us_per_event: None,
        webhook_replay_floor_ratio: None,
        webhook_replay_floor_ratio_whole: None,
        open_loop_settle_ratio: None,
        open_loop_p50_ms: None,
        open_loop_p99_ms: None,
        emulator_cpu_us_per_call: Some(610.4),
        api_cpu_us_over_bare: Some(151.4),
        bare_cpu_us_over_floor: None,
        quiet_api_cpu_us_over_bare: Some(81.0),
        quiet_bare_cpu_us_over_floor: Some(60.0),
        quiet_api_cpu_us_over_floor: None,
        quiet_api_cpu_over_floor_share: None,
        targets: vec![],
    }
}

#[test]
fn the_last_line_has_fixed_decimals_and_na() {
    let h = headline_for_tests();
    assert_eq!(
        h.last_line(),
        "api_vs_floor=0.86 settle_vs_accept=1.00 aws_requests_per_payment=n/a max_rss_mb=23 \
         api_cpu_us_per_payment=812 floor_cpu_us_per_payment=640 worker_cpu_us_per_payment=n/a \
         open_loop_settle_ratio=n/a webhook_p50_ms=41 webhook_p99_ms=n/a \
         webhook_aws_requests_per_delivered=13.3 webhook_cpu_us_per_delivered=n/a emulator_cpu_us_per_call=610 \
         webhook_requests_per_event=3.46 webhook_cpu_us_per_event=n/a webhook_delivery_p99_ms=812 \
         worker_floor_ratio=1.23 worker_floor_ratio_phase=1.23 webhook_floor_ratio=n/a webhook_post_floor_ratio=n/a \
         api_cpu_bound_ratio=0.88 \
         api_vs_floor_median_min=0.90 api_cpu_us_over_bare=151 bare_cpu_us_over_floor=n/a \
         webhook_measured_post_floor_ratio=1.10 webhook_op_floor_ratio=1.16 webhook_replay_floor_ratio=n/a \
         webhook_replay_floor_ratio_whole=n/a \
         quiet_api_cpu_us_over_bare=81 quiet_bare_cpu_us_over_floor=60 quiet_api_cpu_us_over_floor=n/a \
         quiet_api_cpu_over_floor_share=n/a"
    );

    // 2.5 requests at 300 µs and a 300 µs POST: 1,050 µs of floor for 1,260 of CPU.
    let bare = super::super::bare::BareHttp {
        levels: vec![],
        api_cpu_us_per_payment: None,
        bare_cpu_us_per_payment: None,
        post_cpu_us: Some(300.0),
    };
    let priced = Headline {
        webhook_aws_requests_per_delivered: Some(2.5),
        webhook_price_us_per_request: Some(300.0),
        webhook_cpu_us_per_event: Some(1260.0),
        ..h
    };
    assert_eq!(priced.with_bare(Some(&bare)).webhook_measured_post_floor_ratio, Some(1.2));
}

#[test]
fn worker_pairs_replace_the_workers_ratio_and_its_target_and_keep_the_phases() {
    use super::super::worker_pairs::Pair;
    let phase = Headline {
        worker_floor_ratio: Some(1.3),
        worker_floor_ratio_phase: Some(1.3),
        worker_requests_per_payment: Some(4.0),
        targets: vec![target("worker_floor_ratio", Some(1.3), "<= 1.2", |v| v <= 1.2)],
        ..headline_for_tests()
    };
    let pair = |w, f| Pair { worker_us_per_payment: w, floor_us_per_request: f };
    // 880 / (4 × 200) = 1.1, 1,000 / (4 × 250) = 1.0, 1,040 / (4 × 200) = 1.3: median 1.1.
    let paired = phase.clone().with_worker_pairs(&[pair(880.0, 200.0), pair(1_000.0, 250.0), pair(1_040.0, 200.0)]);
    assert_eq!((paired.worker_floor_ratio, paired.worker_floor_ratio_phase), (Some(1.1), Some(1.3)));
    assert_eq!((paired.targets[0].value, paired.targets[0].met), (Some(1.1), Some(true)));
    let unpaired = phase.with_worker_pairs(&[]);
    assert_eq!((unpaired.worker_floor_ratio, unpaired.targets[0].met), (Some(1.3), Some(false)));
}

#[test]
fn the_quiet_run_judges_the_api_against_the_floors_client_and_the_bare_server() {
    use super::super::quiet::{API, BARE, FLOOR, QuietRun, QuietSide};
    let side = |name: &str, cpu| QuietSide { name: name.into(), cpu_us_per_payment: Some(cpu), ..Default::default() };
    // 250 - 145 = 105 over the floor's client (missed), 0.72 of its own 145 (missed); 250 - 190 =
    // 60 over the bare server (met).
    let quiet = QuietRun {
        concurrency: 16,
        slices_per_side: 5,
        sides: vec![side(FLOOR, 145.0), side(BARE, 190.0), side(API, 250.0)],
        api_matches_floor: Some(true),
    };
    // A target of the headline judged on `quiet`: its value and whether it is met.
    let judged = |quiet: &QuietRun, name| {
        let h = Headline { targets: vec![], ..headline_for_tests() }.with_quiet(Some(quiet));
        h.targets.iter().find(|t| t.name == name).map(|t| (t.value, t.met))
    };
    assert_eq!(judged(&quiet, "quiet_api_cpu_us_over_floor"), Some((Some(105.0), Some(false))));
    assert_eq!(judged(&quiet, "quiet_api_cpu_over_floor_share"), Some((Some(0.72), Some(false))));
    assert_eq!(judged(&quiet, "quiet_api_cpu_us_over_bare"), Some((Some(60.0), Some(true))));
    // The same 105 µs over a floor's client of 300 µs, on a machine half as fast: 0.35 (met).
    let slow = QuietRun { sides: vec![side(FLOOR, 300.0), side(BARE, 345.0), side(API, 405.0)], ..quiet };
    assert_eq!(judged(&slow, "quiet_api_cpu_over_floor_share"), Some((Some(0.35), Some(true))));
    let unmeasured = Headline { targets: vec![], ..headline_for_tests() }.with_quiet(None);
    assert!(unmeasured.targets.iter().all(|t| t.met.is_none()), "no quiet run, nothing judged");
}
