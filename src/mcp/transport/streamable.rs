//! `/mcp` and `/mcp/{upstream}`: MCP Streamable HTTP, stateful era (2025-03-26 … 2025-11-25).
//!
//! POST carries one JSON-RPC message. `initialize` opens a session (`Mcp-Session-Id`); every
//! later request names it. A request is answered with plain JSON when the upstream answers
//! before saying anything else, and as an SSE stream once notifications (progress, logs) arrive
//! first. GET opens the session's notification stream; DELETE ends the session.

// Helpers return `Err(Response)`: the error *is* the HTTP answer, built once; boxing it would
// only add an allocation.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::{info, warn};

use super::caller::{self, CallerParts};
use super::{Inputs, refused_response, stateless};
use crate::authz::Caller;
use crate::error::{json_response, rpc_error_response};
use crate::jsonrpc::{self, INVALID_PARAMS, INVALID_REQUEST, Kind, Message, Received, RpcError};
use crate::mcp::{Outbox, Request, SUPPORTED_VERSIONS, Scope, Session, negotiate_version, requested_version, short_id};
use crate::sse;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
/// Notifications buffered for one request's stream before new ones are dropped.
const REQUEST_OUTBOX: usize = 256;

type Inp = State<Arc<Inputs>>;

pub async fn post_federated(State(inputs): Inp, who: CallerParts, headers: HeaderMap, body: Bytes) -> Response {
    post(inputs, Scope::Federated, &who, headers, body).await
}

pub async fn post_single(
    State(inputs): Inp,
    Path(name): Path<String>,
    who: CallerParts,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match scope_of(&inputs, &name) {
        Ok(scope) => post(inputs, scope, &who, headers, body).await,
        Err(response) => response,
    }
}

pub async fn get_federated(State(inputs): Inp, who: CallerParts, headers: HeaderMap) -> Response {
    open_stream(&inputs, Scope::Federated, &who, &headers)
}

pub async fn get_single(
    State(inputs): Inp,
    Path(name): Path<String>,
    who: CallerParts,
    headers: HeaderMap,
) -> Response {
    match scope_of(&inputs, &name) {
        Ok(scope) => open_stream(&inputs, scope, &who, &headers),
        Err(response) => response,
    }
}

pub async fn delete_federated(State(inputs): Inp, who: CallerParts, headers: HeaderMap) -> Response {
    end_session(&inputs, Scope::Federated, &who, &headers)
}

pub async fn delete_single(
    State(inputs): Inp,
    Path(name): Path<String>,
    who: CallerParts,
    headers: HeaderMap,
) -> Response {
    match scope_of(&inputs, &name) {
        Ok(scope) => end_session(&inputs, scope, &who, &headers),
        Err(response) => response,
    }
}

fn scope_of(inputs: &Inputs, name: &str) -> Result<Scope, Response> {
    inputs.hub.upstream_index(name).map(Scope::Single).ok_or_else(|| {
        let error = RpcError::new(INVALID_REQUEST, format!("no upstream named `{name}`"));
        rpc_error_response(StatusCode::NOT_FOUND, None, &error)
    })
}

async fn post(inputs: Arc<Inputs>, scope: Scope, who: &CallerParts, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = check_content_type(&headers) {
        return response;
    }
    let received = match Received::parse(body) {
        Ok(r) => r,
        Err(e) => return rpc_error_response(StatusCode::BAD_REQUEST, None, &e),
    };
    let message = received.message();
    let (method, is_request) = match message.kind() {
        Ok(Kind::Request { method, .. }) => (method, true),
        Ok(Kind::Notification { method }) => (method, false),
        // Answers to server→client requests: nothing waits for them until sampling/elicitation
        // forwarding exists, so they are accepted and dropped.
        Ok(Kind::Response { .. }) => return StatusCode::ACCEPTED.into_response(),
        Err(e) => return rpc_error_response(StatusCode::BAD_REQUEST, message.id, &e),
    };
    if stateless::is_modern(&headers, message) {
        let (log_level, caller) = match admit_stateless(&inputs, scope, who, &headers, message, method, is_request) {
            Ok(admitted) => admitted,
            Err(response) => return response,
        };
        return run_request(inputs, scope, None, caller, received, log_level).await;
    }
    if is_request && method == "initialize" {
        return initialize(&inputs, scope, who, message);
    }
    let session = match find_session(&inputs, scope, who, &headers) {
        Ok(session) => session,
        Err(response) => return response,
    };
    if !is_request {
        inputs.hub.client_notification(Some(&session), method, message.params);
        return StatusCode::ACCEPTED.into_response();
    }
    let log_level = Some(session.log_level());
    let caller = caller::caller(who, inputs.endpoints.get(scope), &session.protocol_version);
    run_request(inputs, scope, Some(session), caller, received, log_level).await
}

/// A stateless-era (2026-07-28) message: checked against its headers and `_meta`; requests the
/// edge answers itself (`server/discover`, `subscriptions/listen`) are answered here
/// (`Err(response)`), the rest go on to the hub with the caller and log level found.
fn admit_stateless(
    inputs: &Inputs,
    scope: Scope,
    who: &CallerParts,
    headers: &HeaderMap,
    message: &Message<'_>,
    method: &str,
    is_request: bool,
) -> Result<(Option<u8>, Caller), Response> {
    if !is_request {
        // Cancellation over HTTP is closing the stream; other notifications mean nothing here.
        return Err(StatusCode::ACCEPTED.into_response());
    }
    let validated = stateless::validate(headers, message, method)?;
    if !stateless::method_exists(method) {
        return Err(stateless::method_not_found(message, method));
    }
    if method == "subscriptions/listen" {
        return Err(stateless::listen(
            inputs,
            scope,
            message,
            caller::caller(who, inputs.endpoints.get(scope), "2026-07-28"),
        ));
    }
    if method == "server/discover" {
        let id = message.id.unwrap_or_else(|| jsonrpc::null_ref());
        return Err(json_response(
            StatusCode::OK,
            jsonrpc::result_frame(id, &inputs.hub.discover_result(scope)),
        ));
    }
    let caller = caller::caller(who, inputs.endpoints.get(scope), crate::mcp::MODERN_VERSIONS[0]);
    Ok((validated.log_level, caller))
}

/// Which protocol era a request is served in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Era {
    Stateful,
    Stateless,
}

fn initialize(inputs: &Inputs, scope: Scope, who: &CallerParts, message: &Message<'_>) -> Response {
    let id = message.id;
    let requested = match requested_version(message.params) {
        Ok(requested) => requested,
        Err(e) => return rpc_error_response(StatusCode::BAD_REQUEST, id, &e),
    };
    let Some(requested) = requested else {
        let e = RpcError::new(INVALID_PARAMS, "initialize needs params.protocolVersion");
        return rpc_error_response(StatusCode::BAD_REQUEST, id, &e);
    };
    let version = negotiate_version(Some(&requested));
    let session = Session::new(
        scope,
        version.to_string(),
        caller::caller(who, inputs.endpoints.get(scope), version),
    );
    let result = inputs.hub.initialize_result(scope, version);
    let session_id = session.id.clone();
    if let Err(refused) = inputs.hub.sessions().open(session) {
        return refused_response(id, &refused);
    }
    info!(session = %short_id(&session_id), version, principal = %who.principal, "session opened");
    let frame = jsonrpc::result_frame(id.unwrap_or(jsonrpc::null_ref()), &result);
    let mut response = json_response(StatusCode::OK, frame);
    if let Ok(value) = HeaderValue::from_str(&session_id) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
}

/// Runs one request. It is answered with JSON if the response comes first, or as an SSE stream
/// once a notification comes first; the call then continues inside the stream. A client that
/// goes away drops the call, which cancels it upstream.
async fn run_request(
    inputs: Arc<Inputs>,
    scope: Scope,
    session: Option<Arc<Session>>,
    caller: Caller,
    received: Received,
    log_level: Option<u8>,
) -> Response {
    let era = if crate::mcp::MODERN_VERSIONS.contains(&caller.version) {
        Era::Stateless
    } else {
        Era::Stateful
    };
    let started = Instant::now();
    let (outbox, mut notes) = Outbox::channel(REQUEST_OUTBOX, log_level);
    let hub = Arc::clone(&inputs.hub);
    let mut call: sse::PendingCall = Box::pin(async move {
        let req = Request::of(received.message(), scope, session.as_ref(), &caller);
        let (id, method) = (req.id, req.method);
        let mut outcome = hub.handle(&req, &outbox).await;
        if era == Era::Stateless {
            outcome = outcome
                .map(|r| stateless::finish_result(method, r))
                .map_err(stateless::finish_error);
        }
        let status = outcome.as_ref().map_or_else(|e| e.code.to_string(), |_| "ok".into());
        let session = session.as_ref().map_or("-", |s| short_id(&s.id));
        // `?`: the method is the client's string; escaped, it cannot forge a log line.
        info!(session, rpc = ?method, status = %status, ms = started.elapsed().as_secs_f64() * 1e3, "request");
        match &outcome {
            Ok(result) => jsonrpc::result_frame(id, result),
            Err(e) => jsonrpc::error_frame(Some(id), e),
        }
    });
    tokio::select! {
        biased;
        frame = &mut call => {
            let mut early: Vec<Vec<u8>> = Vec::new();
            while let Ok(note) = notes.try_recv() {
                early.push(note);
            }
            if early.is_empty() {
                json_response(StatusCode::OK, frame)
            } else {
                early.push(frame);
                sse::request_stream(early, notes, None)
            }
        }
        Some(first) = notes.recv() => sse::request_stream(vec![first], notes, Some(call)),
    }
}

fn open_stream(inputs: &Inputs, scope: Scope, who: &CallerParts, headers: &HeaderMap) -> Response {
    let accepts_sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream") || a.contains("*/*"));
    if !accepts_sse {
        let e = RpcError::new(
            INVALID_REQUEST,
            "GET opens an event stream: send `Accept: text/event-stream`",
        );
        return rpc_error_response(StatusCode::NOT_ACCEPTABLE, None, &e);
    }
    if !headers.contains_key(SESSION_HEADER) {
        return no_session_method();
    }
    match find_session(inputs, scope, who, headers) {
        Ok(session) => sse::session_stream(session.open_stream()),
        Err(response) => response,
    }
}

/// GET and DELETE act on a stateful-era session; without one (2026-07-28) only POST exists.
fn no_session_method() -> Response {
    let e = RpcError::new(
        INVALID_REQUEST,
        "GET and DELETE need an Mcp-Session-Id; send requests with POST",
    );
    let mut response = rpc_error_response(StatusCode::METHOD_NOT_ALLOWED, None, &e);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

fn end_session(inputs: &Inputs, scope: Scope, who: &CallerParts, headers: &HeaderMap) -> Response {
    if !headers.contains_key(SESSION_HEADER) {
        return no_session_method();
    }
    match find_session(inputs, scope, who, headers) {
        Ok(session) => {
            inputs.hub.sessions().remove(&session.id);
            session.close_stream();
            info!(session = %short_id(&session.id), "session closed by client");
            StatusCode::OK.into_response()
        }
        Err(response) => response,
    }
}

/// The session a request names, checked against the endpoint, the caller and the protocol
/// version it uses.
fn find_session(
    inputs: &Inputs,
    scope: Scope,
    who: &CallerParts,
    headers: &HeaderMap,
) -> Result<Arc<Session>, Response> {
    let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
        let e = RpcError::new(
            INVALID_REQUEST,
            "missing Mcp-Session-Id header: send `initialize` first",
        );
        return Err(rpc_error_response(StatusCode::BAD_REQUEST, None, &e));
    };
    // A session opened on another endpoint, or by another caller, is unknown here.
    let unknown = || {
        let e = RpcError::new(INVALID_REQUEST, "unknown or expired session: send `initialize` again");
        rpc_error_response(StatusCode::NOT_FOUND, None, &e)
    };
    let session = inputs
        .hub
        .sessions()
        .get(id)
        .filter(|s| s.scope == scope)
        .ok_or_else(unknown)?;
    if !session.principal.same_caller(&who.principal) {
        warn!(
            session = %short_id(id),
            owner = %session.principal,
            presented_by = %who.principal,
            client = ?who.client,
            "session id presented by another caller; treated as unknown"
        );
        return Err(unknown());
    }
    if let Some(version) = headers.get(VERSION_HEADER) {
        let version = version.to_str().unwrap_or("");
        if !SUPPORTED_VERSIONS.contains(&version) {
            let e = RpcError::new(
                INVALID_REQUEST,
                format!(
                    "unsupported MCP-Protocol-Version `{version}`; supported: {}",
                    SUPPORTED_VERSIONS.join(", ")
                ),
            );
            return Err(rpc_error_response(StatusCode::BAD_REQUEST, None, &e));
        }
    }
    Ok(session)
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Response> {
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(ct) if !ct.starts_with("application/json") => {
            let e = RpcError::new(
                INVALID_REQUEST,
                format!("Content-Type must be application/json, not `{ct}`"),
            );
            Err(rpc_error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, None, &e))
        }
        _ => Ok(()),
    }
}
