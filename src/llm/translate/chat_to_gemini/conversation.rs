//! OpenAI's `messages` as Gemini's `systemInstruction` and `contents`. Gemini keeps the system
//! prompt apart, calls the assistant `model`, wants tool results as `functionResponse` parts
//! of a user turn that name the function (OpenAI's name the call's id instead, so the name is
//! looked up from the assistant call with that id), and refuses a turn without parts. So system
//! and developer messages are hoisted (joined with a blank line), turns of one role that follow
//! each other are merged (function responses first, in order, as they answer the calls just
//! before), and a message left with no parts (an assistant's `""`) is left out. Message `name`s
//! have no equivalent and are dropped.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::super::chat_request::{assistant_texts, legacy_function, message_list, push_turn, texts, tool_calls};
use super::super::{kind, media};
use super::call_id;

/// Gemini's system instruction text (None when there was none) and `contents`. `model`: the
/// provider's model name, which says whether Gemini checks thought signatures.
pub fn translate(messages: Option<&Value>, model: &str) -> Result<(Option<String>, Vec<Value>), String> {
    let list = message_list(messages)?;
    let mut system = Vec::new();
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    // The function each tool call so far named, by the call's id.
    let mut names: HashMap<&str, &str> = HashMap::new();
    for (i, message) in list.iter().enumerate() {
        let at = format!("messages[{i}]");
        let (role, parts) = match message.get("role").and_then(Value::as_str).unwrap_or_default() {
            "system" | "developer" => {
                system.push(texts(message.get("content"), &at)?.join("\n\n"));
                continue;
            }
            "user" => ("user", user_parts(message.get("content"), &at)?),
            "assistant" => ("model", model_parts(message, &at, model, &mut names)?),
            "tool" => ("user", vec![function_response(message, &at, &names)?]),
            "function" => return Err(legacy_function(&at)),
            other => return Err(format!("`{at}.role`: `{other}` is not a role")),
        };
        push_turn(&mut turns, role, parts);
    }
    let contents = turns
        .into_iter()
        .map(|(role, mut parts)| {
            // Stable: the responses keep their order, and so does the rest.
            parts.sort_by_key(|p| p.get("functionResponse").is_none());
            json!({"role": role, "parts": parts})
        })
        .collect();
    Ok(((!system.is_empty()).then(|| system.join("\n\n")), contents))
}

fn user_parts(content: Option<&Value>, at: &str) -> Result<Vec<Value>, String> {
    match content {
        Some(Value::String(text)) => Ok(vec![json!({"text": text})]),
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
        "text" => Ok(json!({"text": part["text"].as_str().unwrap_or_default()})),
        "image_url" => media::gemini_image(part, at),
        "file" => media::gemini_document(part, at),
        "input_audio" => audio(part, at),
        other => Err(format!("`{at}.type`: `{other}` parts are not translated")),
    }
}

/// An `input_audio` part (base64 `wav` or `mp3`) as inline audio, which Gemini reads.
fn audio(part: &Value, at: &str) -> Result<Value, String> {
    let data = part["input_audio"]["data"]
        .as_str()
        .ok_or_else(|| format!("`{at}.input_audio.data` is missing"))?;
    let media = match part["input_audio"]["format"].as_str() {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mp3",
        other => {
            let other = other.unwrap_or("missing");
            return Err(format!("`{at}.input_audio.format`: `{other}` audio is not translated"));
        }
    };
    Ok(json!({"inlineData": {"mimeType": media, "data": data}}))
}

/// An assistant message as a model turn's parts: its texts, then its calls, whose function
/// names are noted by id for the tool messages that answer them.
fn model_parts<'a>(
    message: &'a Value,
    at: &str,
    model: &str,
    names: &mut HashMap<&'a str, &'a str>,
) -> Result<Vec<Value>, String> {
    let mut parts: Vec<Value> = assistant_texts(message, at)?
        .into_iter()
        .map(|text| json!({"text": text}))
        .collect();
    for (j, call) in tool_calls(message, at)?.into_iter().enumerate() {
        names.insert(call.id, call.name);
        let mut part = json!({"functionCall": {"name": call.name, "args": call.arguments}});
        if let Some(signature) = call_id::signature(call.id, j == 0, model) {
            part["thoughtSignature"] = json!(signature);
        }
        parts.push(part);
    }
    Ok(parts)
}

/// A tool message as a `functionResponse` part. Gemini wants an object as the response: the
/// tool's text if it is a JSON object, else the text under `content`.
fn function_response(message: &Value, at: &str, names: &HashMap<&str, &str>) -> Result<Value, String> {
    let id = message["tool_call_id"]
        .as_str()
        .ok_or_else(|| format!("`{at}.tool_call_id` is missing"))?;
    let name = names
        .get(id)
        .ok_or_else(|| format!("`{at}.tool_call_id`: no earlier assistant message made a tool call with id `{id}`"))?;
    let text = texts(message.get("content"), at)?.concat();
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({"content": text}),
    };
    Ok(json!({"functionResponse": {"name": name, "response": response}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(messages: Value, model: &str) -> (Option<String>, Value) {
        let (system, out) = translate(Some(&messages), model).unwrap();
        (system, Value::Array(out))
    }

    #[test]
    fn system_messages_are_hoisted_and_roles_renamed() {
        let (system, contents) = run(
            json!([
                {"role": "system", "content": "You are terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": "Hi", "name": "alice"},
                {"role": "assistant", "content": "Salut."},
                {"role": "user", "content": [{"type": "text", "text": "Again"}]},
                {"role": "user", "content": "and again"},
            ]),
            "gemini-2.5-flash",
        );
        assert_eq!(system.as_deref(), Some("You are terse.\n\nAnswer in French."));
        assert_eq!(
            contents,
            json!([
                {"role": "user", "parts": [{"text": "Hi"}]},
                {"role": "model", "parts": [{"text": "Salut."}]},
                {"role": "user", "parts": [{"text": "Again"}, {"text": "and again"}]},
            ])
        );
    }

    #[test]
    fn tool_calls_become_function_calls_and_results_name_their_function() {
        let (_, contents) = run(
            json!([
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
                    {"id": "call_3", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 18, \"unit\": \"C\"}"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "24C"}]},
                {"role": "tool", "tool_call_id": "call_3", "content": "[1, 2]"},
                {"role": "user", "content": "Thanks"},
            ]),
            "gemini-2.5-flash",
        );
        assert_eq!(
            contents,
            json!([
                {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
                {"role": "model", "parts": [
                    {"text": "Checking."},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
                    {"functionCall": {"name": "get_time", "args": {}}}]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp": 18, "unit": "C"}}},
                    {"functionResponse": {"name": "get_weather", "response": {"content": "24C"}}},
                    {"functionResponse": {"name": "get_time", "response": {"content": "[1, 2]"}}},
                    {"text": "Thanks"}]},
            ])
        );
    }

    #[test]
    fn thought_signatures_come_back_from_ids_or_are_skipped_for_gemini_3() {
        let messages = json!([
            {"role": "user", "content": "Go"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_a__thought__CiQBsig", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_a__thought__CiQBsig", "content": "1"},
            {"role": "tool", "tool_call_id": "call_b", "content": "2"},
            {"role": "assistant", "tool_calls": [
                {"id": "from_another_model", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "from_another_model", "content": "3"},
        ]);
        let (_, three) = run(messages.clone(), "gemini-3-pro-preview");
        assert_eq!(
            three[1]["parts"],
            json!([{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "CiQBsig"},
                   {"functionCall": {"name": "g", "args": {}}}])
        );
        assert_eq!(
            three[3]["parts"],
            json!([{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "skip_thought_signature_validator"}])
        );
        let (_, two) = run(messages, "gemini-2.5-pro");
        assert_eq!(two[1]["parts"][0]["thoughtSignature"], "CiQBsig");
        assert!(two[3]["parts"][0].get("thoughtSignature").is_none());
    }

    #[test]
    fn media_parts_become_inline_or_file_data_and_empty_turns_vanish() {
        let (_, contents) = run(
            json!([
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]},
                {"role": "assistant", "content": ""},
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "I cannot tell."}]},
            ]),
            "gemini-2.5-flash",
        );
        assert_eq!(
            contents,
            json!([
                {"role": "user", "parts": [
                    {"text": "What is this?"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                    {"fileData": {"fileUri": "https://example.com/cat.png", "mimeType": "image/png"}},
                    {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}},
                    {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}]},
                {"role": "model", "parts": [{"text": "I cannot tell."}]},
            ])
        );
    }

    #[test]
    fn what_cannot_be_said_is_refused_by_field() {
        for (messages, error) in [
            (
                json!([{"role": "tool", "tool_call_id": "call_9", "content": "1"}]),
                "`messages[0].tool_call_id`: no earlier assistant message made a tool call with id `call_9`",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                     "function": {"name": "f", "arguments": "{\"a\":"}}]}]),
                "`messages[0].tool_calls[0].function.arguments` is not valid JSON",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                     "function": {"name": "f", "arguments": "7"}}]}]),
                "`messages[0].tool_calls[0].function.arguments` must be a JSON object, not a number",
            ),
            (
                json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "flac"}}]}]),
                "`messages[0].content[0].input_audio.format`: `flac` audio is not translated",
            ),
            (
                json!([{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]),
                "`messages[0].content[0].file.file_id`: uploaded files are not translated",
            ),
            (
                json!([{"role": "function", "name": "f", "content": "1"}]),
                "`messages[0].role`: legacy `function`",
            ),
            (
                json!([{"role": "robot", "content": "1"}]),
                "`messages[0].role`: `robot` is not a role",
            ),
            (json!("hi"), "`messages` must be a list, not a string"),
        ] {
            let err = translate(Some(&messages), "gemini-2.5-flash").unwrap_err();
            assert!(err.starts_with(error), "{err}");
        }
        assert_eq!(translate(None, "m").unwrap_err(), "`messages` is missing");
    }
}
