//! Round trips through both ways, by the public interface: what goes from one API to the other
//! and back says what it said before. Streams are put together the way the SDKs do.

use serde_json::{Map, Value, json};

use super::{Out, Stream, Way, error, request, response};

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// An Anthropic event stream put together as the Anthropic SDK does: into the final message.
fn assemble_message(events: &[Out]) -> Value {
    let mut message = Value::Null;
    let mut json_pieces: Vec<String> = Vec::new();
    for out in events {
        let event: Value = serde_json::from_str(&out.data).unwrap();
        assert_eq!(out.event, event["type"].as_str(), "the SSE name is the data's type");
        let index = event["index"].as_u64().unwrap_or(0) as usize;
        match out.event.unwrap() {
            "message_start" => message = event["message"].clone(),
            "content_block_start" => {
                assert_eq!(
                    message["content"].as_array().unwrap().len(),
                    index,
                    "blocks are numbered in order"
                );
                message["content"]
                    .as_array_mut()
                    .unwrap()
                    .push(event["content_block"].clone());
                json_pieces.push(String::new());
            }
            "content_block_delta" => {
                let block = &mut message["content"][index];
                match event["delta"]["type"].as_str().unwrap() {
                    "text_delta" => {
                        let text = format!(
                            "{}{}",
                            block["text"].as_str().unwrap(),
                            event["delta"]["text"].as_str().unwrap()
                        );
                        block["text"] = json!(text);
                    }
                    "input_json_delta" => json_pieces[index].push_str(event["delta"]["partial_json"].as_str().unwrap()),
                    other => panic!("unexpected delta {other}"),
                }
            }
            "message_delta" => {
                message["stop_reason"] = event["delta"]["stop_reason"].clone();
                for (key, value) in event["usage"].as_object().unwrap() {
                    message["usage"][key] = value.clone();
                }
            }
            _ => {}
        }
    }
    for (block, pieces) in message["content"].as_array_mut().unwrap().iter_mut().zip(json_pieces) {
        if block["type"] == "tool_use" && !pieces.is_empty() {
            block["input"] = serde_json::from_str(&pieces).unwrap();
        }
    }
    message
}

/// OpenAI chunks put together as the OpenAI SDK does: into one choice, plus usage (the Converse
/// stream tests read theirs with it too).
pub(super) fn assemble_completion(chunks: &[Out]) -> Value {
    let mut content = String::new();
    let mut calls: Vec<Value> = Vec::new();
    let (mut finish, mut usage, mut done) = (Value::Null, Value::Null, false);
    for out in chunks {
        assert_eq!(out.event, None);
        assert!(!done, "nothing after [DONE]");
        if out.data == "[DONE]" {
            done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(&out.data).unwrap();
        if !chunk["usage"].is_null() {
            usage = chunk["usage"].clone();
        }
        let Some(choice) = chunk["choices"].get(0) else {
            continue;
        };
        content.push_str(choice["delta"]["content"].as_str().unwrap_or_default());
        for call in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap() as usize;
            if index == calls.len() {
                calls.push(json!({"id": call["id"], "name": call["function"]["name"], "arguments": ""}));
            }
            let arguments = format!(
                "{}{}",
                calls[index]["arguments"].as_str().unwrap(),
                call["function"]["arguments"].as_str().unwrap_or_default()
            );
            calls[index]["arguments"] = json!(arguments);
        }
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
    }
    assert!(done, "the stream ends with [DONE]");
    json!({"content": content, "tool_calls": calls, "finish_reason": finish, "usage": usage})
}

pub(super) fn anthropic_tool_stream() -> Vec<(&'static str, Value)> {
    vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_01", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 40, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 0, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Two "}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lookups."}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Pa"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ris\", \"days\": [1, 2]}"}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"tz\":"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "\"CET\"}"}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 2})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
            "usage": {"output_tokens": 57}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]
}

fn feed(stream: &mut Stream, events: impl IntoIterator<Item = (String, String)>) -> Vec<Out> {
    let mut out: Vec<Out> = events
        .into_iter()
        .flat_map(|(name, data)| stream.event(&name, &data))
        .collect();
    out.extend(stream.finish());
    out
}

#[test]
fn a_chat_request_goes_to_messages_and_back() {
    let original = json!({
        "model": "claude-sonnet-4-5", "max_completion_tokens": 500, "temperature": 0.3, "stop": ["END"],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": [{"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "14:00"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required", "parallel_tool_calls": false, "user": "u1", "stream": true,
    });
    let anthropic = request(Way::ChatToMessages, &object(original)).unwrap();
    assert_eq!(anthropic["system"], "Be brief.\n\nUse metric units.");
    assert_eq!(
        anthropic["messages"].as_array().unwrap().len(),
        3,
        "the two tool results share one user message"
    );
    let back = Value::Object(request(Way::MessagesToChat, &anthropic).unwrap());
    assert_eq!(
        back,
        json!({
            "model": "claude-sonnet-4-5",
            "messages": [
                {"role": "system", "content": "Be brief.\n\nUse metric units."},
                {"role": "user", "content": [{"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_2", "content": "14:00"},
            ],
            "max_completion_tokens": 500, "temperature": 0.3, "stop": ["END"],
            "tool_choice": "required", "parallel_tool_calls": false,
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "user": "u1", "stream": true, "stream_options": {"include_usage": true},
        })
    );
}

#[test]
fn a_messages_request_goes_to_chat_and_back() {
    let original = json!({
        "model": "gpt-4.1", "max_tokens": 256, "system": "Be brief.", "temperature": 0.7, "top_p": 0.5,
        "stop_sequences": ["###"],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Look:"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {"type": "document", "title": "spec.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "cat", "n": 2}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a tabby"},
                {"type": "text", "text": "And?"}]},
        ],
        "tools": [{"name": "lookup", "description": "Search", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}],
        "tool_choice": {"type": "tool", "name": "lookup", "disable_parallel_tool_use": true},
        "metadata": {"user_id": "u2"},
    });
    let openai = request(Way::MessagesToChat, &object(original.clone())).unwrap();
    assert_eq!(
        openai["messages"].as_array().unwrap().len(),
        5,
        "system, user, assistant, tool, user"
    );
    let back = Value::Object(request(Way::ChatToMessages, &openai).unwrap());
    assert_eq!(back, original);
}

#[test]
fn whole_answers_go_both_ways_and_back() {
    let message = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "openai/gpt-4.1",
        "content": [{"type": "text", "text": "Sure."}, {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, {"b": null}]}}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 3, "cache_read_input_tokens": 5, "output_tokens": 7}});
    let completion = response(Way::ChatToMessages, &message, "client-model", &Map::new());
    assert_eq!(completion["model"], "client-model");
    assert_eq!(
        response(Way::MessagesToChat, &completion, "openai/gpt-4.1", &Map::new()),
        message
    );
    let mut again = response(
        Way::ChatToMessages,
        &response(Way::MessagesToChat, &completion, "x", &Map::new()),
        "client-model",
        &Map::new(),
    );
    again["created"] = completion["created"].clone();
    assert_eq!(again, completion);
}

#[test]
fn errors_go_both_ways_and_back() {
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ] {
        let body = json!({"type": "error", "error": {"type": kind, "message": "why"}}).to_string();
        let openai = error(Way::ChatToMessages, status, None, body.as_bytes());
        let back: Value = serde_json::from_slice(&error(Way::MessagesToChat, status, None, &openai)).unwrap();
        assert_eq!(
            back,
            json!({"type": "error", "error": {"type": kind, "message": "why"}}),
            "{status}"
        );
    }
}

#[test]
fn an_anthropic_stream_comes_to_openai_and_back() {
    let events = || {
        anthropic_tool_stream()
            .into_iter()
            .map(|(n, e)| (n.to_string(), e.to_string()))
    };
    // Anthropic → OpenAI chunks, put together as the OpenAI SDK would.
    let mut to_chat = Stream::new(Way::ChatToMessages, "client-model", true, &Map::new());
    let chunks = feed(&mut to_chat, events());
    let completion = assemble_completion(&chunks);
    assert_eq!(
        completion,
        json!({
            "content": "Two lookups.",
            "tool_calls": [{"id": "toolu_a", "name": "get_weather", "arguments": "{\"city\": \"Paris\", \"days\": [1, 2]}"},
                           {"id": "toolu_b", "name": "get_time", "arguments": "{\"tz\":\"CET\"}"}],
            "finish_reason": "tool_calls",
            "usage": {"prompt_tokens": 100, "completion_tokens": 57, "total_tokens": 157, "prompt_tokens_details": {"cached_tokens": 60}},
        })
    );
    // Those chunks → Anthropic events again, put together as the Anthropic SDK would.
    let mut to_messages = Stream::new(Way::MessagesToChat, "client-model", false, &Map::new());
    let events_again = feed(&mut to_messages, chunks.into_iter().map(|o| (String::new(), o.data)));
    let message = assemble_message(&events_again);
    assert_eq!(
        message["content"],
        json!([
            {"type": "text", "text": "Two lookups."},
            {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris", "days": [1, 2]}},
            {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {"tz": "CET"}},
        ])
    );
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(
        message["usage"],
        json!({"input_tokens": 40, "cache_creation_input_tokens": 0,
                                        "cache_read_input_tokens": 60, "output_tokens": 57})
    );
}

#[test]
fn include_usage_off_sends_no_usage_chunk() {
    let events = anthropic_tool_stream()
        .into_iter()
        .map(|(n, e)| (n.to_string(), e.to_string()));
    let chunks = feed(&mut Stream::new(Way::ChatToMessages, "m", false, &Map::new()), events);
    assert!(chunks.iter().all(|o| o.data == "[DONE]" || !o.data.contains("usage")));
    assert_eq!(assemble_completion(&chunks)["usage"], Value::Null);
}

#[test]
fn an_openai_stream_with_late_usage_comes_to_anthropic() {
    let chunk = |choices: Value, usage: Value| {
        json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
               "choices": choices, "usage": usage})
        .to_string()
    };
    let delta =
        |d: Value, finish: Value| chunk(json!([{"index": 0, "delta": d, "finish_reason": finish}]), Value::Null);
    let datas = [
        delta(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_x", "type": "function",
                     "function": {"name": "search", "arguments": ""}}]}),
            Value::Null,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"q\":"}}]}),
            Value::Null,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"rust\"}"}}]}),
            Value::Null,
        ),
        delta(json!({}), json!("tool_calls")),
        chunk(
            json!([]),
            json!({"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38}),
        ),
        "[DONE]".to_string(),
    ];
    let events = feed(
        &mut Stream::new(Way::MessagesToChat, "client-model", false, &Map::new()),
        datas.into_iter().map(|d| (String::new(), d)),
    );
    let message = assemble_message(&events);
    assert_eq!(message["model"], "client-model");
    assert_eq!(
        message["content"],
        json!([{"type": "tool_use", "id": "call_x", "name": "search", "input": {"q": "rust"}}])
    );
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["usage"]["input_tokens"], 30);
    assert_eq!(message["usage"]["output_tokens"], 8);
    assert_eq!(events.last().unwrap().event, Some("message_stop"));
}

#[test]
fn a_request_openai_cannot_take_is_refused_through_the_interface() {
    let body = object(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 3}));
    assert_eq!(
        request(Way::ChatToMessages, &body).unwrap_err(),
        "`n`: Anthropic answers with one choice; 3 were asked for"
    );
}

#[test]
fn an_anthropic_token_count_goes_to_gemini_and_back() {
    let body = object(json!({"model": "gemini-2.5-flash", "system": "Be brief.",
                             "messages": [{"role": "user", "content": "four words right here"}]}));
    let sent = request(Way::CountTokensToGemini, &body).unwrap();
    assert_eq!(
        Value::Object(sent),
        json!({"generateContentRequest": {
            "contents": [{"role": "user", "parts": [{"text": "four words right here"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "model": "models/gemini-2.5-flash"}})
    );
    let answer = json!({"totalTokens": 6, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}]});
    assert_eq!(
        response(
            Way::CountTokensToGemini,
            &answer,
            "gemini/gemini-2.5-flash",
            &Map::new()
        ),
        json!({"input_tokens": 6})
    );
    let failed = error(
        Way::CountTokensToGemini,
        429,
        None,
        br#"{"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}"#,
    );
    let failed: Value = serde_json::from_slice(&failed).unwrap();
    assert_eq!(failed["type"], "error");
    assert_eq!(failed["error"]["type"], "rate_limit_error");
    assert_eq!(failed["error"]["message"], "quota");
}
