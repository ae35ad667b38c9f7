//! The stream translation, fed event sequences shaped as the providers send them.

use super::*;

/// OpenAI chunks as the API sends them (id, created, model, fingerprint on each).
fn chunk(choices: Value, usage: Value) -> String {
    json!({"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
           "model": "gpt-4.1-2025-04-14", "system_fingerprint": "fp_44709d6fcb", "choices": choices, "usage": usage})
    .to_string()
}

fn delta(delta: Value, finish: Value) -> String {
    chunk(
        json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
        Value::Null,
    )
}

fn run(datas: &[String]) -> Vec<(&'static str, Value)> {
    let mut stream = Stream::new("openai/gpt-4.1");
    let mut out: Vec<Out> = datas.iter().flat_map(|d| stream.event(d)).collect();
    out.extend(stream.finish());
    out.into_iter()
        .map(|o| (o.event.unwrap(), serde_json::from_str(&o.data).unwrap()))
        .collect()
}

fn names(events: &[(&'static str, Value)]) -> Vec<&'static str> {
    events.iter().map(|(name, _)| *name).collect()
}

#[test]
fn a_text_stream_becomes_message_events() {
    let events = run(&[
        delta(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ),
        delta(json!({"content": "Hello"}), Value::Null),
        delta(json!({"content": " world"}), Value::Null),
        delta(json!({}), json!("stop")),
        chunk(
            json!([]),
            json!({"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21,
                                "prompt_tokens_details": {"cached_tokens": 4}}),
        ),
        "[DONE]".to_string(),
    ]);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        events[0].1,
        json!({"type": "message_start", "message": {"id": "chatcmpl-123", "type": "message",
        "role": "assistant", "model": "openai/gpt-4.1", "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 0, "output_tokens": 0}}})
    );
    assert_eq!(
        events[1].1,
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    assert_eq!(
        events[3].1,
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " world"}})
    );
    assert_eq!(events[4].1, json!({"type": "content_block_stop", "index": 0}));
    assert_eq!(
        events[5].1,
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
        "usage": {"input_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4, "output_tokens": 12}})
    );
    assert_eq!(events[6].1, json!({"type": "message_stop"}));
}

#[test]
fn text_then_two_tool_calls_get_their_own_blocks() {
    let call = |index: u64, id: &str, name: &str| json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]});
    let args = |index: u64, piece: &str| json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]});
    let events = run(&[
        delta(json!({"role": "assistant", "content": "Let me check."}), Value::Null),
        delta(call(0, "call_1", "get_weather"), Value::Null),
        delta(args(0, "{\"ci"), Value::Null),
        delta(args(0, "ty\": \"Paris\"}"), Value::Null),
        delta(call(1, "call_2", "get_time"), Value::Null),
        delta(args(1, "{}"), Value::Null),
        delta(json!({}), json!("tool_calls")),
        "[DONE]".to_string(),
    ]);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        events[4].1,
        json!({"type": "content_block_start", "index": 1,
        "content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}})
    );
    assert_eq!(events[8].1["index"], 2);
    assert_eq!(events[8].1["content_block"]["name"], "get_time");
    let pieces: String = events
        .iter()
        .filter(|(_, e)| e["index"] == 1)
        .filter_map(|(_, e)| e["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&pieces).unwrap(),
        json!({"city": "Paris"})
    );
    // Usage never came: the message_delta waits for [DONE] and says 0.
    assert_eq!(events[11].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[11].1["usage"], json!({"output_tokens": 0}));
}

#[test]
fn usage_in_the_finish_chunk_sends_the_delta_at_once() {
    let mut stream = Stream::new("m");
    stream.event(&delta(json!({"content": "x"}), Value::Null));
    let finish = chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": "length"}]),
        json!({"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}),
    );
    let out = stream.event(&finish);
    assert_eq!(
        out.iter().map(|o| o.event.unwrap()).collect::<Vec<_>>(),
        ["content_block_stop", "message_delta"]
    );
    assert!(out[1].data.contains(r#""stop_reason":"max_tokens""#));
    assert_eq!(
        stream
            .event("[DONE]")
            .iter()
            .map(|o| o.event.unwrap())
            .collect::<Vec<_>>(),
        ["message_stop"]
    );
    assert!(stream.finish().is_empty());
}

#[test]
fn azure_preamble_is_skipped() {
    let preamble = json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]})
    .to_string();
    let events = run(&[
        preamble,
        delta(json!({"role": "assistant", "content": "Hi"}), Value::Null),
    ]);
    assert_eq!(events[0].1["message"]["id"], "chatcmpl-123");
}

#[test]
fn an_error_chunk_becomes_an_error_event_and_ends_the_stream() {
    let mut stream = Stream::new("m");
    stream.event(&delta(json!({"content": "x"}), Value::Null));
    let error = r#"{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}"#;
    assert_eq!(
        stream.event(error),
        vec![Out {
            event: Some("error"),
            data: r#"{"type":"error","error":{"type":"api_error","message":"The server had an error"}}"#.to_string()
        }]
    );
    assert!(stream.event("[DONE]").is_empty());
    assert!(stream.finish().is_empty());
}

#[test]
fn a_cut_stream_is_closed_by_finish() {
    let mut stream = Stream::new("m");
    stream.event(&delta(json!({"content": "par"}), Value::Null));
    let names: Vec<_> = stream.finish().iter().map(|o| o.event.unwrap()).collect();
    assert_eq!(names, ["content_block_stop", "message_delta", "message_stop"]);
}
