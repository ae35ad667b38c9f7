//! Pieces of an OpenAI chat completions request that read the same whichever provider they are
//! translated for: text-only contents, tool-call arguments, stop sequences, the token limit,
//! function tools, the tool choice and the response format. Each translation from chat reads
//! them here and says them in its provider's words, so a field is understood (and refused) in
//! one way only. What a provider cannot do is that translation's own to refuse.

use serde_json::{Map, Value, json};

use super::{given, kind};

/// A content that may only hold text (system, developer and tool messages): its texts.
pub fn texts(content: Option<&Value>, at: &str) -> Result<Vec<String>, String> {
    match content {
        Some(Value::String(text)) => Ok(vec![text.clone()]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(j, part)| match (part["type"].as_str(), part["text"].as_str()) {
                (Some("text"), Some(text)) => Ok(text.to_string()),
                _ => Err(format!("`{at}.content[{j}]`: only text parts are translated here")),
            })
            .collect(),
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(other) => Err(format!(
            "`{at}.content` must be a string or a list of parts, not {}",
            kind(other)
        )),
    }
}

/// The texts an assistant message of the history said, empty ones left out. A refusal the
/// model gave is what it said: the next turn should see it. Legacy `function_call`s and audio
/// answers are refused.
pub fn assistant_texts<'a>(message: &'a Value, at: &str) -> Result<Vec<&'a str>, String> {
    for key in ["function_call", "audio"] {
        if !message[key].is_null() {
            return Err(format!("`{at}.{key}` is not translated"));
        }
    }
    let mut texts = Vec::new();
    match message.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => texts.push(text.as_str()),
        Some(Value::Array(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                match (
                    part["type"].as_str(),
                    part["text"].as_str().or(part["refusal"].as_str()),
                ) {
                    (Some("text" | "refusal"), Some(text)) => texts.push(text),
                    _ => {
                        return Err(format!(
                            "`{at}.content[{j}]`: only text and refusal parts are translated"
                        ));
                    }
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "`{at}.content` must be a string or a list of parts, not {}",
                kind(other)
            ));
        }
    }
    texts.extend(message["refusal"].as_str());
    texts.retain(|t| !t.is_empty());
    Ok(texts)
}

/// One tool call of an assistant message in the history.
pub struct ToolCall<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// Its arguments as an object.
    pub arguments: Value,
}

/// An assistant message's `tool_calls` (none when it has none).
pub fn tool_calls<'a>(message: &'a Value, at: &str) -> Result<Vec<ToolCall<'a>>, String> {
    let calls = message.get("tool_calls").and_then(Value::as_array);
    calls
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(j, call)| tool_call(call, &format!("{at}.tool_calls[{j}]")))
        .collect()
}

/// One tool call; `at` names it. Only function calls are translated.
pub fn tool_call<'a>(call: &'a Value, at: &str) -> Result<ToolCall<'a>, String> {
    if let Some(kind) = call["type"].as_str().filter(|k| *k != "function") {
        return Err(format!("`{at}.type`: `{kind}` tool calls are not translated"));
    }
    let id = call["id"].as_str().ok_or_else(|| format!("`{at}.id` is missing"))?;
    let name = call["function"]["name"]
        .as_str()
        .ok_or_else(|| format!("`{at}.function.name` is missing"))?;
    let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
    Ok(ToolCall {
        id,
        name,
        arguments: arguments_object(arguments, at)?,
    })
}

/// Tool-call arguments (JSON text) as the object both Anthropic's `input` and Gemini's `args`
/// must be. Empty text, which some clients send for a call without arguments, reads as `{}`.
/// `at` names the tool call.
fn arguments_object(arguments: &str, at: &str) -> Result<Value, String> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(input @ Value::Object(_)) => Ok(input),
        Ok(other) => Err(format!(
            "`{at}.function.arguments` must be a JSON object, not {}",
            kind(&other)
        )),
        Err(e) => Err(format!("`{at}.function.arguments` is not valid JSON: {e}")),
    }
}

/// `stop` (a string or a list of strings) as a list.
pub fn stop_sequences(stop: &Value) -> Result<Value, String> {
    match stop {
        Value::String(one) => Ok(json!([one])),
        Value::Array(list) if list.iter().all(Value::is_string) => Ok(stop.clone()),
        other => Err(format!(
            "`stop` must be a string or a list of strings, not {}",
            kind(other)
        )),
    }
}

/// The most tokens the answer may take: `max_completion_tokens`, else the older `max_tokens`;
/// None when the client set neither.
pub fn max_tokens(body: &Map<String, Value>) -> Result<Option<u64>, String> {
    for key in ["max_completion_tokens", "max_tokens"] {
        if let Some(value) = given(body, key) {
            return match value.as_u64() {
                Some(n) => Ok(Some(n)),
                None => Err(format!("`{key}` must be a whole number, not {value}")),
            };
        }
    }
    Ok(None)
}

/// One function tool as the client declared it.
pub struct Function<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// Its JSON Schema; None for a function that takes no arguments.
    pub parameters: Option<&'a Value>,
    pub strict: Option<bool>,
}

/// `tools`: function tools only (custom tools have no equivalent anywhere we translate to).
pub fn functions(tools: &Value) -> Result<Vec<Function<'_>>, String> {
    let Some(list) = tools.as_array() else {
        return Err(format!("`tools` must be a list, not {}", kind(tools)));
    };
    list.iter()
        .enumerate()
        .map(|(i, tool)| {
            if let Some(other) = tool["type"].as_str().filter(|t| *t != "function") {
                return Err(format!("`tools[{i}].type`: `{other}` tools are not translated"));
            }
            let function = &tool["function"];
            Ok(Function {
                name: function["name"]
                    .as_str()
                    .ok_or_else(|| format!("`tools[{i}].function.name` is missing"))?,
                description: function["description"].as_str(),
                parameters: Some(&function["parameters"]).filter(|p| !p.is_null()),
                strict: function["strict"].as_bool(),
            })
        })
        .collect()
}

/// What `tool_choice` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice<'a> {
    Auto,
    None,
    Required,
    Function(&'a str),
}

/// `tool_choice` read; `allowed_tools` and custom-tool choices are refused.
pub fn tool_choice(choice: &Value) -> Result<Choice<'_>, String> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(Choice::Auto),
            "none" => Ok(Choice::None),
            "required" => Ok(Choice::Required),
            other => Err(format!("`tool_choice`: `{other}` is not a tool choice")),
        },
        named => match (named["type"].as_str(), named["function"]["name"].as_str()) {
            (Some("function"), Some(name)) => Ok(Choice::Function(name)),
            (Some("function"), None) => Err("`tool_choice.function.name` is missing".into()),
            (other, _) => {
                let other = other.unwrap_or("untyped");
                Err(format!("`tool_choice`: `{other}` choices are not translated"))
            }
        },
    }
}

/// What `response_format` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format<'a> {
    Text,
    /// Any JSON object (OpenAI's JSON mode).
    JsonObject,
    /// JSON following this schema.
    JsonSchema(&'a Value),
}

/// `response_format` read.
pub fn response_format(format: &Value) -> Result<Format<'_>, String> {
    match format["type"].as_str() {
        Some("text") => Ok(Format::Text),
        Some("json_object") => Ok(Format::JsonObject),
        Some("json_schema") => match &format["json_schema"]["schema"] {
            Value::Null => Err("`response_format.json_schema.schema` is missing".into()),
            schema => Ok(Format::JsonSchema(schema)),
        },
        other => Err(format!(
            "`response_format.type`: `{}` is not translated",
            other.unwrap_or("missing")
        )),
    }
}

/// Fields that change what the answer is and that no translation carries: log probabilities,
/// audio answers, legacy functions, web search. `provider` is named in the message.
pub fn refuse(body: &Map<String, Value>, provider: &str) -> Result<(), String> {
    if given(body, "logprobs") == Some(&Value::Bool(true)) {
        return Err(format!("`logprobs`: {provider} does not return log probabilities"));
    }
    let modalities = given(body, "modalities").and_then(Value::as_array);
    if modalities.is_some_and(|m| m.iter().any(|m| m == "audio")) {
        return Err(format!("`modalities`: {provider} does not answer with audio"));
    }
    let no_logprobs = format!("{provider} does not return log probabilities");
    let no_audio = format!("{provider} does not answer with audio");
    for (key, why) in [
        ("top_logprobs", no_logprobs.as_str()),
        ("audio", no_audio.as_str()),
        ("functions", "legacy functions are not translated; use `tools`"),
        (
            "function_call",
            "legacy functions are not translated; use `tool_choice`",
        ),
        ("web_search_options", "web search is not translated"),
    ] {
        if given(body, key).is_some() {
            return Err(format!("`{key}`: {why}"));
        }
    }
    Ok(())
}

/// A chat request's `messages` list.
pub fn message_list(messages: Option<&Value>) -> Result<&Vec<Value>, String> {
    match messages {
        Some(Value::Array(list)) => Ok(list),
        Some(other) => Err(format!("`messages` must be a list, not {}", kind(other))),
        None => Err("`messages` is missing".to_string()),
    }
}

/// Why a legacy `function` message at `at` is refused.
pub fn legacy_function(at: &str) -> String {
    format!("`{at}.role`: legacy `function` messages are not translated; use `tool` messages")
}

/// Adds a message to the turns of an API whose roles alternate: one of the role of the turn
/// before joins it, one with nothing in it is left out.
pub fn push_turn<'a>(turns: &mut Vec<(&'a str, Vec<Value>)>, role: &'a str, parts: Vec<Value>) {
    match turns.last_mut() {
        _ if parts.is_empty() => {}
        Some((last, earlier)) if *last == role => earlier.extend(parts),
        _ => turns.push((role, parts)),
    }
}
