//! The API's listener. `axum::serve` sets no bound on a connection: a client that sends half a
//! request line, or nothing, holds its socket for ever, and nothing limits how many it opens.
//! Here each connection is served by hyper's HTTP/1 connection directly, with
//! - a header-read timeout: from the accept (or the first byte of a later request) to the end of
//!   the request's head;
//! - an idle timeout: how long a keep-alive connection may wait between two requests;
//! - a bound on open connections: past it, accepting pauses (the kernel's backlog holds new
//!   clients) until one closes, so slow sockets are shed by the timeouts above and real clients
//!   get their turn.
//!
//! A request being handled is bounded by `REQUEST_TIMEOUT_MS` (see `super::timeout`), not here.
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::telemetry::metrics;

/// The least read buffer hyper takes.
pub const MIN_READ_BUFFER_BYTES: usize = 8 * 1024;
/// Above this many header fields, hyper itself answers a bare 431 and closes: the API's own
/// limit (`middleware::size`, answered with the error envelope) must stay below.
pub const HARD_MAX_HEADERS: usize = 256;

/// How long, at shutdown, open connections may take to finish their requests.
pub const DRAIN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// The most a connection's read buffer grows to (hyper's default is about 400 KB, which 64
    /// clients streaming oversized bodies at once turned into 26 MB). A request's head must fit
    /// in it whole: a larger head gets hyper's own bare 431; a smaller one over the API's
    /// `MAX_HEADER_BYTES` gets the error envelope from `middleware::size`, so keep it above.
    pub read_buffer_bytes: usize,
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and waits for
/// the open connections to finish their requests (each is bounded by the timeouts).
/// `name` labels this listener's connection metrics (`public`, `admin`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    name: &'static str,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let open = Arc::new(AtomicU64::new(0));
    let mut http = hyper::server::conn::http1::Builder::new();
    // No hyper header timer: `watchdog` times the head and the idle wait separately.
    let buffer = limits.read_buffer_bytes.max(MIN_READ_BUFFER_BYTES);
    http.header_read_timeout(None).max_buf_size(buffer).max_header_size(buffer).max_headers(HARD_MAX_HEADERS);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(ConnClock::new());
        let service = {
            let clock = Arc::clone(&clock);
            let app = app.clone();
            tower::service_fn(move |req| {
                let clock = Arc::clone(&clock);
                let app = app.clone();
                async move {
                    clock.begin();
                    let resp = app.oneshot(req).await;
                    clock.end();
                    resp
                }
            })
        };
        let conn = http.serve_connection(
            TokioIo::new(Watched { inner: stream, clock: Arc::clone(&clock) }),
            TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        let open = Arc::clone(&open);
        tokio::spawn(async move {
            let _permit = permit;
            metrics::connections_open(name, open.fetch_add(1, Ordering::Relaxed) + 1);
            tokio::select! {
                res = conn => if let Err(e) = res { tracing::debug!(error = %e, "connection ended with an error") },
                // Dropping the connection closes the socket.
                reason = watchdog(&clock, limits) => {
                    metrics::connection_timed_out(name, reason);
                    tracing::debug!(reason, "connection closed by its timeout");
                }
            }
            metrics::connections_open(name, open.fetch_sub(1, Ordering::Relaxed) - 1);
        });
    }
    drop(listener);
    // Open connections finish their requests, within a bound: a client that stopped reading
    // must not hold the shutdown past the orchestrator's stop timeout.
    if tokio::time::timeout(DRAIN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the drain grace; closing them");
    }
    Ok(())
}

/// What the watchdog needs to know of one connection, in ms since it was accepted.
struct ConnClock {
    start: Instant,
    in_flight: AtomicU32,
    /// When the connection last became idle (accept, or the end of a request).
    idle_since: AtomicU64,
    /// 1 + the ms of the first byte read since `idle_since`; 0 while none came.
    first_byte: AtomicU64,
    /// Whether a request was served yet: before the first, a silent client is timed as a
    /// header read (it connected to send one), not as an idle keep-alive.
    served: AtomicBool,
}

impl ConnClock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            in_flight: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            first_byte: AtomicU64::new(0),
            served: AtomicBool::new(false),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn end(&self) {
        self.first_byte.store(0, Ordering::Release);
        self.idle_since.store(self.now(), Ordering::Release);
        self.served.store(true, Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    fn read(&self) {
        if self.first_byte.load(Ordering::Acquire) == 0 {
            let _ = self.first_byte.compare_exchange(0, self.now() + 1, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// When the connection must be closed if nothing changes, and why; `None` while a request
    /// is being handled.
    fn deadline(&self, limits: ConnLimits) -> Option<(u64, &'static str)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let first_byte = self.first_byte.load(Ordering::Acquire);
        let idle_since = self.idle_since.load(Ordering::Acquire);
        let header = ms(limits.header_read_timeout);
        let first = !self.served.load(Ordering::Acquire);
        if first {
            // The first request's head is due `header` after the accept, however it trickles in.
            Some((idle_since.saturating_add(header), "header_read"))
        } else if first_byte > 0 {
            Some(((first_byte - 1).saturating_add(header), "header_read"))
        } else {
            Some((idle_since.saturating_add(ms(limits.idle_timeout)), "idle"))
        }
    }
}

/// Completes (with the reason) once the connection overstays its header-read or idle timeout.
async fn watchdog(clock: &ConnClock, limits: ConnLimits) -> &'static str {
    // While a request runs there is no deadline here; look again this often.
    let recheck = (limits.header_read_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        let now = clock.now();
        match clock.deadline(limits) {
            Some((at, reason)) if at <= now => return reason,
            Some((at, _)) => tokio::time::sleep(Duration::from_millis(at.saturating_sub(now)).min(recheck)).await,
            None => tokio::time::sleep(recheck).await,
        }
    }
}

/// The socket, noting when bytes arrive (for the header-read timeout).
struct Watched {
    inner: TcpStream,
    clock: Arc<ConnClock>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.read();
        }
        res
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnLimits = ConnLimits {
        header_read_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(10),
        max_connections: 1,
        read_buffer_bytes: 16 * 1024,
    };

    #[test]
    fn a_silent_new_connection_gets_the_header_timeout_not_the_idle_one() {
        let c = ConnClock::new();
        assert_eq!(c.deadline(LIMITS), Some((2000, "header_read")));
    }

    #[test]
    fn no_deadline_while_a_request_runs_then_the_idle_one() {
        let c = ConnClock::new();
        c.begin();
        assert_eq!(c.deadline(LIMITS), None);
        c.end();
        let (at, reason) = c.deadline(LIMITS).unwrap();
        assert_eq!(reason, "idle");
        assert!(at >= 10_000);
    }

    #[test]
    fn the_first_head_is_due_after_the_accept_however_late_its_first_byte() {
        let c = ConnClock::new();
        c.first_byte.store(1_900 + 1, Ordering::Release);
        assert_eq!(c.deadline(LIMITS), Some((2000, "header_read")));
    }

    #[test]
    fn a_byte_after_idling_starts_the_header_timeout() {
        let c = ConnClock::new();
        c.begin();
        c.end();
        c.read();
        let (at, reason) = c.deadline(LIMITS).unwrap();
        assert_eq!(reason, "header_read");
        assert!((2000..3000).contains(&at));
    }
}
