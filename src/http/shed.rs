//! Load shedding: at most `server.max_concurrent_requests` protocol requests are handled at
//! once; one more gets 503 with `Retry-After` at once, instead of queueing until every caller
//! times out. A request holds its slot until its response starts (a streamed body, such as an
//! SSE stream, does not keep it).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

pub async fn limit(State(slots): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    let Ok(_slot) = slots.try_acquire() else {
        crate::metrics::metrics().shed();
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            "agentmux is at server.max_concurrent_requests; retry shortly\n",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    next.run(request).await
}
