//! A Responses request's `instructions` and `input` as chat `messages`. The Responses API says a
//! conversation as a flat list of items where chat has messages: a function call is an item of
//! its own where chat puts it in the assistant message's `tool_calls`, so the calls that follow
//! an assistant's text (or each other) are gathered into that one assistant message, as OpenAI
//! wants them before their `tool` messages.

use serde_json::{Value, json};

use super::super::kind;

pub fn translate(instructions: Option<&Value>, input: Option<&Value>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    match instructions {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if text.is_empty() => {}
        Some(Value::String(text)) => out.push(json!({"role": "system", "content": text})),
        Some(other) => return Err(format!("`instructions` must be a string, not {}", kind(other))),
    }
    let items = match input {
        Some(Value::String(text)) => {
            out.push(json!({"role": "user", "content": text}));
            return Ok(out);
        }
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(format!(
                "`input` must be a string or a list of items, not {}",
                kind(other)
            ));
        }
        None => return Err("`input` is missing".into()),
    };
    // Where the assistant message that the next function calls join is, while it may be joined.
    let mut turn: Option<usize> = None;
    for (i, item) in items.iter().enumerate() {
        let at = format!("input[{i}]");
        match item["type"].as_str().unwrap_or("message") {
            "message" => {
                let message = message(item, &at)?;
                turn = (message["role"] == "assistant").then_some(out.len());
                out.push(message);
            }
            "function_call" => {
                let call = function_call(item, &at)?;
                match turn {
                    Some(index) => push_call(&mut out[index], call),
                    None => {
                        turn = Some(out.len());
                        out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
                    }
                }
            }
            "function_call_output" => {
                turn = None;
                out.push(tool_message(item, &at)?);
            }
            // Reasoning items are the model's own thinking, which chat cannot take back.
            "reasoning" => {}
            "item_reference" => {
                return Err(format!(
                    "`{at}`: item references point into conversations OpenAI stores; stored state is not translated (agentmux keeps none)"
                ));
            }
            other => return Err(format!("`{at}.type`: `{other}` items are not translated")),
        }
    }
    Ok(out)
}

fn push_call(message: &mut Value, call: Value) {
    match message["tool_calls"].as_array_mut() {
        Some(calls) => calls.push(call),
        None => message["tool_calls"] = json!([call]),
    }
}

/// One message item (`type: "message"` or untyped, as the SDK's easy input messages are).
fn message(item: &Value, at: &str) -> Result<Value, String> {
    let role = item["role"].as_str().ok_or_else(|| format!("`{at}.role` is missing"))?;
    let content = &item["content"];
    match role {
        "user" => Ok(json!({"role": "user", "content": user_content(content, at)?})),
        "assistant" => {
            let text = texts(
                content,
                &format!("{at}.content"),
                &["output_text", "input_text", "refusal"],
            )?
            .concat();
            Ok(json!({"role": "assistant", "content": text}))
        }
        "system" | "developer" => {
            let text = texts(content, &format!("{at}.content"), &["input_text"])?.join("\n\n");
            Ok(json!({"role": role, "content": text}))
        }
        other => Err(format!("`{at}.role`: `{other}` is not a role")),
    }
}

/// A content that may only hold text (system, developer and assistant messages, function
/// outputs): its texts. `at` names the content; `allowed` names the part types read (a refusal
/// is what the assistant said).
fn texts(content: &Value, at: &str, allowed: &[&str]) -> Result<Vec<String>, String> {
    match content {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(parts) => parts
            .iter()
            .enumerate()
            .map(|(j, part)| {
                let kind = part["type"].as_str().unwrap_or("untyped");
                let text = part["text"].as_str().or(part["refusal"].as_str());
                match text {
                    Some(text) if allowed.contains(&kind) => Ok(text.to_string()),
                    _ => Err(format!("`{at}[{j}]`: only text is translated here, not `{kind}` parts")),
                }
            })
            .collect(),
        other => Err(format!(
            "`{at}` must be a string or a list of parts, not {}",
            kind(other)
        )),
    }
}

/// A user message's content: a string, or chat content parts.
fn user_content(content: &Value, at: &str) -> Result<Value, String> {
    let parts = match content {
        Value::String(text) => return Ok(json!(text)),
        Value::Array(parts) => parts,
        other => {
            return Err(format!(
                "`{at}.content` must be a string or a list of parts, not {}",
                kind(other)
            ));
        }
    };
    let parts = parts
        .iter()
        .enumerate()
        .map(|(j, part)| content_part(part, &format!("{at}.content[{j}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match parts.as_slice() {
        // One text says best as a plain string, which every OpenAI-compatible server reads.
        [only] if only["type"] == "text" => only["text"].clone(),
        _ => Value::Array(parts),
    })
}

fn content_part(part: &Value, at: &str) -> Result<Value, String> {
    match part["type"].as_str().unwrap_or("untyped") {
        "input_text" | "output_text" => Ok(json!({"type": "text", "text": part["text"]})),
        "input_image" => {
            let Some(url) = part["image_url"].as_str() else {
                return Err(if part["file_id"].is_string() {
                    format!("`{at}.file_id`: uploaded files are not translated; send the image as a URL or data URL")
                } else {
                    format!("`{at}.image_url` is missing")
                });
            };
            let mut image = json!({"url": url});
            if let Some(detail) = part["detail"].as_str() {
                image["detail"] = json!(detail);
            }
            Ok(json!({"type": "image_url", "image_url": image}))
        }
        "input_file" => {
            let mut file = serde_json::Map::new();
            for key in ["file_data", "file_id", "filename"] {
                if let Some(value) = part[key].as_str() {
                    file.insert(key.into(), json!(value));
                }
            }
            if part["file_url"].is_string() {
                return Err(format!(
                    "`{at}.file_url`: file URLs are not translated; send `file_data`"
                ));
            }
            if !file.contains_key("file_data") && !file.contains_key("file_id") {
                return Err(format!("`{at}.file_data` is missing"));
            }
            Ok(json!({"type": "file", "file": file}))
        }
        other => Err(format!("`{at}.type`: `{other}` parts are not translated")),
    }
}

fn function_call(item: &Value, at: &str) -> Result<Value, String> {
    let id = item["call_id"]
        .as_str()
        .ok_or_else(|| format!("`{at}.call_id` is missing"))?;
    let name = item["name"].as_str().ok_or_else(|| format!("`{at}.name` is missing"))?;
    let arguments = item["arguments"].as_str().unwrap_or_default();
    Ok(json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}))
}

/// A function's result as a `tool` message: text, or text parts (chat tool messages carry text
/// only).
fn tool_message(item: &Value, at: &str) -> Result<Value, String> {
    let id = item["call_id"]
        .as_str()
        .ok_or_else(|| format!("`{at}.call_id` is missing"))?;
    let content = match &item["output"] {
        Value::String(text) => json!(text),
        Value::Array(_) => {
            let texts = texts(&item["output"], &format!("{at}.output"), &["input_text", "output_text"])
                .map_err(|e| format!("{e} (chat tool messages carry text only)"))?;
            Value::Array(texts.into_iter().map(|t| json!({"type": "text", "text": t})).collect())
        }
        Value::Null => return Err(format!("`{at}.output` is missing")),
        other => {
            return Err(format!(
                "`{at}.output` must be a string or a list of parts, not {}",
                kind(other)
            ));
        }
    };
    Ok(json!({"role": "tool", "tool_call_id": id, "content": content}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(instructions: Value, input: Value) -> Result<Value, String> {
        translate(Some(&instructions), Some(&input)).map(Value::Array)
    }

    #[test]
    fn a_string_input_is_one_user_message_after_the_instructions() {
        assert_eq!(
            run(json!("Be brief."), json!("Hi")).unwrap(),
            json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
        );
    }

    #[test]
    fn every_item_kind_becomes_its_chat_message() {
        let out = run(
            json!(null),
            json!([
                {"role": "developer", "content": "Use tools."},
                {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be exact."}]},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "Weather where this is?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "low"},
                    {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}]},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                 "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "get_time", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
                {"type": "function_call_output", "call_id": "call_2",
                 "output": [{"type": "input_text", "text": "noon"}]},
                {"type": "function_call", "call_id": "call_3", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_3", "output": "rain"},
                {"role": "user", "content": [{"type": "input_text", "text": "Thanks"}]},
            ]),
        )
        .unwrap();
        assert_eq!(
            out,
            json!([
                {"role": "developer", "content": "Use tools."},
                {"role": "system", "content": "Be exact."},
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather where this is?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}}]},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_3", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_3", "content": "rain"},
                {"role": "user", "content": "Thanks"},
            ])
        );
    }

    #[test]
    fn what_chat_cannot_say_is_refused_naming_the_item() {
        for (input, error) in [
            (
                json!([{"type": "web_search_call", "id": "ws_1", "status": "completed"}]),
                "`input[0].type`: `web_search_call` items are not translated",
            ),
            (
                json!([{"type": "item_reference", "id": "msg_1"}]),
                "`input[0]`: item references point into conversations OpenAI stores; stored state is not translated (agentmux keeps none)",
            ),
            (
                json!([{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]),
                "`input[0].content[0].file_id`: uploaded files are not translated; send the image as a URL or data URL",
            ),
            (
                json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]),
                "`input[0].content[0].type`: `input_audio` parts are not translated",
            ),
            (
                json!([{"role": "system", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]),
                "`input[0].content[0]`: only text is translated here, not `input_image` parts",
            ),
            (
                json!([{"type": "function_call_output", "call_id": "c", "output": [{"type": "input_image", "image_url": "https://x"}]}]),
                "`input[0].output[0]`: only text is translated here, not `input_image` parts (chat tool messages carry text only)",
            ),
            (
                json!([{"role": "robot", "content": "x"}]),
                "`input[0].role`: `robot` is not a role",
            ),
            (
                json!([{"type": "function_call", "name": "f"}]),
                "`input[0].call_id` is missing",
            ),
            (json!(7), "`input` must be a string or a list of items, not a number"),
        ] {
            assert_eq!(run(json!(null), input).unwrap_err(), error);
        }
        assert_eq!(
            translate(Some(&json!(["x"])), Some(&json!("hi"))).unwrap_err(),
            "`instructions` must be a string, not a list"
        );
        assert_eq!(translate(None, None).unwrap_err(), "`input` is missing");
    }
}
