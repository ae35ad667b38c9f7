//! An OpenAI chat completions request as a Bedrock Converse request. The table of what maps,
//! what is refused and what is dropped is in the module's documentation.

use serde_json::{Map, Value, json};

use super::super::chat_to_messages::request as anthropic;
use super::super::{chat_request, given};
use super::conversation;

pub fn request(body: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    anthropic::refuse(body, "Bedrock")?;
    let mut out = Map::new();
    let (system, messages) = conversation::translate(body.get("messages"))?;
    if let Some(tool_config) = tool_config(body, &messages)? {
        out.insert("toolConfig".into(), tool_config);
    }
    out.insert("messages".into(), Value::Array(messages));
    if let Some(system) = system {
        out.insert("system".into(), system);
    }
    let config = inference_config(body)?;
    if !config.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(config));
    }
    if let Some(format) = given(body, "response_format").map(output_config).transpose()?.flatten() {
        out.insert("outputConfig".into(), format);
    }
    Ok(out)
}

fn inference_config(body: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut config = Map::new();
    if let Some(max) = chat_request::max_tokens(body)? {
        config.insert("maxTokens".into(), json!(max));
    }
    for (openai, converse) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(value) = given(body, openai) {
            config.insert(converse.into(), value.clone());
        }
    }
    if let Some(stop) = given(body, "stop") {
        config.insert("stopSequences".into(), chat_request::stop_sequences(stop)?);
    }
    Ok(config)
}

/// `toolConfig`: the tools and the choice among them, checked as for Anthropic and said in
/// Converse's words. With `tool_choice: none` the tools are not offered, unless the history
/// holds tool blocks: Converse refuses those without a `toolConfig` (see the module's table).
fn tool_config(body: &Map<String, Value>, messages: &[Value]) -> Result<Option<Value>, String> {
    let tools = given(body, "tools")
        .map(anthropic::tools)
        .transpose()?
        .unwrap_or_default();
    let choice = anthropic::tool_choice(given(body, "tool_choice"), false, !tools.is_empty())?;
    let none = choice.as_ref().is_some_and(|c| c["type"] == "none");
    let needed = conversation::has_tool_blocks(messages);
    if (tools.is_empty() || none) && !needed {
        return Ok(None);
    }
    let specs: Vec<Value> = if tools.is_empty() {
        // Declared so Converse accepts the history; each takes whatever the calls passed.
        conversation::tools_used(messages)
            .into_iter()
            .map(|name| json!({"toolSpec": {"name": name, "inputSchema": {"json": {"type": "object"}}}}))
            .collect()
    } else {
        tools.iter().map(tool_spec).collect()
    };
    if specs.is_empty() {
        // Only tool results, their calls' names unknown: nothing to declare; Converse will say so.
        return Ok(None);
    }
    let mut config = json!({"tools": specs});
    let converse_choice = match choice.as_ref().and_then(|c| c["type"].as_str()) {
        Some("any") => Some(json!({"any": {}})),
        Some("tool") => choice.as_ref().map(|c| json!({"tool": {"name": c["name"]}})),
        Some("auto") => Some(json!({"auto": {}})),
        // `none` with a history that needs the tools, or no choice given: the model's default.
        _ => None,
    };
    if let Some(converse_choice) = converse_choice {
        config["toolChoice"] = converse_choice;
    }
    Ok(Some(config))
}

/// An Anthropic custom tool (as `anthropic::tools` makes it) as a Converse `toolSpec`.
fn tool_spec(tool: &Value) -> Value {
    let mut spec = json!({"name": tool["name"], "inputSchema": {"json": tool["input_schema"]}});
    for key in ["description", "strict"] {
        if let Some(value) = tool.get(key) {
            spec[key] = value.clone();
        }
    }
    json!({"toolSpec": spec})
}

/// `response_format` as `outputConfig.textFormat`; plain text needs none. Converse takes the
/// schema as JSON text, not as an object.
fn output_config(format: &Value) -> Result<Option<Value>, String> {
    match format["type"].as_str() {
        Some("text") => Ok(None),
        Some("json_schema") => {
            let definition = &format["json_schema"];
            let schema = match &definition["schema"] {
                Value::Null => return Err("`response_format.json_schema.schema` is missing".into()),
                schema => schema.to_string(),
            };
            let mut json_schema = json!({"schema": schema});
            for key in ["name", "description"] {
                if let Some(value) = definition.get(key).filter(|v| v.is_string()) {
                    json_schema[key] = value.clone();
                }
            }
            Ok(Some(
                json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": json_schema}}}),
            ))
        }
        Some("json_object") => Err(
            "`response_format`: `json_object` is not translated (Bedrock Converse has no JSON mode \
             without a schema); use `json_schema`"
                .into(),
        ),
        other => Err(format!(
            "`response_format.type`: `{}` is not translated",
            other.unwrap_or("missing")
        )),
    }
}

#[cfg(test)]
mod tests;
