//! Error bodies, whole and in streams. OpenAI: `{"error": {"message", "type", "param",
//! "code"}}`; Anthropic: `{"type": "error", "error": {"type", "message"}}`. The provider's
//! message is kept word for word; the type is the provider's type said in the client's words,
//! or, when the provider's type is not one we know, the one the HTTP status stands for:
//!
//! | status | Anthropic type | OpenAI type (code) |
//! |---|---|---|
//! | 400 | `invalid_request_error` | `invalid_request_error` |
//! | 401 | `authentication_error` | `authentication_error` |
//! | 402 | `billing_error` | `insufficient_quota` (`insufficient_quota`) |
//! | 403 | `permission_error` | `permission_error` |
//! | 404 | `not_found_error` | `invalid_request_error` (`model_not_found`) |
//! | 413 | `request_too_large` | `invalid_request_error` (`request_too_large`) |
//! | 429 | `rate_limit_error` | `rate_limit_error` (`rate_limit_exceeded`) |
//! | 500, other 5xx | `api_error` | `server_error` |
//! | 503, 529 | `overloaded_error` | `server_error` |
//! | 504 | `timeout_error` | `server_error` |
//!
//! OpenAI's own `insufficient_quota` (sent with 429) reads as Anthropic's `billing_error`. A
//! body with no message we can find gets a generic one that names the status.
//!
//! Gemini: `{"error": {"code", "message", "status"}}` (a streamed answer without `alt=sse` wraps
//! it in a list). Its `status` is a Google RPC code, read as the Anthropic type of the same
//! meaning and from there as OpenAI's:
//!
//! | Gemini `status` | as | OpenAI type (code) |
//! |---|---|---|
//! | `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `OUT_OF_RANGE` | `invalid_request_error` | `invalid_request_error` |
//! | `INVALID_ARGUMENT` with reason `API_KEY_INVALID`, `UNAUTHENTICATED` | `authentication_error` | `authentication_error` |
//! | `PERMISSION_DENIED` | `permission_error` | `permission_error` |
//! | `NOT_FOUND` | `not_found_error` | `invalid_request_error` (`model_not_found`) |
//! | `RESOURCE_EXHAUSTED` | `rate_limit_error` | `rate_limit_error` (`rate_limit_exceeded`) |
//! | `INTERNAL`, `UNKNOWN`, `UNAVAILABLE`, `DEADLINE_EXCEEDED` … | `api_error` … | `server_error` |
//!
//! An unknown status string falls back to the HTTP status, as above.
//! Bedrock answers `{"message": …}` and names the error in the `x-amzn-ErrorType` header (in a
//! stream, an exception message's `:exception-type`, in lower camel case). Its types read as
//! the Anthropic type of the same meaning, and from there as OpenAI's:
//!
//! | Bedrock type | as Anthropic's |
//! |---|---|
//! | `ValidationException`, `SerializationException` | `invalid_request_error` |
//! | `UnrecognizedClientException`, `InvalidSignatureException`, `IncompleteSignatureException`, `MissingAuthenticationTokenException`, `ExpiredTokenException` | `authentication_error` |
//! | `AccessDeniedException` | `permission_error` |
//! | `ResourceNotFoundException` | `not_found_error` |
//! | `ThrottlingException`, `ServiceQuotaExceededException` | `rate_limit_error` |
//! | `ModelTimeoutException` | `timeout_error` |
//! | `ServiceUnavailableException`, `ModelNotReadyException` | `overloaded_error` |
//! | `InternalServerException`, `ModelErrorException`, `ModelStreamErrorException` | `api_error` |

use serde_json::{Value, json};

/// The Anthropic error type an HTTP status stands for (Anthropic's documented table; 503, which
/// OpenAI sends when overloaded, reads as overloaded too).
fn messages_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// OpenAI's type and code for an Anthropic error type; None for a type we do not know.
fn chat_kind(messages_type: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match messages_type {
        "invalid_request_error" => ("invalid_request_error", None),
        "authentication_error" => ("authentication_error", None),
        "billing_error" => ("insufficient_quota", Some("insufficient_quota")),
        "permission_error" => ("permission_error", None),
        "not_found_error" => ("invalid_request_error", Some("model_not_found")),
        "request_too_large" => ("invalid_request_error", Some("request_too_large")),
        "rate_limit_error" => ("rate_limit_error", Some("rate_limit_exceeded")),
        "api_error" | "overloaded_error" | "timeout_error" => ("server_error", None),
        _ => return None,
    })
}

/// Anthropic's type for an OpenAI error object; `status` when the error came as an HTTP answer.
fn messages_kind(status: Option<u16>, error: &Value) -> &'static str {
    let field = |key| error.get(key).and_then(Value::as_str).unwrap_or("");
    let (kind, code) = (field("type"), field("code"));
    if kind == "insufficient_quota" || code == "insufficient_quota" {
        return "billing_error";
    }
    if let Some(status) = status {
        return messages_type_for_status(status);
    }
    match kind {
        "invalid_request_error" if code == "model_not_found" => "not_found_error",
        "invalid_request_error" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        "not_found_error" => "not_found_error",
        "rate_limit_error" | "requests" | "tokens" => "rate_limit_error",
        _ if code == "rate_limit_exceeded" => "rate_limit_error",
        "overloaded_error" => "overloaded_error",
        _ => "api_error",
    }
}

/// The Anthropic type a Gemini error's RPC `status` stands for; None for one we do not know.
fn gemini_type(error: &Value) -> Option<&'static str> {
    let reasons = error["details"].as_array().into_iter().flatten();
    if reasons
        .filter_map(|d| d["reason"].as_str())
        .any(|r| r == "API_KEY_INVALID")
    {
        return Some("authentication_error");
    }
    Some(match error["status"].as_str()? {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => "invalid_request_error",
        "UNAUTHENTICATED" => "authentication_error",
        "PERMISSION_DENIED" => "permission_error",
        "NOT_FOUND" => "not_found_error",
        "RESOURCE_EXHAUSTED" => "rate_limit_error",
        "UNAVAILABLE" => "overloaded_error",
        "DEADLINE_EXCEEDED" => "timeout_error",
        "INTERNAL" | "UNKNOWN" | "ABORTED" | "CANCELLED" | "UNIMPLEMENTED" | "DATA_LOSS" => "api_error",
        _ => return None,
    })
}

/// A Gemini error body as it stands, out of the list a streamed answer puts it in.
fn gemini_body(parsed: Value) -> Value {
    match parsed {
        Value::Array(mut list) if !list.is_empty() => list.swap_remove(0),
        other => other,
    }
}

/// The message in an error body of either API, or the plainer shapes other servers use.
fn message_of(body: &Value) -> Option<&str> {
    let error = body.get("error");
    error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .or_else(|| error.and_then(Value::as_str))
        .or_else(|| body.get("message").and_then(Value::as_str))
        // AWS's older JSON protocols spell it with a capital.
        .or_else(|| body.get("Message").and_then(Value::as_str))
        .or_else(|| body.get("detail").and_then(Value::as_str))
        .filter(|m| !m.is_empty())
}

fn generic(status: u16) -> String {
    format!("the provider answered HTTP {status} without an error message")
}

/// An OpenAI error body.
fn chat_body(kind: (&str, Option<&str>), message: &str) -> Value {
    json!({"error": {"message": message, "type": kind.0, "param": null, "code": kind.1}})
}

/// An Anthropic error body.
fn messages_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// An Anthropic provider's error answer as OpenAI's.
pub fn to_chat(status: u16, body: &[u8]) -> Vec<u8> {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let provider_type = parsed.pointer("/error/type").and_then(Value::as_str).unwrap_or("");
    let kind = chat_kind(provider_type)
        .or_else(|| chat_kind(messages_type_for_status(status)))
        .unwrap_or(("server_error", None));
    let message = message_of(&parsed).map_or_else(|| generic(status), str::to_string);
    chat_body(kind, &message).to_string().into_bytes()
}

/// A Gemini provider's error answer as OpenAI's.
pub fn gemini_to_chat(status: u16, body: &[u8]) -> Vec<u8> {
    let parsed = gemini_body(serde_json::from_slice(body).unwrap_or(Value::Null));
    let kind = gemini_type(&parsed["error"])
        .or(Some(messages_type_for_status(status)))
        .and_then(chat_kind)
        .unwrap_or(("server_error", None));
    let message = message_of(&parsed).map_or_else(|| generic(status), str::to_string);
    chat_body(kind, &message).to_string().into_bytes()
}

/// An OpenAI provider's error answer as Anthropic's.
pub fn to_messages(status: u16, body: &[u8]) -> Vec<u8> {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = parsed.get("error").unwrap_or(&Value::Null);
    let message = message_of(&parsed).map_or_else(|| generic(status), str::to_string);
    messages_body(messages_kind(Some(status), error), &message)
        .to_string()
        .into_bytes()
}

/// An Anthropic stream's `error` event as the `data` of an OpenAI error event. Mid-stream there
/// is no status: an unknown type reads as a server error.
pub fn chat_stream_error(event: &Value) -> Value {
    let provider_type = event.pointer("/error/type").and_then(Value::as_str).unwrap_or("");
    let kind = chat_kind(provider_type).unwrap_or(("server_error", None));
    let message = message_of(event).unwrap_or("the provider's stream failed");
    chat_body(kind, message)
}

/// A Gemini stream's `{"error": …}` data as the data of an OpenAI error event; without a
/// status we know, a server error.
pub fn gemini_chat_stream_error(data: &Value) -> Value {
    let kind = gemini_type(&data["error"])
        .and_then(chat_kind)
        .unwrap_or(("server_error", None));
    let message = message_of(data).unwrap_or("the provider's stream failed");
    chat_body(kind, message)
}

/// A Bedrock error type (`ThrottlingException`, or a stream's `throttlingException`) as the
/// Anthropic type of the same meaning; None for a type we do not know.
fn converse_as_messages_type(error_type: &str) -> Option<&'static str> {
    let name = error_type.to_ascii_lowercase();
    Some(match name.strip_suffix("exception").unwrap_or(&name) {
        "validation" | "serialization" => "invalid_request_error",
        "unrecognizedclient"
        | "invalidsignature"
        | "incompletesignature"
        | "missingauthenticationtoken"
        | "expiredtoken" => "authentication_error",
        "accessdenied" => "permission_error",
        "resourcenotfound" => "not_found_error",
        "throttling" | "servicequotaexceeded" => "rate_limit_error",
        "modeltimeout" => "timeout_error",
        "serviceunavailable" | "modelnotready" => "overloaded_error",
        "internalserver" | "modelerror" | "modelstreamerror" => "api_error",
        _ => return None,
    })
}

/// A Bedrock error answer as OpenAI's. `error_type`: the `x-amzn-ErrorType` header's name part.
pub fn converse_to_chat(status: u16, error_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let kind = error_type
        .and_then(converse_as_messages_type)
        .and_then(chat_kind)
        .or_else(|| chat_kind(messages_type_for_status(status)))
        .unwrap_or(("server_error", None));
    let message = message_of(&parsed).map_or_else(|| generic(status), str::to_string);
    chat_body(kind, &message).to_string().into_bytes()
}

/// A Bedrock stream's exception message (its `:exception-type` and its `{"message": …}`
/// payload) as the data of an OpenAI error event.
pub fn converse_stream_error(exception_type: &str, data: &str) -> Value {
    let parsed: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let message = message_of(&parsed).unwrap_or("the provider's stream failed");
    let kind = converse_as_messages_type(exception_type).unwrap_or("api_error");
    chat_stream_error(&messages_body(kind, message))
}

/// An OpenAI stream's `{"error": …}` data as the data of an Anthropic `error` event.
pub fn messages_stream_error(data: &Value) -> Value {
    let error = data.get("error").unwrap_or(&Value::Null);
    let message = message_of(data).unwrap_or("the provider's stream failed");
    messages_body(messages_kind(None, error), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: Vec<u8>) -> Value {
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn anthropic_errors_read_as_openai_errors() {
        for (status, kind, code) in [
            (400, "invalid_request_error", None),
            (401, "authentication_error", None),
            (402, "insufficient_quota", Some("insufficient_quota")),
            (403, "permission_error", None),
            (404, "invalid_request_error", Some("model_not_found")),
            (413, "invalid_request_error", Some("request_too_large")),
            (429, "rate_limit_error", Some("rate_limit_exceeded")),
            (500, "server_error", None),
            (504, "server_error", None),
            (529, "server_error", None),
        ] {
            let body = json!({"type": "error", "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
                              "error": {"type": messages_type_for_status(status), "message": format!("m{status}")}});
            assert_eq!(
                parse(to_chat(status, body.to_string().as_bytes())),
                json!({"error": {"message": format!("m{status}"), "type": kind, "param": null, "code": code}}),
                "{status}"
            );
        }
    }

    #[test]
    fn openai_errors_read_as_anthropic_errors() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (504, "timeout_error"),
            (422, "invalid_request_error"),
        ] {
            let body =
                json!({"error": {"message": "Bad.", "type": "invalid_request_error", "param": null, "code": null}});
            assert_eq!(
                parse(to_messages(status, body.to_string().as_bytes())),
                json!({"type": "error", "error": {"type": kind, "message": "Bad."}}),
                "{status}"
            );
        }
    }

    #[test]
    fn openai_quota_errors_are_billing_errors() {
        let body = br#"{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        assert_eq!(parse(to_messages(429, body))["error"]["type"], "billing_error");
    }

    #[test]
    fn an_unknown_anthropic_type_falls_back_to_the_status() {
        let body = br#"{"type":"error","error":{"type":"conflict_error","message":"busy"}}"#;
        assert_eq!(parse(to_chat(409, body))["error"]["type"], "invalid_request_error");
        assert_eq!(parse(to_chat(503, body))["error"]["type"], "server_error");
    }

    #[test]
    fn an_unreadable_body_gets_a_generic_message_naming_the_status() {
        for body in [&b"<html>Bad Gateway</html>"[..], b"", b"{}", b"[1]"] {
            let chat = parse(to_chat(502, body));
            assert_eq!(
                chat["error"]["message"],
                "the provider answered HTTP 502 without an error message"
            );
            assert_eq!(chat["error"]["type"], "server_error");
            let messages = parse(to_messages(502, body));
            assert_eq!(
                messages["error"]["message"],
                "the provider answered HTTP 502 without an error message"
            );
            assert_eq!(messages["type"], "error");
        }
    }

    #[test]
    fn plainer_error_shapes_keep_their_message() {
        assert_eq!(
            parse(to_messages(400, br#"{"error":"model is required"}"#))["error"]["message"],
            "model is required"
        );
        assert_eq!(
            parse(to_messages(500, br#"{"detail":"boom"}"#))["error"]["message"],
            "boom"
        );
        assert_eq!(
            parse(to_chat(400, br#"{"message":"nope"}"#))["error"]["message"],
            "nope"
        );
    }

    #[test]
    fn bedrock_errors_read_as_openai_errors_by_their_type() {
        for (status, error_type, kind, code) in [
            (400, Some("ValidationException"), "invalid_request_error", None),
            (403, Some("AccessDeniedException"), "permission_error", None),
            (403, Some("InvalidSignatureException"), "authentication_error", None),
            (403, Some("UnrecognizedClientException"), "authentication_error", None),
            (
                404,
                Some("ResourceNotFoundException"),
                "invalid_request_error",
                Some("model_not_found"),
            ),
            (
                429,
                Some("ThrottlingException"),
                "rate_limit_error",
                Some("rate_limit_exceeded"),
            ),
            (
                400,
                Some("ServiceQuotaExceededException"),
                "rate_limit_error",
                Some("rate_limit_exceeded"),
            ),
            (408, Some("ModelTimeoutException"), "server_error", None),
            (424, Some("ModelErrorException"), "server_error", None),
            (503, Some("ServiceUnavailableException"), "server_error", None),
            (429, None, "rate_limit_error", Some("rate_limit_exceeded")),
            (409, Some("ConflictException"), "invalid_request_error", None),
        ] {
            let body = br#"{"message":"Too many requests, please wait before trying again."}"#;
            assert_eq!(
                parse(converse_to_chat(status, error_type, body)),
                json!({"error": {"message": "Too many requests, please wait before trying again.",
                                 "type": kind, "param": null, "code": code}}),
                "{error_type:?}"
            );
        }
        assert_eq!(
            parse(converse_to_chat(400, None, br#"{"Message":"Bad"}"#))["error"]["message"],
            "Bad"
        );
        assert_eq!(
            parse(converse_to_chat(502, None, b""))["error"]["message"],
            "the provider answered HTTP 502 without an error message"
        );
    }

    #[test]
    fn bedrock_stream_exceptions_are_typed_by_their_name() {
        assert_eq!(
            converse_stream_error("throttlingException", r#"{"message":"Slow down"}"#),
            json!({"error": {"message": "Slow down", "type": "rate_limit_error", "param": null,
                             "code": "rate_limit_exceeded"}})
        );
        for name in [
            "modelStreamErrorException",
            "internalServerException",
            "serviceUnavailableException",
        ] {
            assert_eq!(
                converse_stream_error(name, "{}")["error"]["type"],
                "server_error",
                "{name}"
            );
        }
        assert_eq!(
            converse_stream_error("validationException", r#"{"message":"Bad"}"#)["error"]["type"],
            "invalid_request_error"
        );
    }

    #[test]
    fn stream_errors_are_typed_by_their_type() {
        let overloaded = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        assert_eq!(
            chat_stream_error(&overloaded),
            json!({"error": {"message": "Overloaded", "type": "server_error", "param": null, "code": null}})
        );
        for (kind, code, expected) in [
            ("server_error", None, "api_error"),
            ("invalid_request_error", None, "invalid_request_error"),
            ("invalid_request_error", Some("model_not_found"), "not_found_error"),
            ("tokens", Some("rate_limit_exceeded"), "rate_limit_error"),
            ("insufficient_quota", None, "billing_error"),
        ] {
            let data = json!({"error": {"message": "x", "type": kind, "param": null, "code": code}});
            assert_eq!(
                messages_stream_error(&data),
                json!({"type": "error", "error": {"type": expected, "message": "x"}}),
                "{kind}"
            );
        }
    }

    #[test]
    fn gemini_errors_read_as_openai_errors() {
        for (status, rpc, kind, code) in [
            (400, "INVALID_ARGUMENT", "invalid_request_error", None),
            (400, "FAILED_PRECONDITION", "invalid_request_error", None),
            (401, "UNAUTHENTICATED", "authentication_error", None),
            (403, "PERMISSION_DENIED", "permission_error", None),
            (404, "NOT_FOUND", "invalid_request_error", Some("model_not_found")),
            (
                429,
                "RESOURCE_EXHAUSTED",
                "rate_limit_error",
                Some("rate_limit_exceeded"),
            ),
            (500, "INTERNAL", "server_error", None),
            (503, "UNAVAILABLE", "server_error", None),
            (504, "DEADLINE_EXCEEDED", "server_error", None),
            (409, "SOMETHING_NEW", "invalid_request_error", None),
            (502, "SOMETHING_NEW", "server_error", None),
        ] {
            let body = json!({"error": {"code": status, "message": format!("m{status}"), "status": rpc}});
            assert_eq!(
                parse(gemini_to_chat(status, body.to_string().as_bytes())),
                json!({"error": {"message": format!("m{status}"), "type": kind, "param": null, "code": code}}),
                "{rpc}"
            );
        }
    }

    #[test]
    fn a_bad_gemini_key_is_an_authentication_error_and_lists_are_unwrapped() {
        let body = json!([{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}]);
        assert_eq!(
            parse(gemini_to_chat(400, body.to_string().as_bytes())),
            json!({"error": {"message": "API key not valid. Please pass a valid API key.",
                             "type": "authentication_error", "param": null, "code": null}})
        );
        assert_eq!(
            parse(gemini_to_chat(502, b"<html>Bad Gateway</html>"))["error"]["message"],
            "the provider answered HTTP 502 without an error message"
        );
    }

    #[test]
    fn gemini_stream_errors_are_typed_by_their_status() {
        let data = json!({"error": {"code": 429, "message": "Quota.", "status": "RESOURCE_EXHAUSTED"}});
        assert_eq!(
            gemini_chat_stream_error(&data),
            json!({"error": {"message": "Quota.", "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}})
        );
        assert_eq!(
            gemini_chat_stream_error(&json!({"error": {"message": "?"}}))["error"]["type"],
            "server_error"
        );
    }
}
