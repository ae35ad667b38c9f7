//! An OpenAI chat completions request as an Anthropic messages request. The table of what maps,
//! what is refused and what is dropped is in the `translate` module's documentation.

use serde_json::{Map, Value, json};

use super::super::chat_request::{self, Choice, Format};
use super::super::given;
use super::conversation;

/// Anthropic requires `max_tokens`; OpenAI lets the model run to its limit. A client that set
/// none gets this many, enough for most answers and within every current Claude model's cap.
const DEFAULT_MAX_TOKENS: u64 = 4096;

pub fn request(body: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    refuse(body, "Anthropic")?;
    let mut out = Map::new();
    if let Some(model) = body.get("model") {
        out.insert("model".into(), model.clone());
    }
    out.insert("max_tokens".into(), max_tokens(body)?);
    let (system, messages) = conversation::translate(body.get("messages"))?;
    if let Some(system) = system {
        out.insert("system".into(), json!(system));
    }
    out.insert("messages".into(), Value::Array(messages));
    for key in ["temperature", "top_p"] {
        if let Some(value) = given(body, key) {
            out.insert(key.into(), value.clone());
        }
    }
    if let Some(stop) = given(body, "stop") {
        out.insert("stop_sequences".into(), chat_request::stop_sequences(stop)?);
    }
    let tools = given(body, "tools").map(tools).transpose()?.unwrap_or_default();
    let serial = given(body, "parallel_tool_calls") == Some(&Value::Bool(false));
    if let Some(choice) = tool_choice(given(body, "tool_choice"), serial, !tools.is_empty())? {
        out.insert("tool_choice".into(), choice);
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(user) = ["user", "safety_identifier"]
        .into_iter()
        .find_map(|k| given(body, k).filter(|u| u.is_string()))
    {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    if let Some(stream) = given(body, "stream") {
        out.insert("stream".into(), stream.clone());
    }
    if let Some(format) = given(body, "response_format").map(output_format).transpose()?.flatten() {
        out.insert("output_config".into(), json!({"format": format}));
    }
    Ok(out)
}

/// Fields that change what the answer is and that the `provider` (named in the message)
/// cannot honour: those no translation carries, and more than one choice.
pub(in crate::llm::translate) fn refuse(body: &Map<String, Value>, provider: &str) -> Result<(), String> {
    if let Some(n) = given(body, "n").filter(|n| n.as_u64() != Some(1)) {
        return Err(format!("`n`: {provider} answers with one choice; {n} were asked for"));
    }
    chat_request::refuse(body, provider)
}

fn max_tokens(body: &Map<String, Value>) -> Result<Value, String> {
    Ok(json!(chat_request::max_tokens(body)?.unwrap_or(DEFAULT_MAX_TOKENS)))
}

/// OpenAI function tools as Anthropic custom tools.
pub(in crate::llm::translate) fn tools(tools: &Value) -> Result<Vec<Value>, String> {
    let functions = chat_request::functions(tools)?;
    Ok(functions
        .into_iter()
        .map(|function| {
            let mut custom = json!({"name": function.name});
            if let Some(description) = function.description {
                custom["description"] = json!(description);
            }
            // A function without parameters takes none; Anthropic requires a schema all the same.
            custom["input_schema"] = function
                .parameters
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            if let Some(strict) = function.strict {
                custom["strict"] = json!(strict);
            }
            custom
        })
        .collect())
}

/// `tool_choice`, with `parallel_tool_calls: false` (`serial`) said as Anthropic says it.
pub(in crate::llm::translate) fn tool_choice(
    choice: Option<&Value>,
    serial: bool,
    has_tools: bool,
) -> Result<Option<Value>, String> {
    let mut out = match choice.map(chat_request::tool_choice).transpose()? {
        None if serial && has_tools => json!({"type": "auto"}),
        None => return Ok(None),
        Some(Choice::Auto) => json!({"type": "auto"}),
        Some(Choice::None) => json!({"type": "none"}),
        Some(Choice::Required) => json!({"type": "any"}),
        Some(Choice::Function(name)) => json!({"type": "tool", "name": name}),
    };
    // Anthropic's `none` takes no such flag: with no tool call there is nothing to serialize.
    if serial && out["type"] != "none" {
        out["disable_parallel_tool_use"] = json!(true);
    }
    Ok(Some(out))
}

/// `response_format` as `output_config.format`; plain text needs none.
fn output_format(format: &Value) -> Result<Option<Value>, String> {
    match chat_request::response_format(format)? {
        Format::Text => Ok(None),
        Format::JsonSchema(schema) => Ok(Some(json!({"type": "json_schema", "schema": schema}))),
        Format::JsonObject => Err(
            "`response_format`: `json_object` is not translated (Anthropic has no JSON mode \
                                   without a schema); use `json_schema`"
                .into(),
        ),
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
            "model": "claude-sonnet-4-5",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}],
            "max_completion_tokens": 300, "temperature": 0.2, "top_p": 0.9, "stop": "END",
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                       "strict": true}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": false, "user": "user-42", "stream": true,
            "stream_options": {"include_usage": true}, "seed": 7, "frequency_penalty": 0.5, "store": true,
            "reasoning_effort": "low", "n": 1, "logprobs": false, "future_field": {"x": 1},
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({
                "model": "claude-sonnet-4-5", "max_tokens": 300, "system": "Be brief.",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather?"}]}],
                "temperature": 0.2, "top_p": 0.9, "stop_sequences": ["END"],
                "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true},
                "tools": [{"name": "get_weather", "description": "Current weather",
                           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                           "strict": true}],
                "metadata": {"user_id": "user-42"}, "stream": true,
            })
        );
    }

    #[test]
    fn max_tokens_comes_from_either_field_or_the_default() {
        let base = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        for (field, value, expected) in [
            (None, json!(null), 4096),
            (Some("max_tokens"), json!(50), 50),
            (Some("max_completion_tokens"), json!(60), 60),
            (Some("max_tokens"), json!(null), 4096),
        ] {
            let mut body = base.clone();
            if let Some(field) = field {
                body[field] = value;
            }
            assert_eq!(translate(body).unwrap()["max_tokens"], expected);
        }
        let mut both = base.clone();
        both["max_tokens"] = json!(10);
        both["max_completion_tokens"] = json!(20);
        assert_eq!(translate(both).unwrap()["max_tokens"], 20);
    }

    #[test]
    fn tool_choices_map_to_anthropic_types() {
        for (choice, serial, expected) in [
            (json!("auto"), false, json!({"type": "auto"})),
            (json!("none"), false, json!({"type": "none"})),
            (json!("required"), false, json!({"type": "any"})),
            (
                json!({"type": "function", "function": {"name": "f"}}),
                false,
                json!({"type": "tool", "name": "f"}),
            ),
            (
                json!("required"),
                true,
                json!({"type": "any", "disable_parallel_tool_use": true}),
            ),
            (json!("none"), true, json!({"type": "none"})),
            (
                json!(null),
                true,
                json!({"type": "auto", "disable_parallel_tool_use": true}),
            ),
        ] {
            let out = tool_choice(Some(&choice).filter(|c| !c.is_null()), serial, true).unwrap();
            assert_eq!(out, Some(expected), "{choice} {serial}");
        }
        assert_eq!(tool_choice(None, false, true).unwrap(), None);
        assert_eq!(tool_choice(None, true, false).unwrap(), None);
    }

    #[test]
    fn stop_lists_pass_and_a_tool_without_parameters_takes_none() {
        let out = translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": ["a", "b"],
                                   "tools": [{"type": "function", "function": {"name": "now"}}]}),
        )
        .unwrap();
        assert_eq!(out["stop_sequences"], json!(["a", "b"]));
        assert_eq!(
            out["tools"],
            json!([{"name": "now", "input_schema": {"type": "object", "properties": {}}}])
        );
    }

    #[test]
    fn a_json_schema_format_becomes_output_config() {
        let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
                            "additionalProperties": false});
        let out = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": schema}}}))
        .unwrap();
        assert_eq!(
            out["output_config"],
            json!({"format": {"type": "json_schema", "schema": schema}})
        );
        let text = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                    "response_format": {"type": "text"}}))
        .unwrap();
        assert!(text.get("output_config").is_none());
    }

    #[test]
    fn the_safety_identifier_stands_in_for_user() {
        let out = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                   "safety_identifier": "hash-1"}))
        .unwrap();
        assert_eq!(out["metadata"], json!({"user_id": "hash-1"}));
    }

    #[test]
    fn what_anthropic_cannot_do_is_refused_naming_the_field() {
        for (field, value, error) in [
            (
                "n",
                json!(2),
                "`n`: Anthropic answers with one choice; 2 were asked for",
            ),
            (
                "logprobs",
                json!(true),
                "`logprobs`: Anthropic does not return log probabilities",
            ),
            (
                "top_logprobs",
                json!(3),
                "`top_logprobs`: Anthropic does not return log probabilities",
            ),
            (
                "audio",
                json!({"voice": "alloy", "format": "wav"}),
                "`audio`: Anthropic does not answer with audio",
            ),
            (
                "modalities",
                json!(["text", "audio"]),
                "`modalities`: Anthropic does not answer with audio",
            ),
            (
                "functions",
                json!([{"name": "f"}]),
                "`functions`: legacy functions are not translated; use `tools`",
            ),
            (
                "web_search_options",
                json!({}),
                "`web_search_options`: web search is not translated",
            ),
            (
                "response_format",
                json!({"type": "json_object"}),
                "`response_format`: `json_object` is not translated",
            ),
            (
                "tools",
                json!([{"type": "custom", "custom": {"name": "grammar"}}]),
                "`tools[0].type`: `custom` tools are not translated",
            ),
            (
                "tool_choice",
                json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}),
                "`tool_choice`: `allowed_tools` choices are not translated",
            ),
            ("max_tokens", json!("lots"), "`max_tokens` must be a whole number"),
            (
                "stop",
                json!(7),
                "`stop` must be a string or a list of strings, not a number",
            ),
        ] {
            let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
            body[field] = value;
            let err = translate(body).unwrap_err();
            assert!(err.starts_with(error), "{field}: {err}");
        }
    }
}
