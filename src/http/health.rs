//! Liveness, readiness and metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::Inputs;

pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// Ready once every required upstream has been tried (connected and listed, or failed).
pub async fn readyz(State(inputs): State<Arc<Inputs>>) -> impl IntoResponse {
    if inputs.hub.ready() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        let waiting = inputs.hub.waiting_for();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("waiting for: {}\n", waiting.join(", ")),
        )
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(inputs): State<Arc<Inputs>>) -> impl IntoResponse {
    let body = crate::metrics::metrics().encode(inputs.hub.sessions.count());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}
