//! `make dev` as a user runs it: `localstack/dev.sh`, on ports and an emulator of its own, with
//! the binaries this test run built. What dies is restarted, the data and the bank's books survive
//! a kill -9 of the bank and a restart of the whole thing (`reconcile` then finds no mismatch), and
//! SIGTERM or Ctrl-C stops every process it started, within a bound even under load and signalled
//! to the whole process group.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use payment_platform::testing::process::{Child, tail};
use serde_json::Value;

use super::support::app::{card_request, eventually};
use super::support::bank::free_port;
use super::support::dashboard::Visitor;
use super::support::procfs::{self, alive};

const UP: Duration = Duration::from_secs(120);

/// Two consecutive free ports, for a worker kind that runs twice.
fn free_pair() -> u16 {
    payment_platform::testing::process::free_ports(2).expect("two free ports")
}

struct Dev {
    child: Child,
    state: PathBuf,
    http: u16,
    log: PathBuf,
}

impl Dev {
    /// The `run`-th start: its output goes to `dev-<run>.log`.
    fn start(state: &Path, env: &[(&str, String)], run: u32) -> Self {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_api")).parent().unwrap().to_owned();
        let log_path = state.join(format!("dev-{run}.log"));
        // As from a terminal: its own process group (so a group signal reaches only it) and
        // SIGINT not ignored (a background launcher would pass on an ignored SIGINT).
        let launcher = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.setsid(); \
                        os.execvp('bash', ['bash', sys.argv[1]])";
        let dirs =
            [("DEV_BIN_DIR", bin_dir), ("DEV_STATE_DIR", state.to_owned()), ("EMULATOR_STATE", state.join("emulator"))];
        let vars: Vec<(String, String)> = dirs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.display().to_string()))
            .chain([("RUST_LOG".to_owned(), "warn".to_owned())])
            .chain(env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())))
            .collect();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/localstack/dev.sh");
        let child = Child::spawn(Path::new("python3"), &["-c", launcher, script], "dev.sh", &log_path, &vars, &[])
            .expect("start dev.sh");
        let http = env.iter().find(|(k, _)| *k == "HTTP_PORT").unwrap().1.parse().unwrap();
        Self { child, state: state.to_owned(), http, log: log_path }
    }

    fn pid_of(&self, name: &str) -> Option<u32> {
        std::fs::read_to_string(self.state.join("pids").join(format!("{name}.pid"))).ok()?.trim().parse().ok()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls until the whole listing is up and answering. If dev.sh gives up first, or the
    /// deadline passes, the failure shows the end of its log (CI keeps output, not files).
    async fn up(&mut self, components: &[&str]) -> Vec<u32> {
        let deadline = Instant::now() + UP;
        loop {
            let up = reqwest::get(self.url("/status")).await.is_ok_and(|r| r.status() == 200);
            let listed = self.log().contains("dev: up");
            let pids: Option<Vec<u32>> = components.iter().map(|c| self.pid_of(c)).collect();
            if let Some(pids) = pids.filter(|_| up && listed) {
                return pids;
            }
            if let Some(status) = self.child.exited() {
                panic!("make dev exited ({status}) before it was up; its log ends:\n{}", tail(&self.log, 40));
            }
            assert!(Instant::now() < deadline, "make dev not up within {UP:?}; its log ends:\n{}", tail(&self.log, 40));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn exited(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.child.exited().is_none() {
            assert!(Instant::now() < deadline, "dev.sh did not stop; see {}", self.log.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, sig: &str, target: String) {
        assert!(Command::new("kill").args([sig, "--", &target]).status().unwrap().success(), "kill {sig} {target}");
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        // Whatever happened, leave nothing behind: the group, then the emulator by its pid file.
        let group = format!("-{}", self.child.pid());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
        self.child.wait();
        let _ = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/localstack/emulator.sh"))
            .arg("stop")
            .env("EMULATOR_STATE", self.state.join("emulator"))
            .output();
    }
}

async fn token(http: &reqwest::Client, dev: &Dev) -> String {
    let body: Value = http.get(dev.url("/token")).send().await.unwrap().json().await.unwrap();
    body["AuthenticationToken"].as_str().unwrap().to_owned()
}

/// How many times the bank's books say `id` was charged.
async fn bank_charges(http: &reqwest::Client, bank: u16, id: &str) -> u64 {
    let ledger: Value = http.get(format!("http://127.0.0.1:{bank}/ledger")).send().await.unwrap().json().await.unwrap();
    ledger["ChargesByReference"][id].as_u64().unwrap_or(0)
}

/// `make reconcile` against this `make dev`: its emulator and its bank, the last 24 hours.
async fn reconcile(emulator: u16, bank: u16) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_reconcile"))
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{emulator}"))
        .env("BANK_URL", format!("http://127.0.0.1:{bank}"))
        .envs([("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_REGION", "us-east-1")])
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .env_remove("DYNAMODB_TABLE")
        .kill_on_drop(true)
        .output()
        .await
        .expect("reconcile runs");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), printed)
}

async fn payment(http: &reqwest::Client, dev: &Dev, token: &str, id: &str) -> Option<Value> {
    let resp = http.get(dev.url(&format!("/payments/{id}"))).bearer_auth(token).send().await.ok()?;
    (resp.status() == 200 && !resp.headers().contains_key("retry-after")).then_some(())?;
    resp.json().await.ok()
}

/// What `make dev` runs with `PAYMENT_WORKERS=2`, as its start-up listing names them.
const COMPONENTS_WITH_TWO_PAYMENT_WORKERS: [&str; 9] = [
    "emulator",
    "bank-simulator",
    "api",
    "payment-worker-1",
    "payment-worker-2",
    "refund-worker-1",
    "webhook-worker-1",
    "webhook-inbox",
    "dashboard",
];
#[tokio::test]
async fn make_dev_restarts_what_dies_keeps_its_data_and_stops_everything_it_started() {
    let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dev-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&state).unwrap();
    let (payment_base, refund_base, inbox) = (free_pair(), free_port(), free_port());
    let (bank, emulator) = (free_port(), free_port());
    let env = [
        ("HTTP_PORT", free_port().to_string()),
        ("BANK_PORT", bank.to_string()),
        ("ADMIN_PORT", free_port().to_string()),
        ("EMULATOR_PORT", emulator.to_string()),
        ("PAYMENT_WORKER_PORT", payment_base.to_string()),
        ("REFUND_WORKER_PORT", refund_base.to_string()),
        ("PAYMENT_WORKERS", "2".into()),
        ("REFUND_WORKERS", "1".into()),
        ("WEBHOOK_WORKER_PORT", free_port().to_string()),
        ("INBOX_PORT", inbox.to_string()),
        ("DASHBOARD_PORT", free_port().to_string()),
    ];
    let components = COMPONENTS_WITH_TWO_PAYMENT_WORKERS;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    let mut dev = Dev::start(&state, &env, 1);
    let pids = dev.up(&components).await;
    let listing = dev.log();
    for (name, port) in [("payment-worker-2", payment_base + 1), ("refund-worker-1", refund_base)] {
        assert!(listing.contains(name) && listing.contains(&format!(":{port}")), "{name} listed: {listing}");
        let status = http.get(format!("http://127.0.0.1:{port}/status")).send().await.unwrap();
        assert_eq!(status.status(), 200, "{name} answers on its own port");
    }
    let token = token(&http, &dev).await;
    let created: Value = http
        .post(dev.url("/payments"))
        .bearer_auth(&token)
        .json(&card_request("4242424242424242", 1234))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["paymentID"].as_str().unwrap().to_owned();
    let settled = eventually(UP, "the payment to settle", || payment(&http, &dev, &token, &id)).await;
    assert_eq!(settled["Status"], "SUCCEEDED");
    // The inbox registered itself and received the payment's events, signatures checked.
    let inbox_url = format!("http://127.0.0.1:{inbox}/");
    let received = eventually(UP, "the inbox to receive payment.succeeded", || async {
        let got: Value = http.get(&inbox_url).send().await.ok()?.json().await.ok()?;
        let events = got["Received"].as_array()?.clone();
        events
            .iter()
            .any(|r| r["Event"]["type"] == "payment.succeeded" && r["Event"]["data"]["PaymentID"] == id)
            .then_some(events)
    })
    .await;
    assert!(received.iter().all(|r| r["Verified"] == true), "every delivery verified: {received:?}");
    // The dashboard is in the listing, and one click there signs in as the development merchant,
    // who sees the payment.
    let dashboard = env.iter().find(|(k, _)| *k == "DASHBOARD_PORT").unwrap().1.clone();
    let dashboard_url = format!("http://127.0.0.1:{dashboard}");
    assert!(listing.contains(&dashboard_url) && listing.contains("one click"), "the dashboard listed: {listing}");
    let mut staff = Visitor::new(&dashboard_url);
    staff.sign_in_dev().await;
    let list = staff.get("/payments").await;
    assert!(list.body.contains(&id[..8]) && list.body.contains("EUR 12.34"), "{}", list.body);
    assert!(dev.log().contains("payment.succeeded"), "the inbox prints each delivery");

    // kill -9 a worker, the API and the bank: each comes back, under a new pid, with the data
    // and the books intact.
    for (name, probe) in [
        ("payment-worker-1", format!("http://127.0.0.1:{payment_base}/status")),
        ("api", dev.url("/status")),
        ("bank-simulator", format!("http://127.0.0.1:{bank}/status")),
    ] {
        let old = dev.pid_of(name).unwrap();
        dev.signal("-KILL", old.to_string());
        eventually(UP, &format!("{name} to be restarted"), || async {
            let fresh = dev.pid_of(name).filter(|p| *p != old)?;
            let answers = http.get(&probe).send().await.is_ok_and(|r| r.status() == 200);
            answers.then_some(fresh)
        })
        .await;
        assert!(dev.log().contains(&format!("dev: {name} (pid {old}) exited")), "the death of {name} is shown");
    }
    assert_eq!(
        payment(&http, &dev, &token, &id).await.expect("the payment, after the API's restart")["Status"],
        "SUCCEEDED"
    );
    assert_eq!(bank_charges(&http, bank, &id).await, 1, "the bank's books, after its kill -9");

    // SIGTERM to dev.sh alone stops every process it started, the emulator included.
    let mut running: Vec<u32> = components.iter().filter_map(|c| dev.pid_of(c)).collect();
    running.extend(pids);
    dev.signal("-TERM", dev.child.pid().to_string());
    dev.exited(UP).await;
    let left: Vec<u32> = running.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "still running after SIGTERM: {left:?}");
    drop(dev);

    // Started again, the data is still there; Ctrl-C (SIGINT to the group) stops everything.
    let mut dev = Dev::start(&state, &env, 2);
    let pids = dev.up(&components).await;
    let token = self::token(&http, &dev).await;
    let kept = payment(&http, &dev, &token, &id).await.expect("the payment survives a restart of make dev");
    assert_eq!(kept["Status"], "SUCCEEDED");
    assert_eq!(bank_charges(&http, bank, &id).await, 1, "the bank's books survive a restart of make dev");
    assert!(state.join("bank/books.db").exists(), "the books are in the state folder");
    let (ok, printed) = reconcile(emulator, bank).await;
    assert!(ok && printed.contains("mismatches=0"), "make reconcile after a restart of make dev:\n{printed}");
    let endpoints: Value =
        http.get(dev.url("/webhook-endpoints")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(endpoints["WebhookEndpoints"].as_array().unwrap().len(), 1, "the inbox replaced its registration");
    dev.signal("-INT", format!("-{}", dev.child.pid()));
    dev.exited(UP).await;
    let left: Vec<u32> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "still running after Ctrl-C: {left:?}");
}

/// The processes whose process group is `pgid`, zombies left out.
fn group_members(pgid: u32) -> Vec<u32> {
    procfs::all().into_iter().filter(|p| p.group == pgid && !p.zombie).map(|p| p.pid).collect()
}

/// What `make dev` promises a service manager or a closing terminal: SIGTERM to its process group
/// stops every process it started, the emulator included, within `STOPPED` even under load (the
/// workers' running jobs finish, the bank still up), and the emulator saves the data first.
#[tokio::test]
async fn make_dev_stops_within_its_bound_on_a_group_sigterm_under_load_and_keeps_its_data() {
    const STOPPED: Duration = Duration::from_secs(15);
    let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dev-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&state).unwrap();
    let emulator = free_port();
    let env = [
        ("HTTP_PORT", free_port().to_string()),
        ("BANK_PORT", free_port().to_string()),
        ("ADMIN_PORT", free_port().to_string()),
        ("EMULATOR_PORT", emulator.to_string()),
        ("PAYMENT_WORKER_PORT", free_pair().to_string()),
        ("REFUND_WORKER_PORT", free_port().to_string()),
        ("WEBHOOK_WORKER_PORT", free_port().to_string()),
        ("INBOX_PORT", free_port().to_string()),
        ("DASHBOARD_PORT", free_port().to_string()),
        ("PAYMENT_WORKERS", "2".into()),
    ];
    let components = COMPONENTS_WITH_TWO_PAYMENT_WORKERS;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut written: Vec<String> = Vec::new();
    for run in 1..=3 {
        let mut dev = Dev::start(&state, &env, run);
        let mut pids = dev.up(&components).await;
        let token = token(&http, &dev).await;
        // What the previous run wrote before its stop is there.
        for id in &written {
            let resp = http.get(dev.url(&format!("/payments/{id}"))).bearer_auth(&token).send().await.unwrap();
            assert_eq!(resp.status(), 200, "run {run}: payment {id} written before the last stop");
        }
        // Load: 200 payments, 16 at a time, so the workers have jobs running at the signal.
        let created = futures::future::join_all((0..16).map(|_| {
            let (http, token, url) = (http.clone(), token.clone(), dev.url("/payments"));
            async move {
                let mut ids = Vec::new();
                for i in 0..12 {
                    let body = card_request("4242424242424242", 1000 + i);
                    let resp = http.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                    assert_eq!(resp.status(), 202, "a payment accepted");
                    let created: Value = resp.json().await.unwrap();
                    ids.push(created["paymentID"].as_str().unwrap().to_owned());
                }
                ids
            }
        }))
        .await;
        written = created.into_iter().flatten().collect();

        pids.extend(components.iter().filter_map(|c| dev.pid_of(c)));
        pids.sort_unstable();
        pids.dedup();
        let group = dev.child.pid();
        let signalled = Instant::now();
        dev.signal("-TERM", format!("-{group}"));
        let deadline = signalled + STOPPED;
        loop {
            let listening = std::net::TcpStream::connect(("127.0.0.1", emulator)).is_ok();
            let mut left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
            left.extend(group_members(group));
            if !listening && left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "run {run}: {:?} after a group SIGTERM, the emulator {}, still running: {left:?}; see {}",
                STOPPED,
                if listening { "still listening" } else { "closed" },
                dev.log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!("run {run}: everything stopped {:?} after the group SIGTERM", signalled.elapsed());
        dev.exited(STOPPED).await;
        assert!(dev.log().contains("dev: stopped"), "run {run}: dev.sh stopped in order");
        drop(dev);
    }
}
