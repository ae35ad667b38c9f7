//! An OpenAI chat completions request as a Gemini `generateContent` request. The table of what
//! maps, what is refused and what is dropped is in the module's documentation.

use serde_json::{Map, Value, json};

use super::super::chat_request::{self, Choice, Format};
use super::super::given;
use super::conversation;

pub fn request(body: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    refuse(body)?;
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default();
    let (system, contents) = conversation::translate(body.get("messages"), model)?;
    let mut out = Map::new();
    out.insert("contents".into(), Value::Array(contents));
    if let Some(system) = system {
        out.insert("systemInstruction".into(), json!({"parts": [{"text": system}]}));
    }
    let declarations = given(body, "tools").map(declarations).transpose()?.unwrap_or_default();
    if !declarations.is_empty() {
        out.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
        if let Some(choice) = given(body, "tool_choice") {
            out.insert("toolConfig".into(), tool_config(choice)?);
        }
    }
    let config = generation_config(body)?;
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    Ok(out)
}

/// Fields that change what the answer is and that are not translated for Gemini.
fn refuse(body: &Map<String, Value>) -> Result<(), String> {
    chat_request::refuse(body, "Gemini")
}

/// OpenAI function tools as Gemini function declarations. Their parameters go as
/// `parametersJsonSchema`, which takes any JSON Schema (`parameters` takes only Gemini's
/// OpenAPI subset and refuses e.g. `additionalProperties`). `strict` has no equivalent.
fn declarations(tools: &Value) -> Result<Vec<Value>, String> {
    let functions = chat_request::functions(tools)?;
    Ok(functions
        .into_iter()
        .map(|function| {
            let mut declaration = json!({"name": function.name});
            if let Some(description) = function.description {
                declaration["description"] = json!(description);
            }
            if let Some(parameters) = function.parameters {
                declaration["parametersJsonSchema"] = parameters.clone();
            }
            declaration
        })
        .collect())
}

/// `tool_choice` as `toolConfig.functionCallingConfig`; one named function is `ANY` call
/// restricted to it.
fn tool_config(choice: &Value) -> Result<Value, String> {
    let config = match chat_request::tool_choice(choice)? {
        Choice::Auto => json!({"mode": "AUTO"}),
        Choice::None => json!({"mode": "NONE"}),
        Choice::Required => json!({"mode": "ANY"}),
        Choice::Function(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
    };
    Ok(json!({"functionCallingConfig": config}))
}

/// The sampling and output fields, as `generationConfig`.
fn generation_config(body: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut config = Map::new();
    if let Some(max) = chat_request::max_tokens(body)? {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    for (key, gemini) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ] {
        if let Some(value) = given(body, key) {
            config.insert(gemini.into(), value.clone());
        }
    }
    if let Some(n) = given(body, "n") {
        let count = n.as_u64().filter(|n| *n > 0);
        let count = count.ok_or_else(|| format!("`n` must be a whole number above 0, not {n}"))?;
        config.insert("candidateCount".into(), json!(count));
    }
    if let Some(stop) = given(body, "stop") {
        config.insert("stopSequences".into(), chat_request::stop_sequences(stop)?);
    }
    match given(body, "response_format")
        .map(chat_request::response_format)
        .transpose()?
    {
        None | Some(Format::Text) => {}
        Some(Format::JsonObject) => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        // `responseJsonSchema` takes any JSON Schema; `responseSchema` only the OpenAPI subset.
        Some(Format::JsonSchema(schema)) => {
            config.insert("responseMimeType".into(), json!("application/json"));
            config.insert("responseJsonSchema".into(), schema.clone());
        }
    }
    Ok(config)
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
            "model": "gemini-2.5-flash",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}],
            "max_completion_tokens": 300, "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "stop": "END",
            "n": 2, "seed": 7, "presence_penalty": 0.1, "frequency_penalty": 0.5,
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                       "parameters": schema, "strict": true}},
                      {"type": "function", "function": {"name": "now"}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": false, "user": "user-42", "stream": true,
            "stream_options": {"include_usage": true}, "store": true, "logit_bias": {"50256": -100},
            "reasoning_effort": "low", "logprobs": false, "future_field": {"x": 1},
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({
                "contents": [{"role": "user", "parts": [{"text": "Weather?"}]}],
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "tools": [{"functionDeclarations": [
                    {"name": "get_weather", "description": "Current weather", "parametersJsonSchema": schema},
                    {"name": "now"}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
                "generationConfig": {"maxOutputTokens": 300, "temperature": 0.2, "topP": 0.9, "seed": 7,
                                     "presencePenalty": 0.1, "frequencyPenalty": 0.5, "candidateCount": 2,
                                     "stopSequences": ["END"]},
            })
        );
    }

    #[test]
    fn a_plain_request_has_only_contents() {
        let out = translate(
            json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi"}],
                                   "max_tokens": null, "tool_choice": "auto"}),
        )
        .unwrap();
        assert_eq!(out, json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}));
    }

    #[test]
    fn tool_choices_map_to_calling_modes() {
        for (choice, expected) in [
            (json!("auto"), json!({"mode": "AUTO"})),
            (json!("none"), json!({"mode": "NONE"})),
            (json!("required"), json!({"mode": "ANY"})),
            (
                json!({"type": "function", "function": {"name": "f"}}),
                json!({"mode": "ANY", "allowedFunctionNames": ["f"]}),
            ),
        ] {
            assert_eq!(
                tool_config(&choice).unwrap(),
                json!({"functionCallingConfig": expected}),
                "{choice}"
            );
        }
    }

    #[test]
    fn response_formats_set_the_mime_type_and_schema() {
        let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
                            "additionalProperties": false});
        for (format, expected) in [
            (
                json!({"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": schema}}),
                json!({"generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}}),
            ),
            (
                json!({"type": "json_object"}),
                json!({"generationConfig": {"responseMimeType": "application/json"}}),
            ),
            (json!({"type": "text"}), json!({})),
        ] {
            let out = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                       "response_format": format}))
            .unwrap();
            let mut expected = expected;
            expected["contents"] = json!([{"role": "user", "parts": [{"text": "x"}]}]);
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn what_gemini_is_not_asked_is_refused_naming_the_field() {
        for (field, value, error) in [
            (
                "logprobs",
                json!(true),
                "`logprobs`: Gemini does not return log probabilities",
            ),
            (
                "top_logprobs",
                json!(3),
                "`top_logprobs`: Gemini does not return log probabilities",
            ),
            (
                "modalities",
                json!(["text", "audio"]),
                "`modalities`: Gemini does not answer with audio",
            ),
            (
                "audio",
                json!({"voice": "alloy", "format": "wav"}),
                "`audio`: Gemini does not answer with audio",
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
            ("n", json!(0), "`n` must be a whole number above 0, not 0"),
            (
                "tools",
                json!([{"type": "custom", "custom": {"name": "grammar"}}]),
                "`tools[0].type`: `custom` tools are not translated",
            ),
            (
                "response_format",
                json!({"type": "json_schema", "json_schema": {"name": "x"}}),
                "`response_format.json_schema.schema` is missing",
            ),
            (
                "max_completion_tokens",
                json!(-1),
                "`max_completion_tokens` must be a whole number",
            ),
            (
                "stop",
                json!([1]),
                "`stop` must be a string or a list of strings, not a list",
            ),
        ] {
            let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
            body[field] = value;
            let err = translate(body).unwrap_err();
            assert!(err.starts_with(error), "{field}: {err}");
        }
        let mut choice = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                "tools": [{"type": "function", "function": {"name": "f"}}]});
        choice["tool_choice"] = json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}});
        assert_eq!(
            translate(choice).unwrap_err(),
            "`tool_choice`: `allowed_tools` choices are not translated"
        );
    }
}
