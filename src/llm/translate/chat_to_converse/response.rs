//! A Converse answer as an OpenAI `chat.completion`. Text blocks join into `content` (null when
//! there are none), `toolUse` blocks become `tool_calls` with their `input` as JSON text.
//! `reasoningContent` has no place in Chat Completions and is dropped, as are citation and
//! guardrail blocks. Converse gives an answer no id: it gets a fresh `chatcmpl-` one.

use serde_json::{Value, json};

use super::super::finish::finish_reason;
use super::super::now;
use super::super::usage::Tokens;

pub fn response(body: &Value, model: &str) -> Value {
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for block in body
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(piece) = block["text"].as_str() {
            text.get_or_insert_default().push_str(piece);
        } else if let Some(call) = block.get("toolUse") {
            calls.push(json!({
                "id": call["toolUseId"],
                "type": "function",
                "function": {"name": call["name"], "arguments": input_text(&call["input"])},
            }));
        }
    }
    let mut message = json!({"role": "assistant", "content": text, "refusal": null, "annotations": []});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": completion_id(),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(body["stopReason"].as_str()),
        }],
        "usage": Tokens::from_converse(&body["usage"]).to_chat(),
    })
}

/// An id for an answer the provider did not name, shaped as OpenAI's.
pub(super) fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
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

    fn without_volatile(mut out: Value) -> Value {
        assert!(out["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert!(out["created"].as_u64().unwrap() > 1_700_000_000);
        out["id"] = json!("x");
        out["created"] = json!(0);
        out
    }

    #[test]
    fn a_text_answer_becomes_a_chat_completion() {
        let answer = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "Greet back.", "signature": "EqQB"}}},
                {"text": "Hello"}, {"text": ", world"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 12, "outputTokens": 6, "totalTokens": 26, "cacheReadInputTokens": 8},
            "metrics": {"latencyMs": 412},
        });
        assert_eq!(
            without_volatile(response(&answer, "bedrock/claude-haiku")),
            json!({
                "id": "x", "object": "chat.completion", "created": 0, "model": "bedrock/claude-haiku",
                "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "Hello, world", "refusal": null, "annotations": []}}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 6, "total_tokens": 26,
                          "prompt_tokens_details": {"cached_tokens": 8}},
            })
        );
    }

    #[test]
    fn tool_use_blocks_become_tool_calls_with_json_arguments() {
        let answer = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "top_song", "input": {"sign": "WZPZ"}}},
                {"toolUse": {"toolUseId": "tooluse_2", "name": "now", "input": {}}}]}},
            "stopReason": "tool_use", "usage": {"inputTokens": 375, "outputTokens": 54, "totalTokens": 429},
        });
        let out = response(&answer, "m");
        let choice = &out["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([
                {"id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "type": "function",
                 "function": {"name": "top_song", "arguments": "{\"sign\":\"WZPZ\"}"}},
                {"id": "tooluse_2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
            ])
        );
    }

    #[test]
    fn stop_reasons_map() {
        for (stop, finish) in [
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
            ("model_context_window_exceeded", "length"),
        ] {
            let answer = json!({"output": {"message": {"role": "assistant", "content": []}}, "stopReason": stop,
                                "usage": {"inputTokens": 1, "outputTokens": 0, "totalTokens": 1}});
            assert_eq!(response(&answer, "m")["choices"][0]["finish_reason"], finish, "{stop}");
        }
    }
}
