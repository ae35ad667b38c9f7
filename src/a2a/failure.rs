//! How an A2A request that agentmux answers itself fails, in each binding's own shape:
//! JSON-RPC error frames (with the request's id) or HTTP+JSON error bodies with the
//! google.rpc status names a2a-sdk uses.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;
use serde_json::value::RawValue;

use crate::error::GatewayError;
use crate::jsonrpc::{INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, RpcError};

/// A2A: the task does not exist (or is not this caller's).
pub const TASK_NOT_FOUND: i64 = -32001;
/// A2A: the requested protocol version is not supported.
pub const VERSION_NOT_SUPPORTED: i64 = -32009;
/// agentmux: the agent cannot be reached or failed.
pub const AGENT_ERROR: i64 = -32010;
/// agentmux: a denied call when `authz.denied: forbidden` (as for MCP).
const FORBIDDEN: i64 = -32011;

/// Why agentmux answered a request itself, in terms both bindings can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    BadRequest,
    UnknownAgent,
    Forbidden,
    NoMethod,
    Version,
    TaskNotFound,
    InvalidParams,
    Agent,
    /// agentmux could not decide (its state store failed): nothing reached the agent.
    Unavailable,
}

#[derive(Debug)]
pub struct Failure {
    pub fail: Fail,
    pub message: String,
}

impl Failure {
    pub fn new(fail: Fail, message: impl Into<String>) -> Self {
        Self {
            fail,
            message: message.into(),
        }
    }

    pub fn task_not_found() -> Self {
        Self::new(Fail::TaskNotFound, "Task not found")
    }

    /// Task ownership could not be read, so nothing is decided on it (fail closed).
    pub fn state(error: &crate::state::StateError) -> Self {
        tracing::error!(%error, "A2A task ownership could not be checked");
        Self::new(Fail::Unavailable, "task ownership could not be checked; try again")
    }
}

/// How the caller reads answers: JSON-RPC frames (with the request's id), or HTTP+JSON.
#[derive(Debug, Clone)]
pub enum Front {
    JsonRpc { id: String },
    Rest,
}

impl Front {
    /// The request's JSON-RPC id as JSON text (`null` for HTTP+JSON).
    pub fn id(&self) -> &str {
        match self {
            Self::JsonRpc { id } => id,
            Self::Rest => "null",
        }
    }

    pub fn fail(&self, failure: Failure) -> Response {
        match self {
            Self::JsonRpc { id } => {
                let (status, code) = match failure.fail {
                    Fail::BadRequest => (StatusCode::BAD_REQUEST, INVALID_REQUEST),
                    Fail::UnknownAgent => (StatusCode::NOT_FOUND, INVALID_REQUEST),
                    Fail::Forbidden => (StatusCode::FORBIDDEN, FORBIDDEN),
                    Fail::NoMethod => (StatusCode::OK, METHOD_NOT_FOUND),
                    Fail::Version => (StatusCode::OK, VERSION_NOT_SUPPORTED),
                    Fail::TaskNotFound => (StatusCode::OK, TASK_NOT_FOUND),
                    Fail::InvalidParams => (StatusCode::OK, INVALID_PARAMS),
                    Fail::Agent => (StatusCode::BAD_GATEWAY, AGENT_ERROR),
                    Fail::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, INTERNAL_ERROR),
                };
                let id = RawValue::from_string(id.clone()).ok();
                GatewayError::rpc(status, RpcError::new(code, failure.message))
                    .for_request(id.as_deref())
                    .into_response()
            }
            Self::Rest => {
                let (status, name) = rest_status(failure.fail);
                let body = json!({"error": {"code": status.as_u16(), "status": name, "message": failure.message}});
                crate::error::json_response(status, serde_json::to_vec(&body).unwrap_or_default())
            }
        }
    }

    /// One event carrying `failure`, to end a stream with.
    pub fn fail_event(&self, failure: Failure) -> Vec<u8> {
        match self {
            Self::JsonRpc { id } => {
                let id = RawValue::from_string(id.clone()).ok();
                let code = if failure.fail == Fail::TaskNotFound {
                    TASK_NOT_FOUND
                } else {
                    AGENT_ERROR
                };
                crate::jsonrpc::error_frame(id.as_deref(), &RpcError::new(code, failure.message))
            }
            Self::Rest => {
                let (status, name) = rest_status(failure.fail);
                serde_json::to_vec(
                    &json!({"error": {"code": status.as_u16(), "status": name, "message": failure.message}}),
                )
                .unwrap_or_default()
            }
        }
    }
}

/// HTTP+JSON errors: the HTTP status and its google.rpc status name, as a2a-sdk answers.
fn rest_status(fail: Fail) -> (StatusCode, &'static str) {
    match fail {
        Fail::BadRequest | Fail::InvalidParams => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        Fail::UnknownAgent | Fail::NoMethod | Fail::TaskNotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        Fail::Forbidden => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        Fail::Version => (StatusCode::BAD_REQUEST, "FAILED_PRECONDITION"),
        Fail::Agent => (StatusCode::BAD_GATEWAY, "UNAVAILABLE"),
        Fail::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
    }
}
