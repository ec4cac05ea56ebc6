//! The Postman collection (`postman/`), run with newman against the whole system as real
//! processes: every route, the polling requests, refunds and the error cases, as a client sees them.
//! newman comes from `postman/package-lock.json` (`make postman-install`); without it this test fails.
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::bank::log_dir;
use crate::support::system::System;

/// The requests that poll until final, and the payment `Status` each must end with.
const POLLS: &[(&str, &str)] = &[
    ("Poll approved payment until final", "SUCCEEDED"),
    ("Poll declined payment until final", "DECLINED"),
    ("Poll partial refund until final", "SUCCEEDED"),
    ("Poll full refund until final", "SUCCEEDED"),
];

fn newman() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("postman/node_modules/.bin/newman");
    assert!(
        bin.exists(),
        "newman is not installed ({} is missing): run `make postman-install` (needs node and npm)",
        bin.display()
    );
    bin
}

/// The names of every request in a collection's items, folders included.
fn request_names(items: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for item in items.as_array().into_iter().flatten() {
        match item.get("item") {
            Some(children) => names.extend(request_names(children)),
            None => names.extend(item["name"].as_str().map(str::to_owned)),
        }
    }
    names
}

/// The body of one execution's response (newman's JSON report keeps it as a serialised Buffer).
fn response_body(execution: &Value) -> Value {
    let bytes: Vec<u8> = execution["response"]["stream"]["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b.as_u64().map(|b| b as u8)).collect())
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_postman_collection_passes_against_the_running_system_fresh_and_used_again() {
    // A slow bank (1 s a call), so each poll request finds the payment or refund in flight first
    // and has to wait for Retry-After and run again.
    // A write limit the collection's last folder spends on purpose (and the rest stays under).
    let env = [("WORKER_WAIT_SECS", "1"), ("RATE_LIMIT_WRITES_PER_SEC", "30")];
    let sys = System::start("postman", &[("BANK_LATENCY_MS", "1000")], &env).await;
    run_collection(&sys, 1).await;
    // Used as `make dev` is: another endpoint subscribed (its webhook inbox), and the data of the
    // first run still there. The collection passes again, and as often as it is run.
    let inbox = sys.app.post_json("/webhook-endpoints", &serde_json::json!({"Url": "http://127.0.0.1:9/inbox"})).await;
    assert_eq!(inbox.status(), 201);
    run_collection(&sys, 2).await;
}

/// Runs the collection once against `sys` (its `n`th run) and checks every assertion passed.
async fn run_collection(sys: &System, n: u64) {
    let newman = newman();
    let postman = Path::new(env!("CARGO_MANIFEST_DIR")).join("postman");
    let report = log_dir().join(format!("postman-report-{n}.json"));
    let _ = std::fs::remove_file(&report);

    let mut cmd = Command::new(&newman);
    cmd.arg("run")
        .arg(postman.join("payment-platform.postman_collection.json"))
        .arg("--environment")
        .arg(postman.join("local.postman_environment.json"))
        .args(["--env-var", &format!("baseURL={}", sys.app.url)])
        .args(["--reporters", "cli,json", "--reporter-json-export"])
        .arg(&report)
        .args(["--timeout", "300000", "--timeout-request", "20000", "--color", "off"]);
    // newman's output goes through println! so the test harness captures it (shown on failure).
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().expect("run newman");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));

    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("newman wrote no JSON report at {} ({e})", report.display()));
    let report: Value = serde_json::from_str(&text).expect("newman's JSON report");
    let run = &report["run"];
    let failures: Vec<String> = run["failures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| format!("{}: {}", f["source"]["name"], f["error"]["message"]))
        .collect();
    assert!(failures.is_empty(), "newman failures:\n{}", failures.join("\n"));
    assert_eq!(run["stats"]["assertions"]["failed"], 0, "failed assertions: {}", run["stats"]);
    assert!(out.status.success(), "newman exited with {}", out.status);

    // Every request of the collection ran (none skipped, no folder left out).
    let executions = run["executions"].as_array().expect("executions");
    let collection: Value = serde_json::from_str(
        &std::fs::read_to_string(postman.join("payment-platform.postman_collection.json")).unwrap(),
    )
    .unwrap();
    for name in request_names(&collection["item"]) {
        assert!(executions.iter().any(|e| e["item"]["name"] == name.as_str()), "{name} did not run");
    }
    for (name, status) in POLLS {
        let runs: Vec<&Value> = executions.iter().filter(|e| e["item"]["name"] == *name).collect();
        assert!(runs.len() >= 2, "{name} ran {} time(s): it never polled again", runs.len());
        let last = runs.last().unwrap();
        let body = response_body(last);
        assert_eq!(last["response"]["code"], 200, "{name}: {body}");
        assert_eq!(body["Status"], *status, "{name} ended with {body}");
        let refunds = body["Refunds"].as_array().expect("Refunds");
        assert!(refunds.iter().all(|r| r["Status"] == "SUCCEEDED"), "{name}: refunds not final: {body}");
        // Every earlier run of the request was a non-final state that made it poll again.
        for earlier in &runs[..runs.len() - 1] {
            let b = response_body(earlier);
            let in_flight = ["PENDING", "PROCESSING"].contains(&b["Status"].as_str().unwrap_or(""))
                || b["Refunds"].as_array().into_iter().flatten().any(|r| r["Status"] != "SUCCEEDED");
            assert!(in_flight, "{name} polled again after a final answer: {b}");
        }
        println!("{name}: {} request(s), ended {status}", runs.len());
    }
    let full = response_body(executions.iter().rfind(|e| e["item"]["name"] == "Poll full refund until final").unwrap());
    assert_eq!((full["Refunded"].as_bool(), full["RefundedAmount"].as_u64()), (Some(true), Some(2500)), "{full}");
    assert_eq!(full["Refunds"].as_array().map(Vec::len), Some(2), "{full}");
    // The bank agrees: the approved payment charged once, 2500 refunded in all (the idempotent
    // replays moved no money).
    let ledger = sys.bank.ledger().await;
    let approved = full["PaymentID"].as_str().unwrap();
    assert_eq!(ledger["ChargesByReference"][approved], 1, "{ledger}");
    // 2500 of the approved payment and 500 of the manual-capture one (folder 9) per run.
    assert_eq!(ledger["RefundedAmount"], (2500 + 500) * n, "{ledger}");
    // Folder 9 captured 3000 in two parts and had 1500 released by a cancel, per run; nothing
    // stays held.
    let holds = &ledger["Holds"];
    assert_eq!(
        (holds["CapturedAmount"].as_u64(), holds["ReleasedAmount"].as_u64()),
        (Some(3000 * n), Some(1500 * n)),
        "{holds}"
    );
    assert_eq!((holds["HeldAmount"].as_u64(), &holds["OverCaptured"]), (Some(0), &serde_json::json!([])), "{holds}");
}
