//! System prompts added to requests (`llm.prompts`): text put before or after the request's own
//! system prompt, in the API's own place for it (chat: the first system message; Anthropic:
//! `system`; Responses: `instructions`).

use serde_json::{Map, Value, json};

use super::api::Api;
use crate::config::SystemPrompt;

/// Applies every prompt that names one of `models` (or names none) to `body`.
pub fn apply(prompts: &[SystemPrompt], models: &[String], api: Api, body: &mut Map<String, Value>) {
    for prompt in prompts {
        if !prompt.models.is_empty() && !prompt.models.iter().any(|m| models.contains(m)) {
            continue;
        }
        let (before, after) = (prompt.prepend.as_deref(), prompt.append.as_deref());
        match api {
            Api::Chat => chat(body, before, after),
            Api::Messages | Api::CountTokens => messages(body, before, after),
            Api::Responses => text_field(body, "instructions", before, after),
            Api::Embeddings => {}
        }
    }
}

fn joined(before: Option<&str>, text: &str, after: Option<&str>) -> String {
    [before, Some(text).filter(|t| !t.is_empty()), after]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The first `system` (or `developer`) message, extended; one is added when there is none.
fn chat(body: &mut Map<String, Value>, before: Option<&str>, after: Option<&str>) {
    let Some(Value::Array(messages)) = body.get_mut("messages") else {
        return;
    };
    let first = messages
        .iter_mut()
        .find(|m| matches!(m.get("role").and_then(Value::as_str), Some("system" | "developer")));
    match first.and_then(|m| m.get_mut("content")) {
        Some(Value::String(text)) => *text = joined(before, text, after),
        Some(Value::Array(parts)) => {
            if let Some(before) = before {
                parts.insert(0, json!({"type": "text", "text": before}));
            }
            if let Some(after) = after {
                parts.push(json!({"type": "text", "text": after}));
            }
        }
        _ => messages.insert(0, json!({"role": "system", "content": joined(before, "", after)})),
    }
}

/// Anthropic's `system`: a string, or text blocks.
fn messages(body: &mut Map<String, Value>, before: Option<&str>, after: Option<&str>) {
    match body.get_mut("system") {
        Some(Value::Array(blocks)) => {
            if let Some(before) = before {
                blocks.insert(0, json!({"type": "text", "text": before}));
            }
            if let Some(after) = after {
                blocks.push(json!({"type": "text", "text": after}));
            }
        }
        _ => text_field(body, "system", before, after),
    }
}

fn text_field(body: &mut Map<String, Value>, field: &str, before: Option<&str>, after: Option<&str>) {
    let current = body.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
    body.insert(field.into(), Value::String(joined(before, &current, after)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(before: Option<&str>, after: Option<&str>) -> Vec<SystemPrompt> {
        vec![SystemPrompt {
            models: Vec::new(),
            prepend: before.map(str::to_string),
            append: after.map(str::to_string),
        }]
    }

    #[test]
    fn each_api_gets_it_in_its_own_place() {
        let models = ["m".to_string()];
        let mut chat_body = json!({"messages": [{"role": "user", "content": "hi"}]})
            .as_object()
            .cloned()
            .unwrap();
        apply(
            &prompt(Some("Answer in English."), None),
            &models,
            Api::Chat,
            &mut chat_body,
        );
        assert_eq!(
            chat_body["messages"][0],
            json!({"role": "system", "content": "Answer in English."})
        );
        apply(&prompt(None, Some("Be brief.")), &models, Api::Chat, &mut chat_body);
        assert_eq!(chat_body["messages"][0]["content"], "Answer in English.\n\nBe brief.");
        let mut anthropic = json!({"system": "You plan trips."}).as_object().cloned().unwrap();
        apply(
            &prompt(Some("Answer in English."), None),
            &models,
            Api::Messages,
            &mut anthropic,
        );
        assert_eq!(anthropic["system"], "Answer in English.\n\nYou plan trips.");
        let mut other = json!({"messages": []}).as_object().cloned().unwrap();
        let scoped = vec![SystemPrompt {
            models: vec!["fast".into()],
            prepend: Some("x".into()),
            append: None,
        }];
        apply(&scoped, &models, Api::Chat, &mut other);
        assert_eq!(other["messages"], json!([]), "a prompt for another model");
    }
}
