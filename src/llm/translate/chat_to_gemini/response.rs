//! A Gemini `GenerateContentResponse` as an OpenAI `chat.completion`: each candidate a choice.
//! Text parts join into `content` (null when there are none), `functionCall` parts become
//! `tool_calls` with their `args` as JSON text. Parts marked `thought` (the model's thinking
//! summaries) have no place in Chat Completions and are dropped, as are parts for tools Gemini
//! ran itself (`executableCode`, `codeExecutionResult`). A prompt Gemini blocked comes back
//! without candidates: it reads as one empty choice stopped by the content filter.

use serde_json::{Value, json};

use super::super::finish::gemini_finish_reason;
use super::super::now;
use super::super::usage::Tokens;
use super::call_id;

pub fn response(body: &Value, model: &str) -> Value {
    let candidates = body["candidates"].as_array().filter(|c| !c.is_empty());
    let choices: Vec<Value> = match candidates {
        Some(candidates) => candidates.iter().enumerate().map(|(i, c)| choice(i, c)).collect(),
        None => vec![blocked(body)],
    };
    json!({
        "id": answer_id(body),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": choices,
        "usage": Tokens::from_gemini(&body["usageMetadata"]).to_chat(),
    })
}

/// Gemini's `responseId`, else a new one in OpenAI's form.
pub(super) fn answer_id(body: &Value) -> String {
    match body["responseId"].as_str() {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
    }
}

/// A candidate's place among the choices: its `index`, else where it stands.
pub(super) fn index_of(position: usize, candidate: &Value) -> u64 {
    candidate["index"].as_u64().unwrap_or(position as u64)
}

fn choice(position: usize, candidate: &Value) -> Value {
    let said = Said::of(candidate);
    let finish = gemini_finish_reason(candidate["finishReason"].as_str(), !said.calls.is_empty());
    let mut message = json!({"role": "assistant", "content": said.text, "refusal": null, "annotations": []});
    if !said.calls.is_empty() {
        message["tool_calls"] = Value::Array(said.calls);
    }
    json!({"index": index_of(position, candidate), "message": message, "logprobs": null, "finish_reason": finish})
}

/// The answer to a prompt Gemini blocked (`promptFeedback.blockReason`), or that came back with
/// no candidate for another reason.
fn blocked(body: &Value) -> Value {
    let filtered = body["promptFeedback"]["blockReason"].is_string();
    json!({
        "index": 0,
        "message": {"role": "assistant", "content": "", "refusal": null, "annotations": []},
        "logprobs": null,
        "finish_reason": if filtered { "content_filter" } else { "stop" },
    })
}

/// What a candidate (or, in a stream, a piece of one) said, in OpenAI's words.
pub(super) struct Said {
    /// Its text parts joined; None when it has none.
    pub text: Option<String>,
    /// Its function calls as OpenAI tool calls (without a stream's `index`).
    pub calls: Vec<Value>,
}

impl Said {
    pub fn of(candidate: &Value) -> Self {
        let mut said = Said {
            text: None,
            calls: Vec::new(),
        };
        for part in candidate["content"]["parts"].as_array().into_iter().flatten() {
            if part["thought"] == true {
                continue;
            }
            if let Some(text) = part["text"].as_str() {
                said.text.get_or_insert_default().push_str(text);
            } else if let Some(call) = part.get("functionCall") {
                let id = call_id::make(call["id"].as_str(), part["thoughtSignature"].as_str());
                let arguments = match &call["args"] {
                    Value::Null => "{}".to_string(),
                    args => args.to_string(),
                };
                said.calls.push(json!({"id": id, "type": "function",
                                       "function": {"name": call["name"], "arguments": arguments}}));
            }
        }
        said
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer with its generated parts (`created`, and ids when asked) set to fixed values.
    fn steady(mut out: Value) -> Value {
        assert!(out["created"].as_u64().unwrap() > 1_700_000_000);
        out["created"] = json!(0);
        out
    }

    #[test]
    fn a_text_answer_becomes_a_chat_completion() {
        let body = json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "Greet back.", "thought": true}, {"text": "Hello"}, {"text": ", world"}]},
                "finishReason": "STOP", "index": 0, "avgLogprobs": -0.2}],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 6, "thoughtsTokenCount": 4,
                              "cachedContentTokenCount": 8, "totalTokenCount": 22},
            "modelVersion": "gemini-2.5-flash", "responseId": "mR3iaMCnA4S1qtsPpbXo2QM",
        });
        assert_eq!(
            steady(response(&body, "google/gemini-2.5-flash")),
            json!({
                "id": "mR3iaMCnA4S1qtsPpbXo2QM", "object": "chat.completion", "created": 0,
                "model": "google/gemini-2.5-flash",
                "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "Hello, world", "refusal": null, "annotations": []}}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22,
                          "prompt_tokens_details": {"cached_tokens": 8},
                          "completion_tokens_details": {"reasoning_tokens": 4}},
            })
        );
    }

    #[test]
    fn function_calls_become_tool_calls_with_json_arguments() {
        let body = json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "days": [1, 2]}}, "thoughtSignature": "CiQBsig"},
                {"functionCall": {"id": "fc_7", "name": "get_time"}}]},
                "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 20, "totalTokenCount": 60},
        });
        let out = response(&body, "m");
        assert!(out["id"].as_str().unwrap().starts_with("chatcmpl-"));
        let choice = &out["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        let calls = choice["message"]["tool_calls"].as_array().unwrap();
        let first = calls[0]["id"].as_str().unwrap();
        assert!(
            first.starts_with("call_") && first.ends_with("__thought__CiQBsig"),
            "{first}"
        );
        assert_eq!(
            calls[0]["function"],
            json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"days\":[1,2]}"})
        );
        assert_eq!(
            calls[1],
            json!({"id": "fc_7", "type": "function", "function": {"name": "get_time", "arguments": "{}"}})
        );
    }

    #[test]
    fn each_candidate_is_a_choice_with_its_finish_reason() {
        let body = json!({"candidates": [
            {"content": {"role": "model", "parts": [{"text": "A"}]}, "finishReason": "MAX_TOKENS", "index": 0},
            {"content": {"role": "model", "parts": [{"text": "B"}]}, "finishReason": "RECITATION", "index": 1},
            {"finishReason": "SAFETY", "index": 2,
             "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": true}]},
        ], "responseId": "r1"});
        let out = response(&body, "m");
        let summary: Vec<_> = out["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| json!([c["index"], c["message"]["content"], c["finish_reason"]]))
            .collect();
        assert_eq!(
            summary,
            vec![
                json!([0, "A", "length"]),
                json!([1, "B", "content_filter"]),
                json!([2, null, "content_filter"])
            ]
        );
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "prompt_tokens_details": {"cached_tokens": 0}})
        );
    }

    #[test]
    fn a_blocked_prompt_is_an_empty_filtered_choice() {
        let body = json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                          "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
                          "modelVersion": "gemini-2.5-flash", "responseId": "r2"});
        assert_eq!(
            steady(response(&body, "m")),
            json!({"id": "r2", "object": "chat.completion", "created": 0, "model": "m",
                   "choices": [{"index": 0, "logprobs": null, "finish_reason": "content_filter",
                                "message": {"role": "assistant", "content": "", "refusal": null, "annotations": []}}],
                   "usage": {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9,
                             "prompt_tokens_details": {"cached_tokens": 0}}})
        );
    }
}
