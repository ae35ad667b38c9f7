//! Requests field by field; the bodies are the shapes the Converse API reference documents.

use super::*;

fn translate(body: Value) -> Result<Value, String> {
    request(body.as_object().unwrap()).map(Value::Object)
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Current weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
           "strict": true}})
}

#[test]
fn a_full_request_maps_field_by_field() {
    let out = translate(json!({
        "model": "anthropic.claude-3-haiku-20240307-v1:0",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}],
        "max_completion_tokens": 300, "temperature": 0.2, "top_p": 0.9, "stop": "END",
        "tools": [weather_tool()],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": false, "user": "user-42", "stream": true,
        "stream_options": {"include_usage": true}, "seed": 7, "frequency_penalty": 0.5, "store": true,
        "reasoning_effort": "low", "n": 1, "logprobs": false, "future_field": {"x": 1},
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "toolConfig": {
                "tools": [{"toolSpec": {"name": "get_weather", "description": "Current weather", "strict": true,
                    "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}],
                "toolChoice": {"tool": {"name": "get_weather"}},
            },
            "messages": [{"role": "user", "content": [{"text": "Weather?"}]}],
            "system": [{"text": "Be brief."}],
            "inferenceConfig": {"maxTokens": 300, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
        })
    );
}

#[test]
fn a_bare_request_has_no_inference_config() {
    let out =
        translate(json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": null})).unwrap();
    assert_eq!(
        out,
        json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]})
    );
    let legacy = translate(
        json!({"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 9,
                                  "stop": ["a", "b"]}),
    )
    .unwrap();
    assert_eq!(
        legacy["inferenceConfig"],
        json!({"maxTokens": 9, "stopSequences": ["a", "b"]})
    );
}

#[test]
fn tool_choices_map_to_converse_unions() {
    for (choice, expected) in [
        (json!("auto"), Some(json!({"auto": {}}))),
        (json!("required"), Some(json!({"any": {}}))),
        (json!(null), None),
    ] {
        let out = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                   "tools": [weather_tool()], "tool_choice": choice}))
        .unwrap();
        assert_eq!(out["toolConfig"].get("toolChoice"), expected.as_ref(), "{choice}");
    }
}

fn tool_history() -> Value {
    json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [{"id": "tooluse_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "18C"},
    ])
}

#[test]
fn tool_choice_none_offers_no_tools_unless_the_history_needs_them() {
    let fresh = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                 "tools": [weather_tool()], "tool_choice": "none"}))
    .unwrap();
    assert!(fresh.get("toolConfig").is_none());
    let history = translate(json!({"model": "m", "messages": tool_history(),
                                   "tools": [weather_tool()], "tool_choice": "none"}))
    .unwrap();
    assert_eq!(history["toolConfig"]["tools"][0]["toolSpec"]["name"], "get_weather");
    assert!(history["toolConfig"].get("toolChoice").is_none());
}

#[test]
fn a_tool_history_without_tools_declares_the_tools_it_used() {
    let out = translate(json!({"model": "m", "messages": tool_history()})).unwrap();
    assert_eq!(
        out["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]})
    );
}

#[test]
fn a_json_schema_format_becomes_output_config_with_the_schema_as_text() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
    let out = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": schema}}}))
    .unwrap();
    assert_eq!(
        out["outputConfig"],
        json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"name": "answer",
            "schema": "{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\"}},\"required\":[\"answer\"]}"}}}})
    );
    let text = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                "response_format": {"type": "text"}}))
    .unwrap();
    assert!(text.get("outputConfig").is_none());
}

#[test]
fn what_converse_cannot_do_is_refused_naming_the_field() {
    for (field, value, error) in [
        ("n", json!(3), "`n`: Bedrock answers with one choice; 3 were asked for"),
        (
            "logprobs",
            json!(true),
            "`logprobs`: Bedrock does not return log probabilities",
        ),
        (
            "top_logprobs",
            json!(2),
            "`top_logprobs`: Bedrock does not return log probabilities",
        ),
        (
            "audio",
            json!({"voice": "alloy"}),
            "`audio`: Bedrock does not answer with audio",
        ),
        (
            "modalities",
            json!(["audio"]),
            "`modalities`: Bedrock does not answer with audio",
        ),
        (
            "response_format",
            json!({"type": "json_object"}),
            "`response_format`: `json_object` is not translated",
        ),
        (
            "tools",
            json!([{"type": "custom", "custom": {"name": "g"}}]),
            "`tools[0].type`: `custom` tools",
        ),
        (
            "max_completion_tokens",
            json!(-1),
            "`max_completion_tokens` must be a whole number",
        ),
        ("stop", json!({"a": 1}), "`stop` must be a string or a list of strings"),
    ] {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        body[field] = value;
        let err = translate(body).unwrap_err();
        assert!(err.starts_with(error), "{field}: {err}");
    }
}
