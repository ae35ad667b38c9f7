//! An OpenAI `chat.completion` as a Responses `response`. The first choice is the answer (the
//! request asked for one). Its `content` (or its `refusal`, said as text) becomes one message
//! item with one `output_text` part, its `tool_calls` `function_call` items after it, in the
//! order OpenAI's own answers put them. Reasoning text some OpenAI-compatible servers add
//! (`reasoning_content`) is dropped.

use serde_json::{Map, Value, json};

use super::super::finish::incomplete_reason;
use super::super::usage::Tokens;
use super::envelope::{Envelope, Status};

pub fn response(body: &Value, model: &str, request: &Map<String, Value>) -> Value {
    let mut envelope = Envelope::new(model, request);
    envelope.identify(body["id"].as_str().unwrap_or_default(), body["created"].as_u64());
    let choice = &body["choices"][0];
    let message = &choice["message"];
    let incomplete = incomplete_reason(choice["finish_reason"].as_str());
    let mut output = Vec::new();
    let text = message["content"].as_str().filter(|t| !t.is_empty());
    if let Some(text) = text.or(message["refusal"].as_str()) {
        let id = envelope.item_id("msg", output.len());
        output.push(message_item(&id, text, incomplete.is_some()));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let id = envelope.item_id("fc", output.len());
        let function = &call["function"];
        output.push(function_call_item(
            &id,
            call["id"].as_str().unwrap_or_default(),
            function["name"].as_str().unwrap_or_default(),
            function["arguments"].as_str().unwrap_or_default(),
            "completed",
        ));
    }
    let status = incomplete.map_or(Status::Completed, Status::Incomplete);
    envelope.object(status, output, Some(Tokens::from_chat(&body["usage"])))
}

/// One `output_text` part.
pub fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// The assistant's message item, done; `cut`: the answer was cut short.
pub fn message_item(id: &str, text: &str, cut: bool) -> Value {
    json!({"type": "message", "id": id, "status": if cut { "incomplete" } else { "completed" },
           "role": "assistant", "content": [text_part(text)]})
}

pub fn function_call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments,
           "status": status})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(message: Value, finish: &str) -> Value {
        json!({
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "created": 1741569952,
            "model": "gpt-4.1-2025-04-14", "system_fingerprint": "fp_fake0llm",
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                      "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
        })
    }

    fn request(body: Value) -> Map<String, Value> {
        body.as_object().cloned().unwrap()
    }

    #[test]
    fn a_text_completion_becomes_a_response_echoing_the_request() {
        let body = completion(
            json!({"role": "assistant", "content": "Hello there.", "refusal": null}),
            "stop",
        );
        let mut out = response(
            &body,
            "fast",
            &request(
                json!({"model": "fast", "input": "Hi", "instructions": "Be brief.", "temperature": 0.2,
                            "metadata": {"team": "a"}}),
            ),
        );
        assert!(out["completed_at"].as_u64().is_some());
        out["completed_at"] = json!(1);
        assert_eq!(
            out,
            json!({
                "id": "resp_B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "response", "created_at": 1741569952,
                "status": "completed", "background": false, "completed_at": 1, "error": null,
                "incomplete_details": null, "instructions": "Be brief.", "max_output_tokens": null,
                "max_tool_calls": null, "metadata": {"team": "a"}, "model": "fast",
                "output": [{"type": "message", "id": "msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT_0", "status": "completed",
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": "Hello there.", "annotations": [], "logprobs": []}]}],
                "parallel_tool_calls": true, "previous_response_id": null, "safety_identifier": null,
                "store": false, "temperature": 0.2, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
                "tools": [], "top_p": null, "truncation": "disabled", "user": null,
                "usage": {"input_tokens": 19, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
                          "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 29},
            })
        );
    }

    #[test]
    fn tool_calls_become_function_call_items_after_the_text() {
        let body = completion(
            json!({"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_def", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}),
            "tool_calls",
        );
        let tools = json!([{"type": "function", "name": "get_weather"}, {"type": "function", "name": "get_time"}]);
        let out = response(
            &body,
            "m",
            &request(json!({"input": "x", "tools": tools, "tool_choice": "required"})),
        );
        assert_eq!(out["status"], "completed");
        assert_eq!((&out["tools"], &out["tool_choice"]), (&tools, &json!("required")));
        assert_eq!(
            out["output"],
            json!([
                {"type": "message", "id": "msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT_0", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Checking.", "annotations": [], "logprobs": []}]},
                {"type": "function_call", "id": "fc_B9MBs8CjcvOU2jLn4n570S5qMJKcT_1", "call_id": "call_abc",
                 "name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
                {"type": "function_call", "id": "fc_B9MBs8CjcvOU2jLn4n570S5qMJKcT_2", "call_id": "call_def",
                 "name": "get_time", "arguments": "{}", "status": "completed"},
            ])
        );
    }

    #[test]
    fn a_cut_answer_is_incomplete() {
        for (finish, reason) in [("length", "max_output_tokens"), ("content_filter", "content_filter")] {
            let body = completion(json!({"role": "assistant", "content": "Once upon"}), finish);
            let out = response(&body, "m", &request(json!({"input": "x", "max_output_tokens": 16})));
            assert_eq!(out["status"], "incomplete");
            assert_eq!(out["incomplete_details"], json!({"reason": reason}));
            assert_eq!(out["completed_at"], Value::Null);
            assert_eq!(out["max_output_tokens"], 16);
            assert_eq!(out["output"][0]["status"], "incomplete");
        }
    }

    #[test]
    fn an_answer_without_an_id_gets_one() {
        let mut body = completion(
            json!({"role": "assistant", "content": null, "refusal": "I can't."}),
            "stop",
        );
        body["id"] = Value::Null;
        let out = response(&body, "m", &Map::new());
        let id = out["id"].as_str().unwrap();
        assert!(id.starts_with("resp_") && id.len() > 20, "{id}");
        assert_eq!(out["output"][0]["content"][0]["text"], "I can't.");
    }
}
