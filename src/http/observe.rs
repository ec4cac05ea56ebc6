//! Request metrics: count and latency by method, route pattern and status. The route is the
//! matched pattern (`/payments/{id}`), never the raw path, so ids cannot explode the series.
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

use crate::telemetry::{self, metrics};

pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = telemetry::matched_route(&req).to_owned();
    let response = next.run(req).await;
    metrics::http_request(method.as_str(), &route, response.status().as_u16(), started.elapsed());
    response
}
