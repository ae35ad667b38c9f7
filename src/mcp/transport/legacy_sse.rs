//! `/sse` and `/messages`: the legacy HTTP+SSE transport (protocol 2024-11-05) for clients that
//! predate Streamable HTTP. `GET /sse` opens a session whose stream first names the endpoint to
//! POST messages to (`/messages?sessionId=…`); every response and notification then travels on
//! that stream, and each POST is answered 202. Federated scope, like `/mcp`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Inputs;
use super::caller::{self, CallerParts};
use crate::error::rpc_error_response;
use crate::jsonrpc::{self, INVALID_REQUEST, Kind, Received, RpcError};
use crate::mcp::{Scope, Session, negotiate_version, relay, requested_version};
use crate::sse;

const ERA: &str = "2024-11-05";

pub async fn open(State(inputs): State<Arc<Inputs>>, who: CallerParts) -> Response {
    let session = Session::new(
        Scope::Federated,
        ERA.to_string(),
        caller::caller(&who, Arc::from(caller::LEGACY_ENDPOINT), ERA),
    );
    let frames = session.open_stream();
    let endpoint = format!("/messages?sessionId={}", session.id);
    let guard = match inputs.hub.sessions().open_while(Arc::clone(&session)) {
        Ok(guard) => guard,
        Err(refused) => return super::refused_response(None, &refused),
    };
    sse::legacy_stream(endpoint, frames, guard)
}

pub async fn message(
    State(inputs): State<Arc<Inputs>>,
    who: CallerParts,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let session = query
        .get("sessionId")
        .and_then(|id| inputs.hub.sessions().get(id))
        .filter(|s| s.protocol_version == ERA && s.principal.same_caller(&who.principal));
    let Some(session) = session else {
        let e = RpcError::new(INVALID_REQUEST, "unknown or expired sessionId: open GET /sse again");
        return rpc_error_response(StatusCode::NOT_FOUND, None, &e);
    };
    let Some(out) = session.stream_sender() else {
        let e = RpcError::new(
            INVALID_REQUEST,
            "the session's event stream is closed: open GET /sse again",
        );
        return rpc_error_response(StatusCode::NOT_FOUND, None, &e);
    };
    let received = match Received::parse(body) {
        Ok(r) => r,
        Err(e) => return rpc_error_response(StatusCode::BAD_REQUEST, None, &e),
    };
    let message = received.message();
    let answered = matches!(message.kind(), Ok(Kind::Request { method, .. }) if method != "initialize");
    if answered {
        let Some(slot) = session.relay_slot() else {
            let e = RpcError::new(
                INVALID_REQUEST,
                format!(
                    "this session has {} requests in flight; wait for answers",
                    crate::mcp::MAX_RELAYED
                ),
            );
            let mut response = rpc_error_response(StatusCode::TOO_MANY_REQUESTS, message.id, &e);
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
            return response;
        };
        let answer = relay::answer(
            Arc::clone(&inputs.hub),
            Scope::Federated,
            Some(session),
            caller::caller(&who, Arc::from(caller::LEGACY_ENDPOINT), ERA),
            received,
            out,
        );
        tokio::spawn(async move {
            answer.await;
            drop(slot);
        });
        return StatusCode::ACCEPTED.into_response();
    }
    match message.kind() {
        Ok(Kind::Request { id, .. }) => {
            // `initialize` (the others were answered above).
            let requested = requested_version(message.params).ok().flatten();
            let version = negotiate_version(requested.as_deref());
            let frame = jsonrpc::result_frame(id, &inputs.hub.initialize_result(Scope::Federated, version));
            let _ = out.send(frame).await;
        }
        Ok(Kind::Notification { method }) => {
            inputs.hub.client_notification(Some(&session), method, message.params);
        }
        Ok(Kind::Response { .. }) => {}
        Err(e) => return rpc_error_response(StatusCode::BAD_REQUEST, message.id, &e),
    }
    StatusCode::ACCEPTED.into_response()
}
