//! An Anthropic message as an OpenAI `chat.completion`. Text blocks join into `content` (null
//! when there are none), `tool_use` blocks become `tool_calls` with their `input` as JSON text.
//! `thinking` and `redacted_thinking` blocks have no place in Chat Completions and are dropped,
//! as are server-tool blocks (`server_tool_use`, `web_search_tool_result` …): the provider ran
//! those itself and the text that follows them says what came of it.

use serde_json::{Value, json};

use super::super::finish::finish_reason;
use super::super::now;
use super::super::usage::Tokens;

pub fn response(body: &Value, model: &str) -> Value {
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for block in body["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => text
                .get_or_insert_default()
                .push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {"name": block["name"], "arguments": input_text(&block["input"])},
            })),
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": text, "refusal": null, "annotations": []});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": body["id"],
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(body["stop_reason"].as_str()),
        }],
        "usage": Tokens::from_messages(&body["usage"]).to_chat(),
    })
}

/// A tool's `input` as OpenAI's `arguments` text; a missing input is an empty object.
fn input_text(input: &Value) -> String {
    if input.is_null() {
        "{}".to_string()
    } else {
        input.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_answer_becomes_a_chat_completion() {
        let message = json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "thinking", "thinking": "Greet back.", "signature": "EqQB"},
                        {"type": "text", "text": "Hello"}, {"type": "text", "text": ", world"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 8, "output_tokens": 6},
        });
        let out = response(&message, "anthropic/claude-sonnet-4-5");
        assert!(out["created"].as_u64().unwrap() > 1_700_000_000);
        let mut out = out;
        out["created"] = json!(0);
        assert_eq!(
            out,
            json!({
                "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "object": "chat.completion", "created": 0,
                "model": "anthropic/claude-sonnet-4-5",
                "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "Hello, world", "refusal": null, "annotations": []}}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 6, "total_tokens": 26,
                          "prompt_tokens_details": {"cached_tokens": 8}},
            })
        );
    }

    #[test]
    fn tool_use_blocks_become_tool_calls_with_json_arguments() {
        let message = json!({
            "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
                 "input": {"location": "San Francisco, CA", "unit": "celsius"}},
                {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}],
            "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": 472, "output_tokens": 91},
        });
        let out = response(&message, "m");
        let choice = &out["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([
                {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}},
                {"id": "toolu_02", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ])
        );
    }

    #[test]
    fn stop_reasons_and_refusals_map() {
        for (stop, finish) in [
            ("max_tokens", "length"),
            ("refusal", "content_filter"),
            ("stop_sequence", "stop"),
        ] {
            let message = json!({"id": "msg_1", "content": [], "stop_reason": stop, "usage": {"input_tokens": 1, "output_tokens": 0}});
            assert_eq!(response(&message, "m")["choices"][0]["finish_reason"], finish);
        }
    }
}
