//! Responses clients reaching providers through chat, by the `translate` interface: the request
//! put into chat and then into Anthropic's messages, and Anthropic's answers, errors and
//! streams come back as a Responses client reads them.

use serde_json::{Map, Value, json};

use super::super::tests::anthropic_tool_stream;
use super::super::{Out, Stream, Way, error, request, response};

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// A Responses event stream put together as the SDK's stream helper does: output items by
/// `output_index`, text and argument deltas appended, and the final `response` object.
fn assemble(events: &[Out]) -> (Vec<Value>, Value) {
    let mut items: Vec<Value> = Vec::new();
    let mut last = Value::Null;
    for (i, out) in events.iter().enumerate() {
        let event: Value = serde_json::from_str(&out.data).unwrap();
        assert_eq!(out.event, event["type"].as_str(), "the SSE name is the data's type");
        assert_eq!(event["sequence_number"], i);
        let at = event["output_index"].as_u64().unwrap_or(0) as usize;
        match out.event.unwrap() {
            "response.output_item.added" => {
                assert_eq!(items.len(), at, "items are numbered in order");
                items.push(event["item"].clone());
            }
            "response.content_part.added" => items[at]["content"].as_array_mut().unwrap().push(event["part"].clone()),
            "response.output_text.delta" => {
                let part = &mut items[at]["content"][0]["text"];
                *part = json!(format!(
                    "{}{}",
                    part.as_str().unwrap(),
                    event["delta"].as_str().unwrap()
                ));
            }
            "response.function_call_arguments.delta" => {
                let arguments = &mut items[at]["arguments"];
                *arguments = json!(format!(
                    "{}{}",
                    arguments.as_str().unwrap(),
                    event["delta"].as_str().unwrap()
                ));
            }
            "response.output_item.done" => {
                let mut done = event["item"].clone();
                done["status"] = items[at]["status"].clone();
                assert_eq!(done, items[at], "the done item is what the deltas made");
                items[at] = event["item"].clone();
            }
            "response.completed" | "response.incomplete" | "response.failed" => last = event["response"].clone(),
            _ => {}
        }
    }
    (items, last)
}

#[test]
fn a_responses_request_goes_to_anthropic_through_chat() {
    let body = object(json!({
        "model": "claude-sonnet-4-5", "instructions": "Be brief.", "max_output_tokens": 300, "stream": true,
        "input": [
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": "toolu_a", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "toolu_a", "output": "18C"},
        ],
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
        "tool_choice": "required", "parallel_tool_calls": false,
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}},
    }));
    let out = request(Way::ResponsesToMessages, &body).unwrap();
    assert_eq!(
        Value::Object(out),
        json!({
            "model": "claude-sonnet-4-5", "system": "Be brief.", "max_tokens": 300, "stream": true,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "18C"}]},
            ],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        })
    );
    let refused = object(json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}));
    for way in [
        Way::ResponsesToChat,
        Way::ResponsesToMessages,
        Way::ResponsesToGemini,
        Way::ResponsesToConverse,
    ] {
        assert!(
            request(way, &refused)
                .unwrap_err()
                .starts_with("`previous_response_id`")
        );
    }
}

#[test]
fn an_anthropic_stream_comes_back_as_responses_events() {
    let request = object(json!({"model": "fast", "input": "Weather?", "stream": true,
                                "tools": [{"type": "function", "name": "get_weather"},
                                          {"type": "function", "name": "get_time"}]}));
    let mut stream = Stream::new(Way::ResponsesToMessages, "fast", false, &request);
    let mut events: Vec<Out> = anthropic_tool_stream()
        .into_iter()
        .flat_map(|(name, data)| stream.event(name, &data.to_string()))
        .collect();
    events.extend(stream.finish());
    assert_eq!(events.first().unwrap().event, Some("response.created"));
    assert_eq!(events.last().unwrap().event, Some("response.completed"));
    let (items, response) = assemble(&events);
    assert_eq!(response["output"], Value::Array(items));
    assert_eq!(response["id"], "resp_01");
    assert_eq!(response["model"], "fast");
    assert_eq!(response["tools"], request["tools"]);
    assert_eq!(
        response["output"],
        json!([
            {"type": "message", "id": "msg_01_0", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Two lookups.", "annotations": [], "logprobs": []}]},
            {"type": "function_call", "id": "fc_01_1", "call_id": "toolu_a", "name": "get_weather",
             "arguments": "{\"city\": \"Paris\", \"days\": [1, 2]}", "status": "completed"},
            {"type": "function_call", "id": "fc_01_2", "call_id": "toolu_b", "name": "get_time",
             "arguments": "{\"tz\":\"CET\"}", "status": "completed"},
        ])
    );
    assert_eq!(
        response["usage"],
        json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 0},
               "output_tokens": 57, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 157})
    );
    assert!(
        events.iter().all(|e| e.data != "[DONE]"),
        "no [DONE] for a Responses client"
    );
}

#[test]
fn an_anthropic_answer_and_error_come_back_in_openai_words() {
    let message = json!({"id": "msg_01X", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Hi."}], "stop_reason": "max_tokens", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 2}});
    let out = response(
        Way::ResponsesToMessages,
        &message,
        "fast",
        &object(json!({"input": "x"})),
    );
    assert_eq!(out["id"], "resp_01X");
    assert_eq!(out["status"], "incomplete");
    assert_eq!(out["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(out["output"][0]["content"][0]["text"], "Hi.");
    assert_eq!(out["usage"]["total_tokens"], 12);

    let body = json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}).to_string();
    let openai: Value = serde_json::from_slice(&error(Way::ResponsesToMessages, 429, None, body.as_bytes())).unwrap();
    assert_eq!(
        openai,
        json!({"error": {"message": "slow down", "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}})
    );
    // A chat provider's error is already in the client's shape.
    let chat = br#"{"error": {"message": "bad", "type": "invalid_request_error", "param": null, "code": null}}"#;
    assert_eq!(error(Way::ResponsesToChat, 400, None, chat), chat.to_vec());
}
