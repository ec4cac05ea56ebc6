//! Request metrics: count and latency by method, route pattern and status. Every label comes
//! from a closed set, so no request can add series at will: the route is the matched pattern
//! (`/payments/{id}`, or `unmatched`), never the raw path, and a method outside the standard
//! ones is `OTHER` (hyper accepts any token as a method).
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use tokio::time::Instant;

use crate::telemetry::{self, metrics};

/// A request being measured, from [`Observed::start`] to [`Observed::finish`].
pub struct Observed {
    started: Instant,
    method: &'static str,
    route: Option<MatchedPath>,
}

impl Observed {
    pub fn start(req: &Request) -> Self {
        Self {
            started: Instant::now(),
            method: telemetry::method_label(req.method()),
            route: req.extensions().get::<MatchedPath>().cloned(),
        }
    }

    /// Counts the request with its answer's status and its latency.
    pub fn finish(self, status: StatusCode) {
        let route = telemetry::route_label(self.route.as_ref());
        metrics::http_request(self.method, route, status.as_u16(), self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use crate::telemetry::method_label;

    #[test]
    fn invented_methods_share_one_label() {
        for raw in ["M1XXXX", "get", "PROPFIND", "BREW"] {
            assert_eq!(method_label(&Method::from_bytes(raw.as_bytes()).unwrap()), "OTHER", "{raw}");
        }
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }
}
