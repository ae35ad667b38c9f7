//! An inbound request's body, read once: the fields routing and policies need (model, stream,
//! max_tokens, tool count, a token estimate), and the object itself, which goes to the provider
//! with only its model name changed. Duplicate keys are refused, so a policy and the provider
//! never read two different values of one field.

use serde_json::{Map, Value};

use super::api::Api;

pub struct Inbound {
    pub body: Map<String, Value>,
    pub model: String,
    pub stream: bool,
    /// The output limit the request asks for (0: none given).
    pub max_tokens: u64,
    /// How many tool definitions it carries.
    pub tools: u64,
    /// Input tokens, estimated: a quarter of the bytes of text the request carries (the
    /// approximation is documented in docs/llm.md), plus `max_tokens`.
    pub estimated_tokens: u64,
}

/// Reads `bytes` as `api`'s request; the error says what is wrong, for a 400.
pub fn read(api: Api, bytes: &[u8]) -> Result<Inbound, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the body is not UTF-8 text".to_string())?;
    let Value::Object(body) = crate::arguments::read_object(text, "the body")? else {
        return Err("the body must be a JSON object".into());
    };
    let model = match body.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        Some(_) => return Err("`model` must be a non-empty string".into()),
        None => return Err("`model` is required".into()),
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) if *stream && !api.streams() => {
            return Err(format!("`stream` is not available for /v1/{}", api.id()));
        }
        Some(Value::Bool(stream)) => *stream,
        Some(_) => return Err("`stream` must be a boolean".into()),
    };
    // Every spelling given counts, and the largest wins: a provider may read any of them, and
    // policies and limits must not see less than it will produce.
    let mut max_tokens = 0;
    for key in ["max_tokens", "max_completion_tokens", "max_output_tokens"] {
        match body.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                let n = v
                    .as_u64()
                    .ok_or_else(|| format!("`{key}` must be a non-negative integer"))?;
                max_tokens = max_tokens.max(n);
            }
        }
    }
    let tools = match body.get("tools") {
        None | Some(Value::Null) => 0,
        Some(Value::Array(tools)) => tools.len() as u64,
        Some(_) => return Err("`tools` must be an array".into()),
    };
    let text_bytes: usize = ["messages", "system", "input", "prompt", "tools", "instructions"]
        .iter()
        .filter_map(|k| body.get(*k))
        .map(text_len)
        .sum();
    let estimated_tokens = (text_bytes as u64).div_ceil(4) + max_tokens;
    Ok(Inbound {
        body,
        model,
        stream,
        max_tokens,
        tools,
        estimated_tokens,
    })
}

/// Bytes of the strings in a value, however deeply nested.
fn text_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(text_len).sum(),
        Value::Object(fields) => fields.values().map(text_len).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_routing_and_policies_need() {
        let body = br#"{"model":"openai/gpt-4.1","stream":true,"max_tokens":100,
            "messages":[{"role":"user","content":"12345678"}],"tools":[{"type":"function"}]}"#;
        let inbound = read(Api::Chat, body).unwrap();
        assert_eq!(inbound.model, "openai/gpt-4.1");
        assert!(inbound.stream);
        assert_eq!((inbound.max_tokens, inbound.tools), (100, 1));
        // "user" + "12345678" + "function" = 20 bytes → 5 tokens, plus max_tokens.
        assert_eq!(inbound.estimated_tokens, 105);
    }

    #[test]
    fn refuses_what_a_provider_might_read_otherwise() {
        let err = |body: &str| read(Api::Chat, body.as_bytes()).err().unwrap();
        assert!(
            err(r#"{"model":"a/b","model":"c/d"}"#).contains("duplicate"),
            "duplicate keys"
        );
        assert!(err(r#"{"messages":[]}"#).contains("`model` is required"));
        assert!(err(r#"{"model":7}"#).contains("non-empty string"));
        assert!(err(r#"{"model":"a/b","stream":"yes"}"#).contains("boolean"));
        assert!(err(r#"{"model":"a/b","max_tokens":-1}"#).contains("non-negative"));
        assert!(err(r#"{"model":"a/b","max_completion_tokens":"9"}"#).contains("`max_completion_tokens`"));
        let both = read(
            Api::Chat,
            br#"{"model":"a/b","max_tokens":10,"max_completion_tokens":5000}"#,
        )
        .unwrap();
        assert_eq!(both.max_tokens, 5000, "the largest limit given is the one policies see");
        assert!(read(Api::Embeddings, br#"{"model":"a/b","stream":true}"#).is_err());
        assert!(err("[1]").contains("object"));
    }
}
