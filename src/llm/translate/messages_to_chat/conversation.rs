//! Anthropic's `system` and `messages` as OpenAI's `messages`. The system prompt becomes a
//! leading system message (text blocks joined with a blank line); a user message's
//! `tool_result` blocks become `tool` messages, placed before what else the user said, since
//! OpenAI wants them right after the assistant's calls; text, images and PDFs become content
//! parts. An assistant's text blocks join into its `content`, its `tool_use` blocks become
//! `tool_calls`. Dropped: `thinking` and `redacted_thinking` blocks (OpenAI cannot take them
//! back), `cache_control`, `citations`, and a tool result's `is_error` (OpenAI tool messages have
//! no such flag; the result's text is what the model reads).

use serde_json::{Value, json};

use super::super::chat_request::message_list;
use super::super::{kind, media};

pub fn translate(system: Option<&Value>, messages: Option<&Value>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    if let Some(system) = system.filter(|s| !s.is_null()) {
        let text = texts(system, "system")?.join("\n\n");
        if !text.is_empty() {
            out.push(json!({"role": "system", "content": text}));
        }
    }
    let list = message_list(messages)?;
    for (i, message) in list.iter().enumerate() {
        let at = format!("messages[{i}]");
        let content = &message["content"];
        match message["role"].as_str().unwrap_or_default() {
            "user" => user(content, &at, &mut out)?,
            "assistant" => out.extend(assistant(content, &at)?),
            "system" => out.push(json!({"role": "system", "content": texts(content, &at)?.join("\n\n")})),
            other => return Err(format!("`{at}.role`: `{other}` is not a role")),
        }
    }
    Ok(out)
}

/// A content that may only hold text (system prompts, tool results): its texts. `at` names it.
fn texts(content: &Value, at: &str) -> Result<Vec<String>, String> {
    match content {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(blocks) => blocks
            .iter()
            .enumerate()
            .map(|(j, block)| match (block["type"].as_str(), block["text"].as_str()) {
                (Some("text"), Some(text)) => Ok(text.to_string()),
                (other, _) => Err(format!(
                    "`{at}[{j}]`: only text is translated here, not `{}` blocks",
                    other.unwrap_or("untyped")
                )),
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err(format!(
            "`{at}` must be a string or a list of blocks, not {}",
            kind(other)
        )),
    }
}

fn user(content: &Value, at: &str, out: &mut Vec<Value>) -> Result<(), String> {
    let blocks = match content {
        Value::String(text) => {
            out.push(json!({"role": "user", "content": text}));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        other => {
            return Err(format!(
                "`{at}.content` must be a string or a list of blocks, not {}",
                kind(other)
            ));
        }
    };
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        match block["type"].as_str().unwrap_or_default() {
            "text" => parts.push(json!({"type": "text", "text": block["text"]})),
            "image" => parts.push(media::image_part(block, &at)?),
            "document" => parts.push(media::document_part(block, &at)?),
            "tool_result" => out.push(tool_message(block, &at)?),
            other => return Err(format!("`{at}.type`: `{other}` blocks are not translated")),
        }
    }
    match parts.as_slice() {
        [] => {}
        // One text says best as a plain string, which every OpenAI-compatible server reads.
        [only] if only["type"] == "text" => out.push(json!({"role": "user", "content": only["text"]})),
        _ => out.push(json!({"role": "user", "content": parts})),
    }
    Ok(())
}

fn tool_message(block: &Value, at: &str) -> Result<Value, String> {
    let id = block["tool_use_id"]
        .as_str()
        .ok_or_else(|| format!("`{at}.tool_use_id` is missing"))?;
    let texts = texts(&block["content"], &format!("{at}.content"))
        .map_err(|e| format!("{e} (OpenAI tool messages carry text only)"))?;
    let content = match texts.as_slice() {
        [] => json!(""),
        [one] => json!(one),
        many => Value::Array(many.iter().map(|t| json!({"type": "text", "text": t})).collect()),
    };
    Ok(json!({"role": "tool", "tool_call_id": id, "content": content}))
}

/// An assistant turn; None when nothing in it can be said to OpenAI (only thinking).
fn assistant(content: &Value, at: &str) -> Result<Option<Value>, String> {
    let blocks = match content {
        Value::String(text) => return Ok(Some(json!({"role": "assistant", "content": text}))),
        Value::Array(blocks) => blocks,
        other => {
            return Err(format!(
                "`{at}.content` must be a string or a list of blocks, not {}",
                kind(other)
            ));
        }
    };
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        match block["type"].as_str().unwrap_or_default() {
            "text" => text
                .get_or_insert_default()
                .push_str(block["text"].as_str().unwrap_or_default()),
            "tool_use" => calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {"name": block["name"], "arguments": block["input"].to_string()},
            })),
            "thinking" | "redacted_thinking" => {}
            other => return Err(format!("`{at}.content[{j}].type`: `{other}` blocks are not translated")),
        }
    }
    if text.is_none() && calls.is_empty() {
        return Ok(None);
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(Some(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(system: Value, messages: Value) -> Value {
        Value::Array(translate(Some(&system), Some(&messages)).unwrap())
    }

    #[test]
    fn system_blocks_lead_as_one_system_message() {
        let out = run(
            json!([{"type": "text", "text": "You are terse."},
                   {"type": "text", "text": "Answer in French.", "cache_control": {"type": "ephemeral"}}]),
            json!([{"role": "user", "content": "Hi"}]),
        );
        assert_eq!(
            out,
            json!([{"role": "system", "content": "You are terse.\n\nAnswer in French."},
                               {"role": "user", "content": "Hi"}])
        );
    }

    #[test]
    fn tool_use_and_results_become_calls_and_tool_messages() {
        let out = run(
            json!(null),
            json!([
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Two calls.", "signature": "EqQB"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                     "content": [{"type": "text", "text": "timeout"}, {"type": "text", "text": "retry later"}]},
                    {"type": "text", "text": "Summarize."}]},
            ]),
        );
        assert_eq!(
            out,
            json!([
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "toolu_2",
                 "content": [{"type": "text", "text": "timeout"}, {"type": "text", "text": "retry later"}]},
                {"role": "user", "content": "Summarize."},
            ])
        );
    }

    #[test]
    fn images_and_several_texts_become_parts() {
        let out = run(
            json!(null),
            json!([{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}}]}]),
        );
        assert_eq!(
            out,
            json!([{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}]}])
        );
    }

    #[test]
    fn a_thinking_only_turn_is_left_out() {
        let out = run(
            json!("sys"),
            json!([
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "EmwKAhgB"}]}]),
        );
        assert_eq!(
            out,
            json!([{"role": "system", "content": "sys"}, {"role": "user", "content": "Hi"}])
        );
    }

    #[test]
    fn what_openai_cannot_take_is_refused_by_field() {
        for (messages, error) in [
            (
                json!([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}]}]}]),
                "`messages[0].content[0].content[0]`: only text is translated here, not `image` blocks (OpenAI tool messages carry text only)",
            ),
            (
                json!([{"role": "assistant", "content": [{"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}]}]),
                "`messages[0].content[0].type`: `server_tool_use` blocks are not translated",
            ),
            (
                json!([{"role": "user", "content": [{"type": "search_result", "source": "s", "title": "t", "content": []}]}]),
                "`messages[0].content[0].type`: `search_result` blocks are not translated",
            ),
            (
                json!([{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]),
                "`messages[0].content[0].tool_use_id` is missing",
            ),
            (
                json!([{"role": "robot", "content": "x"}]),
                "`messages[0].role`: `robot` is not a role",
            ),
        ] {
            let err = translate(None, Some(&messages)).unwrap_err();
            assert_eq!(err, error);
        }
        let err = translate(Some(&json!([{"type": "image"}])), Some(&json!([]))).unwrap_err();
        assert_eq!(err, "`system[0]`: only text is translated here, not `image` blocks");
    }
}
