//! The stream translation, fed chunk sequences shaped as OpenAI sends them.

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

fn usage() -> String {
    chunk(
        json!([]),
        json!({"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21,
               "prompt_tokens_details": {"cached_tokens": 4}}),
    )
}

/// The client's events as (name, data), each checked: named by its type, numbered in order.
fn run(request: Value, datas: &[String]) -> Vec<(&'static str, Value)> {
    let mut stream = Stream::new("fast", request.as_object().unwrap());
    let mut out: Vec<Out> = datas.iter().flat_map(|d| stream.event(d)).collect();
    out.extend(stream.finish());
    out.into_iter()
        .enumerate()
        .map(|(i, o)| {
            let data: Value = serde_json::from_str(&o.data).unwrap();
            let name = o.event.unwrap();
            assert_eq!(data["type"], name, "the SSE name is the data's type");
            assert_eq!(data["sequence_number"], i, "events are numbered from 0");
            (name, data)
        })
        .collect()
}

fn names(events: &[(&'static str, Value)]) -> Vec<&'static str> {
    events.iter().map(|(name, _)| *name).collect()
}

/// An event's data without what the sequence and the clock say.
fn fields(event: &(&'static str, Value)) -> Value {
    let mut data = event.1.clone();
    data.as_object_mut().unwrap().remove("sequence_number");
    if data["response"]["completed_at"].is_u64() {
        data["response"]["completed_at"] = json!(1);
    }
    data
}

#[test]
fn a_text_stream_becomes_responses_events() {
    let events = run(
        json!({"model": "fast", "input": "Hi", "instructions": "Be brief.", "stream": true}),
        &[
            delta(
                json!({"role": "assistant", "content": "", "refusal": null}),
                Value::Null,
            ),
            delta(json!({"content": "Hello"}), Value::Null),
            delta(json!({"content": " world"}), Value::Null),
            delta(json!({}), json!("stop")),
            usage(),
            "[DONE]".to_string(),
        ],
    );
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let started = json!({
        "id": "resp_123", "object": "response", "created_at": 1694268190, "status": "in_progress",
        "background": false, "completed_at": null, "error": null, "incomplete_details": null,
        "instructions": "Be brief.", "max_output_tokens": null, "max_tool_calls": null, "metadata": {},
        "model": "fast", "output": [], "parallel_tool_calls": true, "previous_response_id": null,
        "safety_identifier": null, "store": false, "temperature": null, "text": {"format": {"type": "text"}},
        "tool_choice": "auto", "tools": [], "top_p": null, "truncation": "disabled", "usage": null, "user": null,
    });
    assert_eq!(
        fields(&events[0]),
        json!({"type": "response.created", "response": started})
    );
    assert_eq!(
        fields(&events[1]),
        json!({"type": "response.in_progress", "response": started})
    );
    let item = "msg_123_0";
    let expected = [
        json!({"type": "response.output_item.added", "output_index": 0,
               "item": {"type": "message", "id": item, "status": "in_progress", "role": "assistant", "content": []}}),
        json!({"type": "response.content_part.added", "item_id": item, "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}),
        json!({"type": "response.output_text.delta", "item_id": item, "output_index": 0, "content_index": 0,
               "delta": "Hello", "logprobs": []}),
        json!({"type": "response.output_text.delta", "item_id": item, "output_index": 0, "content_index": 0,
               "delta": " world", "logprobs": []}),
        json!({"type": "response.output_text.done", "item_id": item, "output_index": 0, "content_index": 0,
               "text": "Hello world", "logprobs": []}),
        json!({"type": "response.content_part.done", "item_id": item, "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": "Hello world", "annotations": [], "logprobs": []}}),
    ];
    for (event, expected) in events[2..8].iter().zip(expected) {
        assert_eq!(fields(event), expected);
    }
    let done = json!({"type": "message", "id": item, "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": "Hello world", "annotations": [], "logprobs": []}]});
    assert_eq!(
        fields(&events[8]),
        json!({"type": "response.output_item.done", "output_index": 0, "item": done})
    );
    let mut completed = started;
    completed["status"] = json!("completed");
    completed["completed_at"] = json!(1);
    completed["output"] = json!([done]);
    completed["usage"] = json!({"input_tokens": 9, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
                                "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 0},
                                "total_tokens": 21});
    assert_eq!(
        fields(&events[9]),
        json!({"type": "response.completed", "response": completed})
    );
}

#[test]
fn tool_calls_after_text_become_function_call_items() {
    let call = |index: u64, id: Option<&str>, name: Option<&str>, arguments: &str| {
        let mut call = json!({"index": index, "function": {"arguments": arguments}});
        if let (Some(id), Some(name)) = (id, name) {
            call["id"] = json!(id);
            call["type"] = json!("function");
            call["function"]["name"] = json!(name);
        }
        delta(json!({"tool_calls": [call]}), Value::Null)
    };
    let events = run(
        json!({"model": "fast", "input": "Weather?", "tools": [{"type": "function", "name": "get_weather"}]}),
        &[
            delta(json!({"role": "assistant", "content": "Checking."}), Value::Null),
            call(0, Some("call_a"), Some("get_weather"), ""),
            call(0, None, None, "{\"city\":"),
            call(1, Some("call_b"), Some("get_weather"), "{\"city\":\"Rome\"}"),
            // A server that interleaves parallel calls: the piece goes to its own call.
            call(0, None, None, "\"Paris\"}"),
            delta(json!({}), json!("tool_calls")),
            usage(),
            "[DONE]".to_string(),
        ],
    );
    assert_eq!(
        names(&events)[2..],
        [
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(
        fields(&events[8]),
        json!({"type": "response.output_item.added", "output_index": 1,
               "item": {"type": "function_call", "id": "fc_123_1", "call_id": "call_a", "name": "get_weather",
                        "arguments": "", "status": "in_progress"}})
    );
    assert_eq!(
        fields(&events[9]),
        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_123_1", "output_index": 1,
               "delta": "{\"city\":"})
    );
    assert_eq!(
        fields(&events[12]),
        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_123_1", "output_index": 1,
               "delta": "\"Paris\"}"})
    );
    assert_eq!(
        fields(&events[13]),
        json!({"type": "response.function_call_arguments.done", "item_id": "fc_123_1", "output_index": 1,
               "arguments": "{\"city\":\"Paris\"}"})
    );
    let calls = json!([
        {"type": "function_call", "id": "fc_123_1", "call_id": "call_a", "name": "get_weather",
         "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
        {"type": "function_call", "id": "fc_123_2", "call_id": "call_b", "name": "get_weather",
         "arguments": "{\"city\":\"Rome\"}", "status": "completed"},
    ]);
    assert_eq!(events[14].1["item"], calls[0]);
    assert_eq!(events[16].1["item"], calls[1]);
    let response = &events[17].1["response"];
    assert_eq!(response["status"], "completed");
    assert_eq!(
        response["output"].as_array().unwrap()[1..],
        calls.as_array().unwrap()[..]
    );
    assert_eq!(response["usage"]["total_tokens"], 21);
}

#[test]
fn a_cut_answer_ends_incomplete() {
    let events = run(
        json!({"model": "fast", "input": "Tell a story", "max_output_tokens": 16}),
        &[
            delta(json!({"content": "Once upon"}), Value::Null),
            delta(json!({}), json!("length")),
            usage(),
        ],
    );
    let (name, last) = events.last().unwrap();
    assert_eq!(*name, "response.incomplete");
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(
        last["response"]["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(last["response"]["output"][0]["status"], "incomplete");
    assert_eq!(last["response"]["max_output_tokens"], 16);
    // The usage chunk ended it: nothing follows at the stream's end.
    assert_eq!(
        events
            .iter()
            .filter(|(n, _)| n.starts_with("response.incomplete"))
            .count(),
        1
    );
}

#[test]
fn a_stream_without_finish_or_usage_still_completes() {
    let events = run(json!({"input": "x"}), &[delta(json!({"content": "Hi"}), Value::Null)]);
    let (name, last) = events.last().unwrap();
    assert_eq!(*name, "response.completed");
    assert_eq!(last["response"]["output"][0]["content"][0]["text"], "Hi");
    assert_eq!(last["response"]["usage"]["total_tokens"], 0);
}

#[test]
fn an_error_chunk_ends_the_stream_failed() {
    let events = run(
        json!({"input": "x"}),
        &[
            delta(json!({"content": "Hel"}), Value::Null),
            json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error",
                             "param": null, "code": "rate_limit_exceeded"}})
            .to_string(),
            delta(json!({"content": "lo"}), Value::Null),
            "[DONE]".to_string(),
        ],
    );
    assert_eq!(
        names(&events)[5..],
        ["error", "response.failed"],
        "nothing after the failure"
    );
    assert_eq!(
        fields(&events[5]),
        json!({"type": "error", "code": "rate_limit_exceeded", "message": "Rate limit reached", "param": null})
    );
    let failed = &events[6].1["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error"],
        json!({"code": "rate_limit_exceeded", "message": "Rate limit reached"})
    );
    assert_eq!(failed["output"][0]["status"], "incomplete");
    assert_eq!(failed["output"][0]["content"][0]["text"], "Hel");

    // An error before anything else still opens the response, as the SDK wants it first.
    let events = run(
        json!({"input": "x"}),
        &[json!({"error": {"message": "boom", "type": "server_error"}}).to_string()],
    );
    assert_eq!(
        names(&events),
        ["response.created", "response.in_progress", "error", "response.failed"]
    );
    assert_eq!(events[3].1["response"]["error"]["code"], "server_error");
    assert_eq!(events[2].1["code"], "server_error");
}

#[test]
fn preamble_chunks_before_the_first_choice_are_skipped() {
    let preamble = json!({"id": "", "object": "", "created": 0, "model": "", "choices": [],
                          "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]})
    .to_string();
    let events = run(
        json!({"input": "x"}),
        &[preamble, delta(json!({"content": "Hi"}), json!("stop"))],
    );
    assert_eq!(events[0].1["response"]["id"], "resp_123");
}
