//! OpenAI's `messages` as Anthropic's `system` and `messages`. Anthropic keeps the system prompt
//! apart, wants tool results as blocks of a user message, and wants roles to alternate; so
//! system and developer messages are hoisted (joined with a blank line), each tool message
//! becomes a `tool_result` block, and messages of one role that follow each other are merged
//! into one (its tool results first, as Anthropic requires). A message left with no content
//! (an assistant's `""`) is left out rather than sent empty, which Anthropic refuses. Message
//! `name`s have no equivalent and are dropped.

use serde_json::{Value, json};

use super::super::chat_request::{assistant_texts, legacy_function, message_list, push_turn, texts, tool_calls};
use super::super::{kind, media};

/// Anthropic's `system` (None when there was none) and `messages`.
pub fn translate(messages: Option<&Value>) -> Result<(Option<String>, Vec<Value>), String> {
    let list = message_list(messages)?;
    let mut system = Vec::new();
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for (i, message) in list.iter().enumerate() {
        let at = format!("messages[{i}]");
        let (role, blocks) = match message.get("role").and_then(Value::as_str).unwrap_or_default() {
            "system" | "developer" => {
                system.push(texts(message.get("content"), &at)?.join("\n\n"));
                continue;
            }
            "user" => ("user", user_blocks(message.get("content"), &at)?),
            "assistant" => ("assistant", assistant_blocks(message, &at)?),
            "tool" => ("user", vec![tool_result(message, &at)?]),
            "function" => return Err(legacy_function(&at)),
            other => return Err(format!("`{at}.role`: `{other}` is not a role")),
        };
        push_turn(&mut turns, role, blocks);
    }
    let messages = turns
        .into_iter()
        .map(|(role, mut blocks)| {
            // Stable: the results keep their order, and so does the rest.
            blocks.sort_by_key(|b| b["type"] != "tool_result");
            json!({"role": role, "content": blocks})
        })
        .collect();
    Ok(((!system.is_empty()).then(|| system.join("\n\n")), messages))
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

fn user_blocks(content: Option<&Value>, at: &str) -> Result<Vec<Value>, String> {
    match content {
        Some(Value::String(text)) => Ok(vec![text_block(text)]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(j, part)| user_part(part, &format!("{at}.content[{j}]")))
            .collect(),
        other => Err(format!(
            "`{at}.content` must be a string or a list of parts, not {}",
            other.map_or("missing", kind)
        )),
    }
}

fn user_part(part: &Value, at: &str) -> Result<Value, String> {
    match part["type"].as_str().unwrap_or_default() {
        "text" => Ok(text_block(part["text"].as_str().unwrap_or_default())),
        "image_url" => media::image_block(part, at),
        "file" => media::document_block(part, at),
        "input_audio" => Err(format!(
            "`{at}`: audio input is not translated (Anthropic reads no audio)"
        )),
        other => Err(format!("`{at}.type`: `{other}` parts are not translated")),
    }
}

fn assistant_blocks(message: &Value, at: &str) -> Result<Vec<Value>, String> {
    let mut blocks: Vec<Value> = assistant_texts(message, at)?.into_iter().map(text_block).collect();
    for call in tool_calls(message, at)? {
        blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}));
    }
    Ok(blocks)
}

fn tool_result(message: &Value, at: &str) -> Result<Value, String> {
    let id = message["tool_call_id"]
        .as_str()
        .ok_or_else(|| format!("`{at}.tool_call_id` is missing"))?;
    let content = match message.get("content") {
        Some(Value::Array(_)) => Value::Array(
            texts(message.get("content"), at)?
                .iter()
                .map(|t| text_block(t))
                .collect(),
        ),
        other => json!(texts(other, at)?.concat()),
    };
    Ok(json!({"type": "tool_result", "tool_use_id": id, "content": content}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(messages: Value) -> (Option<String>, Value) {
        let (system, out) = translate(Some(&messages)).unwrap();
        (system, Value::Array(out))
    }

    #[test]
    fn system_and_developer_messages_are_joined_into_system() {
        let (system, messages) = run(json!([
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hi", "name": "alice"},
            {"role": "system", "content": "Never use emoji."},
        ]));
        assert_eq!(
            system.as_deref(),
            Some("You are terse.\n\nAnswer in French.\n\nNever use emoji.")
        );
        assert_eq!(
            messages,
            json!([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
        );
    }

    #[test]
    fn tool_calls_and_consecutive_tool_results_become_blocks() {
        let (system, messages) = run(json!([
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "24C"}]},
            {"role": "user", "content": "Thanks"},
        ]));
        assert_eq!(system, None);
        assert_eq!(
            messages,
            json!([
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "24C"}]},
                    {"type": "text", "text": "Thanks"}]},
            ])
        );
    }

    #[test]
    fn same_role_messages_merge_and_empty_ones_vanish() {
        let (_, messages) = run(json!([
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}]},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": [{"type": "text", "text": "three"}, {"type": "refusal", "refusal": "no"}]},
        ]));
        assert_eq!(
            messages,
            json!([
                {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "no"}]},
            ])
        );
    }

    #[test]
    fn empty_arguments_read_as_no_arguments() {
        let (_, messages) = run(json!([{"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "now", "arguments": ""}}]}]));
        assert_eq!(messages[0]["content"][0]["input"], json!({}));
    }

    #[test]
    fn what_cannot_be_said_is_refused_by_field() {
        for (messages, error) in [
            (
                json!([{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                     "function": {"name": "f", "arguments": "{\"a\":"}}]}]),
                "`messages[0].tool_calls[0].function.arguments` is not valid JSON",
            ),
            (
                json!([{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                     "function": {"name": "f", "arguments": "[1]"}}]}]),
                "`messages[1].tool_calls[0].function.arguments` must be a JSON object, not a list",
            ),
            (
                json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}]}]),
                "`messages[0].content[0]`: audio input is not translated",
            ),
            (
                json!([{"role": "function", "name": "f", "content": "1"}]),
                "`messages[0].role`: legacy `function`",
            ),
            (
                json!([{"role": "tool", "content": "1"}]),
                "`messages[0].tool_call_id` is missing",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": "f", "input": "x"}}]}]),
                "`messages[0].tool_calls[0].type`: `custom` tool calls are not translated",
            ),
            (
                json!([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]),
                "`messages[0].content[0]`: only text parts are translated here",
            ),
            (json!({"role": "user"}), "`messages` must be a list, not an object"),
        ] {
            let err = translate(Some(&messages)).unwrap_err();
            assert!(err.starts_with(error), "{err}");
        }
    }
}
