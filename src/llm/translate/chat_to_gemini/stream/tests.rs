//! The stream translation, fed chunk sequences shaped as Gemini's `alt=sse` streams are.

use super::*;

fn usage(prompt: u64, candidates: u64) -> Value {
    json!({"promptTokenCount": prompt, "candidatesTokenCount": candidates, "totalTokenCount": prompt + candidates,
           "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]})
}

/// A text answer in three chunks, with thinking first, as `gemini-2.5-flash` streams it.
fn text_stream() -> Vec<String> {
    [
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Weighing it.", "thought": true}]}, "index": 0}],
               "usageMetadata": usage(12, 0), "modelVersion": "gemini-2.5-flash", "responseId": "resp-A"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "The answer"}]}, "index": 0}],
               "usageMetadata": usage(12, 2), "modelVersion": "gemini-2.5-flash", "responseId": "resp-A"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": " is 42."}]}, "finishReason": "STOP", "index": 0}],
               "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 5, "thoughtsTokenCount": 7,
                                 "cachedContentTokenCount": 4, "totalTokenCount": 24},
               "modelVersion": "gemini-2.5-flash", "responseId": "resp-A"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect()
}

/// Text, then two parallel function calls in one chunk, then a third call in the next.
fn tool_stream() -> Vec<String> {
    [
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Checking both."}]}, "index": 0}],
               "responseId": "resp-T"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [
                   {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "Q2lR"},
                   {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]}, "index": 0}],
               "responseId": "resp-T"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [
                   {"functionCall": {"id": "fc_3", "name": "get_time", "args": {}}}]}, "finishReason": "STOP", "index": 0}],
               "usageMetadata": usage(40, 30), "responseId": "resp-T"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect()
}

fn run(stream: &mut Stream, events: &[String]) -> Vec<Value> {
    let mut out: Vec<Out> = events.iter().flat_map(|data| stream.event("", data)).collect();
    out.extend(stream.finish());
    out.iter()
        .map(|o| {
            assert_eq!(o.event, None);
            serde_json::from_str(&o.data).unwrap_or(json!(o.data))
        })
        .collect()
}

fn deltas(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| json!([c["delta"], c["finish_reason"]]))
        .collect()
}

#[test]
fn a_text_stream_becomes_chunks_in_order() {
    let chunks = run(&mut Stream::new("google/gemini-2.5-flash", false), &text_stream());
    assert_eq!(
        deltas(&chunks),
        vec![
            json!([{"role": "assistant", "content": ""}, null]),
            json!([{"content": "The answer"}, null]),
            json!([{"content": " is 42."}, null]),
            json!([{}, "stop"]),
        ]
    );
    assert_eq!(chunks.last(), Some(&json!("[DONE]")));
    for chunk in &chunks[..chunks.len() - 1] {
        assert_eq!(chunk["id"], "resp-A");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "google/gemini-2.5-flash");
        assert_eq!(chunk["created"], chunks[0]["created"]);
        assert_eq!(chunk["choices"][0]["index"], 0);
        assert!(chunk.get("usage").is_none());
    }
}

#[test]
fn usage_is_the_last_chunk_s_and_comes_last_when_asked_for() {
    let chunks = run(&mut Stream::new("m", true), &text_stream());
    let [.., finish, usage, done] = &chunks[..] else {
        panic!("too short")
    };
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["usage"], Value::Null);
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["id"], "resp-A");
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 12, "total_tokens": 24,
               "prompt_tokens_details": {"cached_tokens": 4},
               "completion_tokens_details": {"reasoning_tokens": 7}})
    );
    assert_eq!(done, &json!("[DONE]"));
}

#[test]
fn function_calls_go_out_whole_and_counted() {
    let chunks = run(&mut Stream::new("m", false), &tool_stream());
    let deltas = deltas(&chunks);
    assert_eq!(deltas.len(), 5);
    assert_eq!(deltas[0], json!([{"role": "assistant", "content": ""}, null]));
    assert_eq!(deltas[1], json!([{"content": "Checking both."}, null]));
    let parallel = &deltas[2][0]["tool_calls"];
    let signed = parallel[0]["id"].as_str().unwrap();
    assert!(
        signed.starts_with("call_") && signed.ends_with("__thought__Q2lR"),
        "{signed}"
    );
    let plain = parallel[1]["id"].as_str().unwrap();
    assert!(plain.starts_with("call_") && !plain.contains("__thought__") && plain != signed);
    assert_eq!(
        parallel,
        &json!([
            {"index": 0, "id": signed, "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"index": 1, "id": plain, "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
        ])
    );
    assert_eq!(
        deltas[3],
        json!([{"tool_calls": [{"index": 2, "id": "fc_3", "type": "function",
                                "function": {"name": "get_time", "arguments": "{}"}}]}, null])
    );
    assert_eq!(deltas[4], json!([{}, "tool_calls"]));
    assert_eq!(chunks.last(), Some(&json!("[DONE]")));
}

#[test]
fn finish_reasons_map_and_come_once() {
    for (reason, finish) in [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("OTHER", "stop"),
    ] {
        let events = [
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Part"}]}, "finishReason": reason, "index": 0}]})
                .to_string(),
            // Anything after a choice's finish is not sent.
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "late"}]}, "finishReason": "STOP", "index": 0}]})
                .to_string(),
        ];
        let chunks = run(&mut Stream::new("m", false), &events);
        let deltas = deltas(&chunks);
        assert_eq!(
            deltas[1..],
            [json!([{"content": "Part"}, null]), json!([{}, finish])],
            "{reason}"
        );
        assert!(chunks[0]["id"].as_str().unwrap().starts_with("chatcmpl-"));
    }
}

#[test]
fn candidates_are_choices_of_their_own() {
    let events = [
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "A"}]}, "index": 0},
                              {"content": {"role": "model", "parts": [{"text": "B"}]}, "index": 1}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "!"}]}, "finishReason": "STOP", "index": 1}]}),
    ]
    .map(|e| e.to_string());
    let chunks = run(&mut Stream::new("m", false), &events);
    let by_choice: Vec<_> = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| {
            let choice = &c["choices"][0];
            json!([choice["index"], choice["delta"], choice["finish_reason"]])
        })
        .collect();
    assert_eq!(
        by_choice,
        vec![
            json!([0, {"role": "assistant", "content": ""}, null]),
            json!([0, {"content": "A"}, null]),
            json!([1, {"role": "assistant", "content": ""}, null]),
            json!([1, {"content": "B"}, null]),
            json!([1, {"content": "!"}, null]),
            json!([1, {}, "stop"]),
            // Choice 0 never said why it stopped: the end of the stream says it for it.
            json!([0, {}, "stop"]),
        ]
    );
}

#[test]
fn a_blocked_prompt_ends_its_only_choice_filtered() {
    let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage(8, 0), "responseId": "r"});
    let chunks = run(&mut Stream::new("m", true), &[blocked.to_string()]);
    assert_eq!(
        deltas(&chunks),
        vec![
            json!([{"role": "assistant", "content": ""}, null]),
            json!([{}, "content_filter"])
        ]
    );
    assert_eq!(
        chunks[2]["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 0, "total_tokens": 8, "prompt_tokens_details": {"cached_tokens": 0}})
    );
    assert_eq!(chunks[3], json!("[DONE]"));
}

#[test]
fn a_cut_stream_is_still_finished_once() {
    let mut stream = Stream::new("m", false);
    let first = &text_stream()[1];
    assert_eq!(stream.event("", first).len(), 2);
    assert_eq!(stream.event("", "not json").len(), 0);
    let end = stream.finish();
    let end: Vec<Value> = end
        .iter()
        .map(|o| serde_json::from_str(&o.data).unwrap_or(json!(o.data)))
        .collect();
    assert_eq!(end.len(), 2);
    assert_eq!(end[0]["choices"][0]["finish_reason"], "stop");
    assert_eq!(end[0]["id"], "resp-A");
    assert_eq!(end[1], json!("[DONE]"));
    assert!(stream.finish().is_empty());
    assert!(stream.event("", first).is_empty());
}

#[test]
fn a_stream_that_said_nothing_still_answers() {
    let chunks = run(&mut Stream::new("m", false), &[]);
    assert_eq!(
        deltas(&chunks),
        vec![json!([{"role": "assistant", "content": ""}, null]), json!([{}, "stop"])]
    );
    assert!(chunks[0]["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(chunks[0]["id"], chunks[1]["id"]);
}

#[test]
fn an_error_ends_the_stream_without_done() {
    let mut stream = Stream::new("m", true);
    assert_eq!(stream.event("", &text_stream()[1]).len(), 2);
    let error = json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                                 "status": "UNAVAILABLE"}});
    assert_eq!(
        stream.event("", &error.to_string()),
        vec![Out {
            event: None,
            data: r#"{"error":{"message":"The model is overloaded. Please try again later.","type":"server_error","param":null,"code":null}}"#
                .to_string()
        }]
    );
    assert!(stream.event("", &text_stream()[2]).is_empty());
    assert!(stream.finish().is_empty());
}
