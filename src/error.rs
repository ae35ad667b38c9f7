//! The one error a request can end in at the edge or in a protocol's router: an HTTP status, a
//! JSON-RPC error body (MCP and A2A clients read errors in that shape, even before a message was
//! parsed), the request's id when it is known, and headers the status calls for
//! (`Retry-After`, `WWW-Authenticate`).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;

use crate::jsonrpc::{self, RpcError};

#[derive(Debug)]
pub struct GatewayError<'a> {
    pub status: StatusCode,
    pub id: Option<&'a RawValue>,
    pub error: RpcError,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl<'a> GatewayError<'a> {
    pub fn rpc(status: StatusCode, error: RpcError) -> Self {
        Self {
            status,
            id: None,
            error,
            headers: Vec::new(),
        }
    }

    /// The answer to the request with this id.
    pub fn for_request(mut self, id: Option<&'a RawValue>) -> Self {
        self.id = id;
        self
    }

    /// Adds a header; `None` (a value that was not valid header text) adds nothing.
    pub fn with_header(mut self, name: HeaderName, value: Option<HeaderValue>) -> Self {
        if let Some(value) = value {
            self.headers.push((name, value));
        }
        self
    }

    /// `Retry-After`, for load that may pass: 429 and 503.
    pub fn retry_after(self, seconds: u64) -> Self {
        self.with_header(header::RETRY_AFTER, Some(HeaderValue::from(seconds)))
    }
}

impl IntoResponse for GatewayError<'_> {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, jsonrpc::error_frame(self.id, &self.error));
        response.headers_mut().extend(self.headers);
        response
    }
}

/// A JSON body written by agentmux (a JSON-RPC frame) with its status.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// The JSON-RPC error answer to a request: `rpc(status, error).for_request(id)`.
pub fn rpc_error_response(status: StatusCode, id: Option<&RawValue>, error: &RpcError) -> Response {
    json_response(status, jsonrpc::error_frame(id, error))
}
