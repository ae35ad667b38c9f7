//! The Gemini translation by its public interface: a conversation with tool calls goes to
//! Gemini, the answer comes back, and the client's next request carries the calls back as
//! Gemini made them.

use serde_json::{Map, Value, json};

use super::{error, request, response};

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

#[test]
fn a_tool_call_answer_comes_back_as_gemini_made_it() {
    let first = json!({
        "model": "gemini-3-pro-preview", "stream": true,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    });
    let sent = request(&object(first.clone())).unwrap();
    assert!(sent.get("model").is_none() && sent.get("stream").is_none());
    let answer = json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "EhsKGQ=="}]},
        "finishReason": "STOP", "index": 0}], "responseId": "resp-1"});
    let completion = response(&answer, "google/gemini-3-pro-preview");
    let message = completion["choices"][0]["message"].clone();
    let id = message["tool_calls"][0]["id"].as_str().unwrap().to_string();

    let mut next = first;
    next["messages"].as_array_mut().unwrap().extend([
        message,
        json!({"role": "tool", "tool_call_id": id, "content": "{\"temp\": 18}"}),
    ]);
    let sent = request(&object(next)).unwrap();
    assert_eq!(
        sent["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "EhsKGQ=="}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 18}}}]},
        ])
    );
}

#[test]
fn errors_keep_gemini_s_message() {
    let body = br#"{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.","status":"NOT_FOUND"}}"#;
    let out: Value = serde_json::from_slice(&error(404, body)).unwrap();
    assert_eq!(
        out,
        json!({"error": {"message": "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.",
                         "type": "invalid_request_error", "param": null, "code": "model_not_found"}})
    );
}
