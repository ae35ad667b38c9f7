//! A Responses request as a chat completions request. The table of what maps, what is refused
//! and what is dropped is in this module's parent's documentation.

use serde_json::{Map, Value, json};

use super::super::{given, kind};
use super::conversation;

/// Fields that only mean something to a service that keeps responses: agentmux keeps none, and
/// a chat provider keeps nothing between requests.
const STORED: [(&str, &str); 3] = [
    ("previous_response_id", "continues a response OpenAI stored"),
    ("conversation", "continues a conversation OpenAI stores"),
    ("prompt", "names a prompt template OpenAI stores"),
];

pub fn request(body: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    for (key, what) in STORED {
        if given(body, key).is_some() {
            return Err(format!(
                "`{key}` {what}; stored state is not translated (agentmux keeps none): send the whole conversation in `input`"
            ));
        }
    }
    if given(body, "background") == Some(&Value::Bool(true)) {
        return Err(
            "`background`: background responses are stored to be fetched later; stored state is not translated (agentmux keeps none)"
                .into(),
        );
    }
    if given(body, "top_logprobs").is_some_and(|n| n.as_u64() != Some(0)) {
        return Err("`top_logprobs`: log probabilities are not translated".into());
    }
    let mut out = Map::new();
    if let Some(model) = body.get("model") {
        out.insert("model".into(), model.clone());
    }
    let messages = conversation::translate(given(body, "instructions"), given(body, "input"))?;
    out.insert("messages".into(), Value::Array(messages));
    if let Some(max) = given(body, "max_output_tokens") {
        let n = max
            .as_u64()
            .ok_or_else(|| format!("`max_output_tokens` must be a whole number, not {max}"))?;
        out.insert("max_completion_tokens".into(), json!(n));
    }
    for key in ["temperature", "top_p", "user", "safety_identifier"] {
        if let Some(value) = given(body, key) {
            out.insert(key.into(), value.clone());
        }
    }
    let tools = given(body, "tools").map(tools).transpose()?.unwrap_or_default();
    if let Some(choice) = given(body, "tool_choice") {
        let choice = tool_choice(choice)?;
        // OpenAI refuses `tool_choice` without tools; without tools, `auto` and `none` say
        // nothing, and a forced choice goes on to be refused as the provider would.
        if !tools.is_empty() || choice.is_object() || choice == "required" {
            out.insert("tool_choice".into(), choice);
        }
    }
    if let Some(parallel) = given(body, "parallel_tool_calls").filter(|_| !tools.is_empty()) {
        out.insert("parallel_tool_calls".into(), parallel.clone());
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(format) = body
        .get("text")
        .and_then(|t| t.get("format"))
        .filter(|f| !f.is_null())
        .map(response_format)
        .transpose()?
        .flatten()
    {
        out.insert("response_format".into(), format);
    }
    if let Some(stream) = given(body, "stream") {
        out.insert("stream".into(), stream.clone());
        // The final `response.completed` carries the usage; chat streams say it only when asked.
        if stream == &Value::Bool(true) {
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    Ok(out)
}

/// Responses function tools (flat: `name` beside `type`) as chat's (under `function`). Tools
/// OpenAI runs itself (web search, file search, computer use, code interpreter, MCP …) are
/// refused. `strict` goes only when the client said it: the Responses API's default (true) is
/// not chat's, and a schema that strict mode refuses would fail where it worked before.
fn tools(tools: &Value) -> Result<Vec<Value>, String> {
    let Some(list) = tools.as_array() else {
        return Err(format!("`tools` must be a list, not {}", kind(tools)));
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        match tool["type"].as_str() {
            Some("function") => {}
            Some(other) => {
                return Err(format!(
                    "`tools[{i}].type`: `{other}` tools run inside OpenAI's API and are not translated"
                ));
            }
            None => return Err(format!("`tools[{i}].type` is missing")),
        }
        let name = tool["name"]
            .as_str()
            .ok_or_else(|| format!("`tools[{i}].name` is missing"))?;
        let mut function = json!({"name": name});
        for key in ["description", "parameters", "strict"] {
            if !tool[key].is_null() {
                function[key] = tool[key].clone();
            }
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(out)
}

/// The Responses `tool_choice` in chat's words.
fn tool_choice(choice: &Value) -> Result<Value, String> {
    match choice {
        Value::String(mode) if matches!(mode.as_str(), "auto" | "none" | "required") => Ok(choice.clone()),
        Value::String(other) => Err(format!("`tool_choice`: `{other}` is not a tool choice")),
        named => match (named["type"].as_str(), named["name"].as_str()) {
            (Some("function"), Some(name)) => Ok(json!({"type": "function", "function": {"name": name}})),
            (Some("function"), None) => Err("`tool_choice.name` is missing".into()),
            (other, _) => Err(format!(
                "`tool_choice`: `{}` choices are not translated",
                other.unwrap_or("untyped")
            )),
        },
    }
}

/// `text.format` as chat's `response_format`; None for plain text (chat's default).
fn response_format(format: &Value) -> Result<Option<Value>, String> {
    match format["type"].as_str() {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            if format["schema"].is_null() {
                return Err("`text.format.schema` is missing".into());
            }
            let name = format["name"].as_str().ok_or("`text.format.name` is missing")?;
            let mut schema = json!({"name": name, "schema": format["schema"]});
            for key in ["description", "strict"] {
                if !format[key].is_null() {
                    schema[key] = format[key].clone();
                }
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        other => Err(format!(
            "`text.format.type`: `{}` is not translated",
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
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                            "additionalProperties": false});
        let out = translate(json!({
            "model": "gpt-4.1", "instructions": "Be brief.", "input": "Weather?",
            "max_output_tokens": 256, "temperature": 0.5, "top_p": 0.9, "parallel_tool_calls": false,
            "user": "u-1", "safety_identifier": "s-1", "stream": true, "stream_options": {"include_obfuscation": false},
            "tools": [{"type": "function", "name": "get_weather", "description": "Current weather",
                       "parameters": schema, "strict": true}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": true},
                     "verbosity": "low"},
            "reasoning": {"effort": "low"}, "truncation": "auto", "include": ["reasoning.encrypted_content"],
            "metadata": {"k": "v"}, "prompt_cache_key": "p", "service_tier": "auto", "store": false,
            "max_tool_calls": 3, "top_logprobs": 0,
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({
                "model": "gpt-4.1",
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}],
                "max_completion_tokens": 256, "temperature": 0.5, "top_p": 0.9,
                "user": "u-1", "safety_identifier": "s-1",
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                "parallel_tool_calls": false,
                "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                                                            "parameters": schema, "strict": true}}],
                "response_format": {"type": "json_schema",
                                    "json_schema": {"name": "weather", "schema": schema, "strict": true}},
                "stream": true, "stream_options": {"include_usage": true},
            })
        );
    }

    #[test]
    fn formats_and_choices_say_the_same_in_chat() {
        let with = |format: Value| translate(json!({"model": "m", "input": "x", "text": {"format": format}}));
        assert_eq!(with(json!({"type": "text"})).unwrap().get("response_format"), None);
        assert_eq!(
            with(json!({"type": "json_object"})).unwrap()["response_format"],
            json!({"type": "json_object"})
        );
        for choice in ["auto", "none", "required"] {
            let out = translate(json!({"model": "m", "input": "x", "tool_choice": choice,
                                       "tools": [{"type": "function", "name": "f"}]}))
            .unwrap();
            assert_eq!(out["tool_choice"], choice);
            assert_eq!(out["tools"], json!([{"type": "function", "function": {"name": "f"}}]));
        }
        // Without tools, `auto` says nothing chat would take.
        let plain = translate(json!({"model": "m", "input": "x", "tool_choice": "auto",
                                     "parallel_tool_calls": true, "stream": false}))
        .unwrap();
        assert_eq!(
            plain,
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": false})
        );
    }

    #[test]
    fn stored_state_and_hosted_tools_are_refused_naming_the_field() {
        for (field, value, error) in [
            (
                "previous_response_id",
                json!("resp_1"),
                "`previous_response_id` continues a response OpenAI stored; stored state is not translated (agentmux keeps none)",
            ),
            (
                "conversation",
                json!("conv_1"),
                "`conversation` continues a conversation OpenAI stores",
            ),
            (
                "prompt",
                json!({"id": "pmpt_1"}),
                "`prompt` names a prompt template OpenAI stores",
            ),
            (
                "background",
                json!(true),
                "`background`: background responses are stored",
            ),
            (
                "tools",
                json!([{"type": "web_search"}]),
                "`tools[0].type`: `web_search` tools run inside OpenAI's API and are not translated",
            ),
            (
                "tool_choice",
                json!({"type": "file_search"}),
                "`tool_choice`: `file_search` choices are not translated",
            ),
            (
                "text",
                json!({"format": {"type": "json_schema", "schema": {}}}),
                "`text.format.name` is missing",
            ),
            (
                "max_output_tokens",
                json!("many"),
                "`max_output_tokens` must be a whole number",
            ),
            (
                "top_logprobs",
                json!(3),
                "`top_logprobs`: log probabilities are not translated",
            ),
        ] {
            let mut body = json!({"model": "m", "input": "x"});
            body[field] = value;
            let err = translate(body).unwrap_err();
            assert!(err.starts_with(error), "{field}: {err}");
        }
    }
}
