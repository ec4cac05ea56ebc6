//! The API against hostile clients: real processes, and raw sockets where the attack is below
//! HTTP (a stalled database: `stalled_database`).
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::app::{TestApp, card_request, eventually};
use super::support::metrics::sample;
use super::support::system::{Proc, System, Worker, api_alone};

/// One HTTP/1.1 answer read off a raw socket.
struct RawAnswer {
    status: u16,
    head: String,
    body: String,
}

/// Reads one answer (head, then `Content-Length` bytes of body), failing after `within`.
async fn read_answer(s: &mut TcpStream, within: Duration) -> RawAnswer {
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string();
                let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("a status line");
                return RawAnswer { status, head, body };
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) => panic!("closed before a full answer: {:?}", String::from_utf8_lossy(&buf)),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => panic!("read failed: {e}"),
            Err(_) => panic!("no full answer within {within:?}: {:?}", String::from_utf8_lossy(&buf)),
        }
    }
}

async fn send_raw(port: u16, request: &[u8], within: Duration) -> RawAnswer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(request).await.unwrap();
    read_answer(&mut s, within).await
}

/// True once the server has closed the connection (EOF or reset); false if it is still open
/// after `within`. Bytes the server sends first (an answer) are read and ignored.
async fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

fn series(text: &str, name: &str) -> usize {
    text.lines().filter(|l| l.starts_with(&format!("{name}{{"))).count()
}

#[tokio::test]
async fn invented_methods_grow_neither_the_metrics_nor_the_memory_and_metrics_are_not_public() {
    // On one worker thread, as infra/terraform runs an api task of under one vCPU.
    let (api, _) = api_alone("odd-methods", &[("TOKIO_WORKER_THREADS", "1")]).await;
    let public = reqwest::get(format!("http://127.0.0.1:{}/metrics", api.port)).await.unwrap();
    assert_eq!(public.status(), 404, "the public port serves no metrics");
    let body: Value = public.json().await.unwrap();
    assert_eq!(body["Error"]["Code"], "route_not_found");

    // One odd request first, so its series (method OTHER) exists before the attack.
    let first = send_raw(api.port, b"M0FIRST /zzz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", SECS_5).await;
    assert!(first.status >= 400, "{}", first.head);
    let before = api.metrics().await;
    let port = api.port;
    let attackers: Vec<_> = (0..16)
        .map(|t| {
            tokio::spawn(async move {
                for i in 0..200 {
                    let method = format!("M{t}X{i}{}", uuid::Uuid::new_v4().simple());
                    let req = format!("{method} /zzz{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                    send_raw(port, req.as_bytes(), SECS_5).await;
                }
            })
        })
        .collect();
    for a in attackers {
        a.await.unwrap();
    }
    let after = api.metrics().await;
    assert!(!after.contains("M0X") && !after.contains("M15X"), "an invented method became a label");
    let other = sample(&after, "http_requests_total", &["method=\"OTHER\""]).unwrap_or(0.0);
    assert!(other >= 3201.0, "the attack was counted, under OTHER: {other}");
    assert_eq!(series(&after, "http_requests_total"), series(&before, "http_requests_total"), "{after}");
    assert!(after.len() < before.len() + 2048, "metrics grew from {} to {} bytes", before.len(), after.len());
    // The recorder keeps each latency sample until it is folded into its histogram: without the
    // upkeep thread, an API nobody scrapes grows by every request it serves.
    let threads = api.thread_names();
    assert!(threads.iter().any(|t| t == "metrics-upkeep"), "no metrics upkeep thread among {threads:?}");
    peak_under_50_mb(&api, "3,200 odd requests");
    // This run's start-up line: the log file keeps earlier runs' lines above it.
    let log = std::fs::read_to_string(&api.log).unwrap();
    let started = log.lines().rfind(|l| l.contains("effective configuration")).expect("the api's start-up line");
    assert!(
        started.split_whitespace().any(|field| field == "runtime_worker_threads=1"),
        "the api did not run on the one thread it was given: {started}"
    );
}

const SECS_5: Duration = Duration::from_secs(5);

/// The API's peak resident memory stayed under 50 MB through `attack`.
fn peak_under_50_mb(api: &Proc, attack: &str) {
    let peak_mb = api.peak_rss_kb() / 1024;
    println!("api peak RSS: {peak_mb} MB");
    assert!(peak_mb < 50, "the API peaked at {peak_mb} MB under {attack}");
}

#[tokio::test]
async fn slow_and_silent_clients_are_disconnected_and_cannot_starve_real_ones() {
    let limits = [("HTTP_HEADER_READ_TIMEOUT_SECS", "1"), ("HTTP_IDLE_TIMEOUT_SECS", "2"), ("MAX_CONNECTIONS", "64")];
    let (api, _) = api_alone("slow-clients", &limits).await;
    let addr = format!("127.0.0.1:{}", api.port);
    // 300 sockets: half of them send half a request line, the others nothing at all.
    let mut slow = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET /sta").await.unwrap();
        }
        slow.push(s);
    }
    // A real client behind them is served: the slow ones are shed, 64 at a time.
    let real = reqwest::Client::new().get(format!("http://{addr}/status")).timeout(Duration::from_secs(30)).send();
    assert_eq!(real.await.expect("a real client is served").status(), 200);
    let open = sample(&api.metrics().await, "http_connections_open", &["listener=\"public\""]);
    assert!(open.is_some_and(|n| n <= 64.0), "open connections stay within MAX_CONNECTIONS: {open:?}");
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(closed_by_server(s, Duration::from_secs(30)).await, "slow socket {i} is still open");
    }

    // A keep-alive connection that goes quiet after an answer is closed too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert_eq!(read_answer(&mut idle, SECS_5).await.status, 200);
    assert!(closed_by_server(&mut idle, Duration::from_secs(15)).await, "an idle keep-alive connection stays open");

    let text = api.metrics().await;
    let timed_out = |reason: &str| {
        sample(&text, "http_connections_timed_out_total", &["listener=\"public\"", &format!("reason=\"{reason}\"")])
    };
    assert!(timed_out("header_read").is_some_and(|n| n >= 300.0), "{text}");
    assert!(timed_out("idle").is_some_and(|n| n >= 1.0), "{text}");
    peak_under_50_mb(&api, "300 slow clients");
}

#[tokio::test]
async fn oversized_bodies_and_headers_are_refused_at_once_with_the_envelope() {
    let (api, aws) = api_alone("oversized", &[]).await;
    // A declared body over MAX_BODY_BYTES: refused before a byte of it is sent.
    let declared =
        b"POST /payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n";
    let answer = send_raw(api.port, declared, Duration::from_secs(3)).await;
    assert_eq!(answer.status, 413, "{}", answer.head);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["Error"]["Code"], "body_too_large");

    let big = format!("GET /payments HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /payments HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    for request in [big, many] {
        let answer = send_raw(api.port, request.as_bytes(), SECS_5).await;
        assert_eq!(answer.status, 431, "{}", answer.head);
        let body: Value = serde_json::from_str(&answer.body).expect("the error envelope, not an empty body");
        assert_eq!(body["Error"]["Code"], "headers_too_large");
    }

    // 64 clients at once stream bodies without a length, each far past MAX_BODY_BYTES: none is
    // taken, and none is held in memory whole. The server answers 413 and closes with the rest
    // unread, so the kernel may reset the connection before the client reads the answer: each
    // connection ends in a 413 or a reset, never in silence, another answer or a stalled write.
    let port = api.port;
    let token = TestApp::external(format!("http://127.0.0.1:{port}"), aws).await.token.clone();
    let streams: Vec<_> = (0..64)
        .map(|_| {
            let token = token.clone();
            tokio::spawn(async move {
                let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                let head = format!(
                    "POST /payments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                     Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                );
                let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "7".repeat(64 * 1024));
                let send = async {
                    s.write_all(head.as_bytes()).await?;
                    for _ in 0..16 {
                        s.write_all(chunk.as_bytes()).await?;
                    }
                    Ok::<_, std::io::Error>(())
                };
                // A write that fails is the server closing after its answer: fine. One that
                // blocks is a server that neither reads nor closes.
                let _ = tokio::time::timeout(SECS_5, send).await.expect("the server stalled the upload");
                let mut answer = Vec::new();
                let read = tokio::time::timeout(SECS_5, s.read_to_end(&mut answer)).await;
                let status = String::from_utf8_lossy(&answer).split_whitespace().nth(1).map(str::to_owned);
                match (read, status) {
                    (Err(_), _) => panic!("neither an answer nor a close within 5 s"),
                    (_, Some(status)) => Some(status),
                    (Ok(Err(e)), None) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
                    (Ok(end), None) => panic!("the connection ended without an answer: {end:?}"),
                }
            })
        })
        .collect();
    let mut refused = 0;
    for stream in streams {
        match stream.await.unwrap().as_deref() {
            Some("413") => refused += 1,
            None => {}
            Some(other) => panic!("a 1 MB body was answered {other}"),
        }
    }
    assert!(refused > 0, "not one of 64 oversized bodies was answered 413");
    peak_under_50_mb(&api, "64 oversized bodies at once");
}

/// The refund worker's `GET /status`.
async fn refund_worker_status(sys: &System) -> Value {
    let url = format!("http://127.0.0.1:{}/status", sys.refund_worker.port);
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_refund_waiting_for_its_payment_is_neither_repaired_nor_bounced_toward_the_dlq() {
    let workers = [("WORKER_WAIT_SECS", "1"), ("REPAIR_INTERVAL_SECS", "1"), ("REPAIR_AFTER_SECS", "1")];
    let mut sys = System::start("refund-waits", &[], &workers).await;
    // No payment worker for now: the payment stays PENDING as long as the test wants.
    sys.worker(Worker::Payment).signal("KILL");
    sys.worker(Worker::Payment).exited(SECS_5).await;
    let id = sys.app.create_ok(&card_request("4242424242424242", 900)).await;
    assert_eq!(sys.app.refund(&id, None, None).await.status(), 202);

    // Several repair passes see the refund older than REPAIR_AFTER_SECS while its payment waits.
    let before = refund_worker_status(&sys).await["RepairPasses"].as_u64().unwrap();
    let status = eventually(Duration::from_secs(60), "four repair passes over the waiting refund", || async {
        let status = refund_worker_status(&sys).await;
        (status["RepairPasses"].as_u64().unwrap() >= before + 4).then_some(status)
    })
    .await;
    assert_eq!(status["Repaired"], 0, "a waiting refund is not stale: {status}");
    assert_eq!(status["Outcomes"]["NotReady"], 1, "its message was let go once, not bounced: {status}");
    assert_eq!(sys.queue_depth(&sys.app.aws.refunds_queue).await, 0, "nothing circulates while it waits");

    // The payment worker comes back: the payment settles and releases its refund.
    sys.restart(Worker::Payment).await;
    let settled = sys.settled(&id, Duration::from_secs(60)).await;
    assert_eq!(settled["Status"], "SUCCEEDED");
    assert_eq!(settled["Refunds"][0]["Status"], "SUCCEEDED", "{settled}");
    assert_eq!(sys.queue_depth(&format!("{}-dlq", sys.app.aws.refunds_queue)).await, 0);
}
