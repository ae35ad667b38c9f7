//! An Anthropic messages request as an OpenAI chat completions request. The table of what maps,
//! what is refused and what is dropped is in the `translate` module's documentation.

use serde_json::{Map, Value, json};

use super::super::{given, kind};
use super::conversation;

pub fn request(body: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    if given(body, "mcp_servers").is_some_and(|s| s.as_array().is_none_or(|s| !s.is_empty())) {
        return Err("`mcp_servers`: MCP connectors run inside Anthropic's API and are not translated".into());
    }
    let mut out = Map::new();
    if let Some(model) = body.get("model") {
        out.insert("model".into(), model.clone());
    }
    let messages = conversation::translate(given(body, "system"), body.get("messages"))?;
    out.insert("messages".into(), Value::Array(messages));
    // `max_completion_tokens` is OpenAI's current name; reasoning models refuse `max_tokens`.
    if let Some(max) = given(body, "max_tokens") {
        let n = max
            .as_u64()
            .ok_or_else(|| format!("`max_tokens` must be a whole number, not {max}"))?;
        out.insert("max_completion_tokens".into(), json!(n));
    }
    for key in ["temperature", "top_p"] {
        if let Some(value) = given(body, key) {
            out.insert(key.into(), value.clone());
        }
    }
    match given(body, "stop_sequences") {
        Some(Value::Array(stops)) if stops.is_empty() => {}
        Some(stops @ Value::Array(list)) if list.iter().all(Value::is_string) => {
            out.insert("stop".into(), stops.clone());
        }
        Some(other) => {
            return Err(format!(
                "`stop_sequences` must be a list of strings, not {}",
                kind(other)
            ));
        }
        None => {}
    }
    let tools = given(body, "tools").map(tools).transpose()?.unwrap_or_default();
    if let Some(choice) = given(body, "tool_choice") {
        let (choice, serial) = tool_choice(choice)?;
        // OpenAI refuses `tool_choice` and `parallel_tool_calls` without tools. Without tools,
        // `auto` and `none` say nothing; a forced choice goes on, to be refused as Anthropic would.
        if !tools.is_empty() || choice.is_object() || choice == "required" {
            out.insert("tool_choice".into(), choice);
        }
        if serial && !tools.is_empty() {
            out.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(user) = body
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .filter(|u| u.is_string())
    {
        out.insert("user".into(), user.clone());
    }
    if let Some(stream) = given(body, "stream") {
        out.insert("stream".into(), stream.clone());
        // Anthropic streams always end with usage; OpenAI's only when asked.
        if stream == &Value::Bool(true) {
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    if let Some(format) = body
        .get("output_config")
        .and_then(|c| c.get("format"))
        .filter(|f| !f.is_null())
    {
        out.insert("response_format".into(), response_format(format)?);
    }
    Ok(out)
}

/// Anthropic custom tools as OpenAI function tools; server tools (web search, code execution,
/// bash, text editor …) run inside Anthropic's API and are refused.
fn tools(tools: &Value) -> Result<Vec<Value>, String> {
    let Some(list) = tools.as_array() else {
        return Err(format!("`tools` must be a list, not {}", kind(tools)));
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        if let Some(other) = tool["type"].as_str().filter(|t| *t != "custom") {
            return Err(format!(
                "`tools[{i}].type`: `{other}` tools run inside Anthropic's API and are not translated"
            ));
        }
        let name = tool["name"]
            .as_str()
            .ok_or_else(|| format!("`tools[{i}].name` is missing"))?;
        let mut function = json!({"name": name});
        if let Some(description) = tool["description"].as_str() {
            function["description"] = json!(description);
        }
        if !tool["input_schema"].is_null() {
            function["parameters"] = tool["input_schema"].clone();
        }
        if let Some(strict) = tool["strict"].as_bool() {
            function["strict"] = json!(strict);
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(out)
}

/// OpenAI's `tool_choice`, and whether parallel tool use was switched off.
fn tool_choice(choice: &Value) -> Result<(Value, bool), String> {
    let serial = choice["disable_parallel_tool_use"] == true;
    let openai = match choice["type"].as_str() {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => {
            let name = choice["name"].as_str().ok_or("`tool_choice.name` is missing")?;
            json!({"type": "function", "function": {"name": name}})
        }
        other => {
            return Err(format!(
                "`tool_choice.type`: `{}` is not a tool choice",
                other.unwrap_or("missing")
            ));
        }
    };
    Ok((openai, serial))
}

/// `output_config.format` as `response_format`. OpenAI requires a name for the schema;
/// Anthropic's output is held to its schema, as OpenAI's is with `strict`.
fn response_format(format: &Value) -> Result<Value, String> {
    match (format["type"].as_str(), &format["schema"]) {
        (Some("json_schema"), schema) if !schema.is_null() => {
            Ok(json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": true}}))
        }
        (Some("json_schema"), _) => Err("`output_config.format.schema` is missing".into()),
        (other, _) => Err(format!(
            "`output_config.format.type`: `{}` is not translated",
            other.unwrap_or("missing")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(body: Value) -> Result<Value, String> {
        request(body.as_object().unwrap()).map(Value::Object)
    }

    #[test]
    fn a_full_request_maps_field_by_field() {
        let out = translate(json!({
            "model": "gpt-4.1", "max_tokens": 1024, "system": "Be brief.",
            "messages": [{"role": "user", "content": "Weather?"}],
            "temperature": 0.5, "top_p": 0.9, "top_k": 40, "stop_sequences": ["END", "STOP"],
            "tools": [{"name": "get_weather", "description": "Current weather", "cache_control": {"type": "ephemeral"},
                       "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "metadata": {"user_id": "user-42"}, "stream": true,
            "thinking": {"type": "enabled", "budget_tokens": 2048}, "service_tier": "auto",
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({
                "model": "gpt-4.1",
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}],
                "max_completion_tokens": 1024, "temperature": 0.5, "top_p": 0.9, "stop": ["END", "STOP"],
                "tool_choice": "required", "parallel_tool_calls": false,
                "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
                "user": "user-42", "stream": true, "stream_options": {"include_usage": true},
            })
        );
    }

    #[test]
    fn tool_choices_map_to_openai_words() {
        for (choice, expected, serial) in [
            (json!({"type": "auto"}), json!("auto"), false),
            (json!({"type": "any"}), json!("required"), false),
            (json!({"type": "none"}), json!("none"), false),
            (
                json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true}),
                json!({"type": "function", "function": {"name": "f"}}),
                true,
            ),
        ] {
            assert_eq!(tool_choice(&choice).unwrap(), (expected, serial));
        }
    }

    #[test]
    fn a_plain_request_gets_no_extras() {
        let out = translate(
            json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
                                   "stream": false, "stop_sequences": [],
                                   "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                               "max_completion_tokens": 10, "stream": false})
        );
    }

    #[test]
    fn an_output_schema_becomes_a_strict_response_format() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false});
        let out = translate(json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
                                   "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": schema}}}))
        .unwrap();
        assert_eq!(
            out["response_format"],
            json!({"type": "json_schema",
                                                  "json_schema": {"name": "output", "schema": schema, "strict": true}})
        );
    }

    #[test]
    fn what_openai_cannot_do_is_refused_naming_the_field() {
        for (field, value, error) in [
            (
                "tools",
                json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]),
                "`tools[0].type`: `web_search_20250305` tools run inside Anthropic's API",
            ),
            (
                "mcp_servers",
                json!([{"type": "url", "url": "https://example.com/sse", "name": "x"}]),
                "`mcp_servers`",
            ),
            (
                "tool_choice",
                json!({"type": "sometimes"}),
                "`tool_choice.type`: `sometimes` is not a tool choice",
            ),
            ("max_tokens", json!(-1), "`max_tokens` must be a whole number"),
            (
                "stop_sequences",
                json!("END"),
                "`stop_sequences` must be a list of strings, not a string",
            ),
            ("messages", json!("hi"), "`messages` must be a list, not a string"),
        ] {
            let mut body = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]});
            body[field] = value;
            let err = translate(body).unwrap_err();
            assert!(err.starts_with(error), "{field}: {err}");
        }
    }
}
