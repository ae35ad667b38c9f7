//! OpenAI's `messages` as Converse's `system` and `messages`. The conversation is put as
//! Anthropic's first (`chat_to_messages::conversation`: its rules are Converse's too, and it
//! names the field of anything it refuses), then each Anthropic block in Converse's words.
//! Converse carries media as bytes (base64 in JSON) or S3 locations: an image by URL, which
//! Anthropic would fetch itself, is refused.

use serde_json::{Value, json};

use super::super::chat_to_messages::conversation as anthropic;

/// Converse's `system` (None when there was none) and `messages`.
pub fn translate(messages: Option<&Value>) -> Result<(Option<Value>, Vec<Value>), String> {
    let (system, turns) = anthropic::translate(messages)?;
    let mut out = Vec::with_capacity(turns.len());
    for (i, turn) in turns.iter().enumerate() {
        let content = turn["content"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(j, block)| converse_block(block, i, j))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(json!({"role": turn["role"], "content": content}));
    }
    Ok((system.map(|text| json!([{"text": text}])), out))
}

/// The names of the tools the conversation's tool calls used, in order, once each.
pub fn tools_used(messages: &[Value]) -> Vec<&str> {
    let mut names = Vec::new();
    for block in messages
        .iter()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
    {
        if let Some(name) = block.pointer("/toolUse/name").and_then(Value::as_str)
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    names
}

/// Whether any message holds a tool call or a tool result, for which Converse wants a
/// `toolConfig` whatever the request's `tool_choice`.
pub fn has_tool_blocks(messages: &[Value]) -> bool {
    messages
        .iter()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .any(|b| b.get("toolUse").is_some() || b.get("toolResult").is_some())
}

/// One Anthropic block (the `j`th of the `i`th merged message) as a Converse block. The blocks
/// are the ones `anthropic::translate` makes, so a kind not handled here cannot occur. Merged
/// messages no longer count as the client's did: refusals name the field, not its place.
fn converse_block(block: &Value, i: usize, j: usize) -> Result<Value, String> {
    let text = |pointer: &str| block.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
    Ok(match text("/type") {
        "image" => {
            if text("/source/type") != "base64" {
                return Err("`image_url.url`: Bedrock Converse takes images as bytes only, not web \
                            URLs; send the image as a base64 `data:` URL"
                    .into());
            }
            let format = match text("/source/media_type") {
                "image/png" => "png",
                "image/jpeg" | "image/jpg" => "jpeg",
                "image/gif" => "gif",
                "image/webp" => "webp",
                other => {
                    return Err(format!(
                        "`image_url.url`: `{other}` images are not translated (Bedrock Converse takes \
                         png, jpeg, gif and webp)"
                    ));
                }
            };
            json!({"image": {"format": format, "source": {"bytes": text("/source/data")}}})
        }
        "document" => json!({"document": {
            "format": "pdf",
            "name": document_name(block["title"].as_str(), i, j),
            "source": {"bytes": text("/source/data")},
        }}),
        "tool_use" => json!({"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block["input"]}}),
        "tool_result" => {
            json!({"toolResult": {"toolUseId": block["tool_use_id"], "content": result_content(&block["content"])}})
        }
        _ => json!({"text": text("/text")}),
    })
}

/// A tool's result: text that is a JSON object goes as `json` (the model reads it as data),
/// other text as `text`.
fn result_content(content: &Value) -> Value {
    let texts: Vec<&str> = match content {
        Value::String(text) => vec![text],
        list => list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["text"].as_str())
            .collect(),
    };
    if let [one] = texts[..]
        && let Ok(object @ Value::Object(_)) = serde_json::from_str::<Value>(one)
    {
        return json!([{"json": object}]);
    }
    Value::Array(texts.into_iter().map(|t| json!({"text": t})).collect())
}

/// A document's `name`: Converse allows letters, digits, single spaces, hyphens, parentheses and
/// square brackets, and uses it to tell documents apart. A file name's `.pdf` goes, other
/// characters become hyphens; without a usable name, one made from the document's place.
fn document_name(filename: Option<&str>, i: usize, j: usize) -> String {
    let stem = filename.unwrap_or_default();
    let stem = stem.strip_suffix(".pdf").or(stem.strip_suffix(".PDF")).unwrap_or(stem);
    let mut name = String::with_capacity(stem.len());
    for c in stem.chars() {
        let c = match c {
            c if c.is_ascii_alphanumeric() || "-()[]".contains(c) => c,
            c if c.is_whitespace() => ' ',
            _ => '-',
        };
        if !(c == ' ' && name.ends_with(' ')) {
            name.push(c);
        }
    }
    let name = name.trim();
    if name.is_empty() {
        format!("document-{i}-{j}")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &str =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==";

    fn run(messages: Value) -> (Option<Value>, Value) {
        let (system, out) = translate(Some(&messages)).unwrap();
        (system, Value::Array(out))
    }

    #[test]
    fn a_tool_conversation_becomes_alternating_converse_turns() {
        let (system, messages) = run(json!([
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}"), "detail": "low"}}]},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "tooluse_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "tooluse_1", "content": "{\"temp\": 18}"},
            {"role": "tool", "tool_call_id": "tooluse_2", "content": [{"type": "text", "text": "14:00"}]},
            {"role": "user", "content": "Thanks"},
        ]));
        assert_eq!(system, Some(json!([{"text": "Be brief.\n\nUse metric units."}])));
        assert_eq!(
            messages,
            json!([
                {"role": "user", "content": [{"text": "Weather in Paris?"},
                    {"image": {"format": "png", "source": {"bytes": PNG}}}]},
                {"role": "assistant", "content": [{"text": "Checking."},
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
                    {"toolUse": {"toolUseId": "tooluse_2", "name": "get_time", "input": {}}}]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temp": 18}}]}},
                    {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "14:00"}]}},
                    {"text": "Thanks"}]},
            ])
        );
        let turns = messages.as_array().unwrap();
        assert!(has_tool_blocks(turns));
        assert_eq!(tools_used(turns), ["get_weather", "get_time"]);
    }

    #[test]
    fn pdfs_become_named_documents() {
        let (_, messages) = run(json!([{"role": "user", "content": [
            {"type": "file", "file": {"filename": "Q3 report_v2.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0y"}}]}]));
        assert_eq!(
            messages[0]["content"],
            json!([
                {"document": {"format": "pdf", "name": "Q3 report-v2", "source": {"bytes": "JVBERi0x"}}},
                {"document": {"format": "pdf", "name": "document-0-1", "source": {"bytes": "JVBERi0y"}}},
            ])
        );
    }

    #[test]
    fn images_by_url_and_other_formats_are_refused() {
        for (url, error) in [
            (
                "https://example.com/cat.png",
                "`image_url.url`: Bedrock Converse takes images as bytes only",
            ),
            (
                "data:image/bmp;base64,Qk0=",
                "`image_url.url`: `image/bmp` images are not translated",
            ),
        ] {
            let messages = json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]);
            let err = translate(Some(&messages)).unwrap_err();
            assert!(err.starts_with(error), "{err}");
        }
    }

    #[test]
    fn refusals_of_the_shared_rules_name_the_field() {
        let messages = json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}]}]);
        let err = translate(Some(&messages)).unwrap_err();
        assert!(
            err.starts_with("`messages[0].content[0]`: audio input is not translated"),
            "{err}"
        );
    }
}
