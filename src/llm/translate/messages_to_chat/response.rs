//! An OpenAI `chat.completion` as an Anthropic message. The first choice is the answer (the
//! request asked for one). Its `content`, or its `refusal`, becomes a text block, its
//! `tool_calls` `tool_use` blocks whose `input` is the arguments parsed; arguments that are not
//! a JSON object (a model cut off mid-call) become `{}`, since Anthropic's `input` must be an
//! object. Reasoning text some OpenAI-compatible servers add (`reasoning_content`) is dropped.

use serde_json::{Value, json};

use super::super::finish::stop_reason;
use super::super::usage::Tokens;

pub fn response(body: &Value, model: &str) -> Value {
    let choice = &body["choices"][0];
    let message = &choice["message"];
    let mut content = Vec::new();
    let text = message["content"].as_str().filter(|t| !t.is_empty());
    if let Some(text) = text.or(message["refusal"].as_str()) {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        content.push(json!({
            "type": "tool_use",
            "id": call["id"],
            "name": call["function"]["name"],
            "input": input(call["function"]["arguments"].as_str().unwrap_or_default()),
        }));
    }
    json!({
        "id": body["id"],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice["finish_reason"].as_str()),
        "stop_sequence": null,
        "usage": Tokens::from_chat(&body["usage"]).to_messages(),
    })
}

/// Tool-call arguments as Anthropic's `input` object.
fn input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(message: Value, finish: &str) -> Value {
        json!({
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "created": 1741569952,
            "model": "gpt-4.1-2025-04-14", "system_fingerprint": "fp_fake0llm", "service_tier": "default",
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        })
    }

    #[test]
    fn a_text_completion_becomes_a_message() {
        let body = completion(
            json!({"role": "assistant", "content": "Hello there, how may I assist you today?",
                                     "refusal": null, "annotations": []}),
            "stop",
        );
        assert_eq!(
            response(&body, "openai/gpt-4.1"),
            json!({
                "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "type": "message", "role": "assistant",
                "model": "openai/gpt-4.1",
                "content": [{"type": "text", "text": "Hello there, how may I assist you today?"}],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 19, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 10},
            })
        );
    }

    #[test]
    fn tool_calls_become_tool_use_blocks() {
        let body = completion(
            json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
            {"id": "call_abc123", "type": "function", "function": {"name": "get_current_weather", "arguments": "{\n\"location\": \"Boston, MA\"\n}"}},
            {"id": "call_def456", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\":"}}]}),
            "tool_calls",
        );
        let out = response(&body, "m");
        assert_eq!(out["stop_reason"], "tool_use");
        assert_eq!(
            out["content"],
            json!([
                {"type": "tool_use", "id": "call_abc123", "name": "get_current_weather", "input": {"location": "Boston, MA"}},
                {"type": "tool_use", "id": "call_def456", "name": "get_time", "input": {}},
            ])
        );
    }

    #[test]
    fn a_refusal_is_said_as_text() {
        let body = completion(
            json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
            "content_filter",
        );
        let out = response(&body, "m");
        assert_eq!(
            out["content"],
            json!([{"type": "text", "text": "I can't help with that."}])
        );
        assert_eq!(out["stop_reason"], "refusal");
    }
}
