//! `POST /a2a/{agent}`: the agent's JSON-RPC binding, v1.0 and v0.3. The frame is read once
//! (method, id, params) and sent on unchanged; `exchange.rs` does the rest.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::A2a;
use super::card::Binding;
use super::exchange::Exchange;
use super::failure::{Fail, Failure, Front};
use super::methods;
use super::outbound::Outbound;
use crate::error::GatewayError;
use crate::identity::Requester;
use crate::jsonrpc::{INVALID_REQUEST, Message, RpcError};

pub async fn post(
    State(a2a): State<Arc<A2a>>,
    Path(name): Path<String>,
    who: Requester,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let message = match Message::parse(&body) {
        Ok(message) => message,
        Err(e) => return GatewayError::rpc(StatusCode::BAD_REQUEST, e).into_response(),
    };
    let (id, method_name) = match message.kind() {
        Ok(crate::jsonrpc::Kind::Request { id, method }) => (id, method),
        Ok(_) => {
            let e = RpcError::new(
                INVALID_REQUEST,
                "A2A takes JSON-RPC requests (with an `id` and a `method`)",
            );
            return GatewayError::rpc(StatusCode::BAD_REQUEST, e)
                .for_request(message.id)
                .into_response();
        }
        Err(e) => {
            return GatewayError::rpc(StatusCode::BAD_REQUEST, e)
                .for_request(message.id)
                .into_response();
        }
    };
    let front = Front::JsonRpc {
        id: id.get().to_string(),
    };
    let asked = headers.get("a2a-version").and_then(|v| v.to_str().ok());
    let Some(version) = methods::version(asked) else {
        return front.fail(unsupported(asked));
    };
    let Some(agent) = a2a.agent(&name) else {
        let (fail, text) = a2a.not_found(&name, false);
        return front.fail(Failure::new(fail, text));
    };
    let Some(method) = methods::find(method_name) else {
        return front.fail(Failure::new(
            Fail::NoMethod,
            format!("`{method_name}` is not an A2A method"),
        ));
    };
    // Read as the agent will read it: an object, without duplicate keys a parser could resolve
    // differently from the checks made on it (task ids, push URLs).
    let params: Value = match message.params.map(|p| crate::arguments::read_object(p.get(), "params")) {
        None => Value::Null,
        Some(Ok(params)) => params,
        Some(Err(e)) => return front.fail(Failure::new(Fail::InvalidParams, e)),
    };
    let exchange = Exchange {
        a2a: &a2a,
        who: &who,
        headers: &headers,
        agent,
        method,
        version,
        params: &params,
        task: None,
        front,
    };
    let outbound = Outbound {
        binding: Binding::JsonRpc,
        method: reqwest::Method::POST,
        suffix: String::new(),
        body: body.clone(),
    };
    exchange.run(outbound).await
}

pub fn unsupported(asked: Option<&str>) -> Failure {
    Failure::new(
        Fail::Version,
        format!(
            "A2A version {:?} is not supported; agentmux serves 1.0 and 0.3",
            asked.unwrap_or_default()
        ),
    )
}
