//! The inbound APIs agentmux serves under `/v1`, and how each says that something failed: the
//! OpenAI shape (`{"error": {"message", "type", "param", "code"}}`) or Anthropic's
//! (`{"type": "error", "error": {"type", "message"}}`), so each SDK raises its own exception.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

/// One inbound operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI `POST /v1/chat/completions`.
    Chat,
    /// OpenAI `POST /v1/responses`.
    Responses,
    /// OpenAI `POST /v1/embeddings`.
    Embeddings,
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// Anthropic `POST /v1/messages/count_tokens`.
    CountTokens,
}

/// Whose wire format an API is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    OpenAi,
    Anthropic,
}

impl Api {
    /// As policies read it in `context.api`.
    pub fn id(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Responses => "responses",
            Self::Embeddings => "embeddings",
            Self::Messages | Self::CountTokens => "messages",
        }
    }

    /// OpenTelemetry's `gen_ai.operation.name`.
    pub fn operation(self) -> &'static str {
        match self {
            Self::Chat | Self::Responses | Self::Messages => "chat",
            Self::Embeddings => "embeddings",
            Self::CountTokens => "count_tokens",
        }
    }

    pub fn family(self) -> Family {
        match self {
            Self::Chat | Self::Responses | Self::Embeddings => Family::OpenAi,
            Self::Messages | Self::CountTokens => Family::Anthropic,
        }
    }

    /// Whether a request may ask for a stream (`"stream": true`).
    pub fn streams(self) -> bool {
        matches!(self, Self::Chat | Self::Responses | Self::Messages)
    }
}

/// An answer agentmux gives itself, in `family`'s error shape.
pub fn error(family: Family, status: StatusCode, message: &str) -> Response {
    let body = match family {
        Family::OpenAi => {
            let (kind, code) = match status.as_u16() {
                400 | 413 | 422 => ("invalid_request_error", None),
                401 => ("authentication_error", Some("invalid_api_key")),
                403 => ("permission_error", None),
                404 => ("invalid_request_error", Some("model_not_found")),
                429 => ("rate_limit_error", Some("rate_limit_exceeded")),
                _ => ("server_error", None),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        Family::Anthropic => {
            let kind = match status.as_u16() {
                400 | 422 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
    };
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The family whose error shape a path's refusals take: `/v1/messages…` is Anthropic's, the
/// rest of `/v1` OpenAI's.
pub fn family_of(path: &str) -> Option<Family> {
    let rest = path.strip_prefix("/v1/")?;
    Some(if rest.starts_with("messages") {
        Family::Anthropic
    } else {
        Family::OpenAi
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn errors_in_each_apis_shape() {
        let openai = body(error(Family::OpenAi, StatusCode::TOO_MANY_REQUESTS, "slow down")).await;
        assert_eq!(openai["error"]["type"], "rate_limit_error");
        assert_eq!(openai["error"]["message"], "slow down");
        let anthropic = body(error(Family::Anthropic, StatusCode::NOT_FOUND, "no such model")).await;
        assert_eq!(anthropic["type"], "error");
        assert_eq!(anthropic["error"]["type"], "not_found_error");
        assert_eq!(family_of("/v1/messages/count_tokens"), Some(Family::Anthropic));
        assert_eq!(family_of("/v1/chat/completions"), Some(Family::OpenAi));
        assert_eq!(family_of("/mcp"), None);
    }
}
