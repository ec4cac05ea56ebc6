//! Request metrics: count and latency by method, route pattern and status. Every label comes
//! from a closed set, so no request can add series at will: the route is the matched pattern
//! (`/payments/{id}`, or `unmatched`), never the raw path, and a method outside the standard
//! ones is `OTHER` (hyper accepts any token as a method).
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

use crate::telemetry::{self, metrics};

pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = telemetry::method_label(req.method());
    let route = telemetry::matched_route(&req).to_owned();
    let response = next.run(req).await;
    metrics::http_request(method, &route, response.status().as_u16(), started.elapsed());
    response
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
