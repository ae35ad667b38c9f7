//! The stream translation, fed event sequences shaped as the providers send them.

use super::*;

/// The event sequence of Anthropic's streaming documentation for a tool call, with a text
/// block before it and a second call after it.
fn two_tool_calls() -> Vec<(&'static str, String)> {
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_014p7gG3wDgGV9EUtLvnow3U",
            "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "stop_sequence": null,
            "usage": {"input_tokens": 472, "cache_read_input_tokens": 100, "output_tokens": 2}, "content": [], "stop_reason": null}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking both."}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block":
            {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"location\":"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": " \"San Fra"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ncisco, CA\"}"}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 2, "content_block":
            {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"tz\": \"PST\"}"}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 2})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
            "usage": {"output_tokens": 89}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    events
        .into_iter()
        .map(|(name, data)| (name, data.to_string()))
        .collect()
}

fn run(stream: &mut Stream, events: &[(&str, String)]) -> Vec<Value> {
    let mut out: Vec<Out> = events
        .iter()
        .flat_map(|(name, data)| stream.event(name, data))
        .collect();
    out.extend(stream.finish());
    out.iter()
        .map(|o| {
            assert_eq!(o.event, None);
            serde_json::from_str(&o.data).unwrap_or(json!(o.data))
        })
        .collect()
}

#[test]
fn a_tool_stream_becomes_chunks_in_order() {
    let mut stream = Stream::new("anthropic/claude-sonnet-4-5", false);
    let chunks = run(&mut stream, &two_tool_calls());
    let deltas: Vec<_> = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| c["choices"][0]["delta"].clone())
        .collect();
    assert_eq!(
        deltas,
        vec![
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Checking both."}),
            json!({"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"San Fra"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "ncisco, CA\"}"}}]}),
            json!({"tool_calls": [{"index": 1, "id": "toolu_02", "type": "function",
                               "function": {"name": "get_time", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 1, "function": {"arguments": "{\"tz\": \"PST\"}"}}]}),
            json!({}),
        ]
    );
    assert_eq!(chunks.last(), Some(&json!("[DONE]")));
    for chunk in &chunks[..chunks.len() - 1] {
        assert_eq!(chunk["id"], "msg_014p7gG3wDgGV9EUtLvnow3U");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "anthropic/claude-sonnet-4-5");
        assert_eq!(chunk["created"], chunks[0]["created"]);
        assert_eq!(chunk["choices"][0]["index"], 0);
        assert!(chunk.get("usage").is_none());
    }
    let finishes: Vec<_> = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| c["choices"][0]["finish_reason"].clone())
        .collect();
    assert_eq!(
        finishes.iter().filter(|f| !f.is_null()).collect::<Vec<_>>(),
        vec!["tool_calls"]
    );
    // The argument pieces put together are the call's JSON.
    let arguments: String = deltas
        .iter()
        .filter(|d| d["tool_calls"][0]["index"] == 0)
        .filter_map(|d| d["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"location": "San Francisco, CA"})
    );
}

#[test]
fn usage_comes_last_when_asked_for() {
    let mut stream = Stream::new("m", true);
    let chunks = run(&mut stream, &two_tool_calls());
    let [.., finish, usage, done] = &chunks[..] else {
        panic!("too short")
    };
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(finish["usage"], Value::Null);
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 572, "completion_tokens": 89, "total_tokens": 661,
                                      "prompt_tokens_details": {"cached_tokens": 100}})
    );
    assert_eq!(done, &json!("[DONE]"));
}

#[test]
fn thinking_is_dropped() {
    let events: Vec<(&str, String)> = [
        json!({"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me think"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "42"}}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ]
    .into_iter()
    .map(|e| ("", e.to_string()))
    .collect();
    let chunks = run(&mut Stream::new("m", false), &events);
    let deltas: Vec<_> = chunks.iter().map(|c| c["choices"][0]["delta"].clone()).collect();
    assert_eq!(
        deltas,
        vec![
            json!({"role": "assistant", "content": ""}),
            json!({"content": "42"}),
            json!({}),
            Value::Null
        ]
    );
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
}

#[test]
fn an_error_event_ends_the_stream_without_done() {
    let mut stream = Stream::new("m", true);
    let start =
        json!({"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 5, "output_tokens": 1}}});
    assert_eq!(stream.event("message_start", &start.to_string()).len(), 1);
    let error = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
    let out = stream.event("error", &error.to_string());
    assert_eq!(
        out,
        vec![Out {
            event: None,
            data: r#"{"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}}"#.to_string()
        }]
    );
    assert!(stream.event("message_stop", r#"{"type":"message_stop"}"#).is_empty());
    assert!(stream.finish().is_empty());
}

#[test]
fn a_cut_stream_still_ends_with_done_once() {
    let mut stream = Stream::new("m", false);
    let start =
        json!({"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 5, "output_tokens": 1}}});
    stream.event("message_start", &start.to_string());
    assert_eq!(
        stream.finish(),
        vec![Out {
            event: None,
            data: "[DONE]".into()
        }]
    );
    assert!(stream.finish().is_empty());
}
