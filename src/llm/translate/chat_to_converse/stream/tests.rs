//! The stream translation, fed event sequences shaped as Bedrock sends them (padding `p`
//! included), read back as the OpenAI SDK reads chunks.

use super::*;
use crate::llm::translate::tests::assemble_completion;

fn feed(stream: &mut Stream, events: &[(&str, Value)]) -> Vec<Out> {
    let mut out: Vec<Out> = events
        .iter()
        .flat_map(|(name, data)| stream.event(name, &data.to_string()))
        .collect();
    out.extend(stream.finish());
    out
}

/// Reasoning, a text block (opened by its first delta), then two tool calls.
fn tool_calls() -> Vec<(&'static str, Value)> {
    vec![
        ("messageStart", json!({"role": "assistant", "p": "a"})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Two lookups."}}, "p": "ab"}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "EqQB"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"text": "Checking "}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"text": "both."}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 1})),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_a", "name": "get_weather"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"city\": \"Pa"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "ris\"}"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 2})),
        (
            "contentBlockStart",
            json!({"contentBlockIndex": 3, "start": {"toolUse": {"toolUseId": "tooluse_b", "name": "get_time"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 3})),
        ("messageStop", json!({"stopReason": "tool_use", "p": "abcdefg"})),
        (
            "metadata",
            json!({"usage": {"inputTokens": 40, "outputTokens": 25, "totalTokens": 125, "cacheReadInputTokens": 60},
                            "metrics": {"latencyMs": 812}}),
        ),
    ]
}

#[test]
fn a_tool_stream_reads_as_the_openai_sdk_expects() {
    let mut stream = Stream::new("client-model", true);
    let chunks = feed(&mut stream, &tool_calls());
    assert_eq!(
        assemble_completion(&chunks),
        json!({
            "content": "Checking both.",
            "tool_calls": [
                {"id": "tooluse_a", "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"},
                {"id": "tooluse_b", "name": "get_time", "arguments": "{}"},
            ],
            "finish_reason": "tool_calls",
            "usage": {"prompt_tokens": 100, "completion_tokens": 25, "total_tokens": 125,
                      "prompt_tokens_details": {"cached_tokens": 60}},
        })
    );
    let first: Value = serde_json::from_str(&chunks[0].data).unwrap();
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(first["model"], "client-model");
    assert!(first["id"].as_str().unwrap().starts_with("chatcmpl-"));
    // One id for the whole answer.
    let ids: Vec<Value> = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| serde_json::from_str::<Value>(&c.data).unwrap()["id"].clone())
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
}

#[test]
fn without_include_usage_the_stream_ends_with_done_only() {
    let mut stream = Stream::new("m", false);
    let chunks = feed(&mut stream, &tool_calls());
    let last_two: Vec<&str> = chunks[chunks.len() - 2..].iter().map(|c| c.data.as_str()).collect();
    assert_eq!(last_two[1], "[DONE]");
    let finish: Value = serde_json::from_str(last_two[0]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert!(finish.get("usage").is_none());
}

#[test]
fn a_stream_without_metadata_still_ends() {
    let mut stream = Stream::new("m", true);
    let events = [
        ("messageStart", json!({"role": "assistant"})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
        ),
        ("messageStop", json!({"stopReason": "max_tokens"})),
    ];
    let chunks = feed(&mut stream, &events);
    let completion = assemble_completion(&chunks);
    assert_eq!(completion["content"], "Hi");
    assert_eq!(completion["finish_reason"], "length");
    assert_eq!(completion["usage"]["total_tokens"], 0);
    assert!(stream.finish().is_empty(), "[DONE] goes out once");
}

#[test]
fn an_exception_becomes_an_error_chunk_and_ends_the_stream() {
    let mut stream = Stream::new("m", true);
    let mut out = stream.event("messageStart", r#"{"role":"assistant"}"#);
    out.extend(stream.event("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"Hel"}}"#));
    out.extend(stream.event(
        "throttlingException",
        r#"{"message":"Too many requests, please wait before trying again."}"#,
    ));
    out.extend(stream.event("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"lo"}}"#));
    out.extend(stream.finish());
    assert_eq!(out.len(), 3, "{out:?}");
    let error: Value = serde_json::from_str(&out[2].data).unwrap();
    assert_eq!(
        error,
        json!({"error": {"message": "Too many requests, please wait before trying again.",
                         "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}})
    );
}

#[test]
fn a_guardrail_stop_is_a_content_filter_finish() {
    let mut stream = Stream::new("m", false);
    let out = stream.event("messageStop", r#"{"stopReason":"guardrail_intervened"}"#);
    let chunk: Value = serde_json::from_str(&out[0].data).unwrap();
    assert_eq!(chunk["choices"][0]["finish_reason"], "content_filter");
    assert!(
        stream.event("messageStop", r#"{"stopReason":"end_turn"}"#).is_empty(),
        "one finish"
    );
}

#[test]
fn an_event_stream_error_ends_the_stream_too() {
    let mut stream = Stream::new("m", false);
    let mut out = stream.event("messageStart", r#"{"role":"assistant"}"#);
    out.extend(stream.event(
        "error",
        r#"{"message":"An internal error occurred","code":"InternalFailure"}"#,
    ));
    out.extend(stream.finish());
    assert_eq!(out.len(), 2, "no [DONE] after the error: {out:?}");
    let error: Value = serde_json::from_str(&out[1].data).unwrap();
    assert_eq!(error["error"]["message"], "An internal error occurred");
    assert_eq!(error["error"]["type"], "server_error");
}
