//! OpenAI embeddings as Gemini's `batchEmbedContents`: each input text one request of the
//! batch (each naming the model, as Gemini requires), `dimensions` as `outputDimensionality`;
//! the answer's vectors back in order as OpenAI's `data`. Token arrays (OpenAI lets a client
//! send token ids instead of text) mean nothing to Gemini's tokenizer: refused. `user` is
//! dropped. Gemini answers with lists of floats; `encoding_format: base64`, which the OpenAI
//! SDKs ask for when their caller did not choose, is honoured by [`embeddings_in_base64`] on the
//! translated answer. Gemini does not count an embedding's tokens: the usage says 0 unless the
//! answer carries `usageMetadata`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::super::{given, kind};

pub fn embeddings_request(body: &Map<String, Value>, model: &str) -> Result<Map<String, Value>, String> {
    let texts = inputs(given(body, "input"))?;
    let dimensions = match given(body, "dimensions") {
        Some(d) => Some(
            d.as_u64()
                .filter(|d| *d > 0)
                .ok_or_else(|| format!("`dimensions` must be a whole number above 0, not {d}"))?,
        ),
        None => None,
    };
    let name = if model.starts_with("models/") {
        model.to_string()
    } else {
        format!("models/{model}")
    };
    let requests = texts
        .into_iter()
        .map(|text| {
            let mut request = json!({"model": name, "content": {"parts": [{"text": text}]}});
            if let Some(dimensions) = dimensions {
                request["outputDimensionality"] = json!(dimensions);
            }
            request
        })
        .collect();
    let mut out = Map::new();
    out.insert("requests".into(), Value::Array(requests));
    Ok(out)
}

/// `input`: one string or a list of strings.
fn inputs(input: Option<&Value>) -> Result<Vec<&str>, String> {
    const TOKENS: &str = "token arrays are not translated for Gemini; send text";
    match input {
        Some(Value::String(text)) => Ok(vec![text]),
        Some(Value::Array(list)) if list.is_empty() => Err("`input` must not be an empty list".into()),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(text) => Ok(text.as_str()),
                Value::Number(_) => Err(format!("`input`: {TOKENS}")),
                Value::Array(_) => Err(format!("`input[{i}]`: {TOKENS}")),
                other => Err(format!("`input[{i}]` must be a string, not {}", kind(other))),
            })
            .collect(),
        Some(other) => Err(format!(
            "`input` must be a string or a list of strings, not {}",
            kind(other)
        )),
        None => Err("`input` is missing".into()),
    }
}

pub fn embeddings_response(body: &Value, model: &str) -> Value {
    let data: Vec<Value> = body["embeddings"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, embedding)| json!({"object": "embedding", "index": index, "embedding": embedding["values"]}))
        .collect();
    let tokens = body["usageMetadata"]["promptTokenCount"].as_u64().unwrap_or(0);
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

/// A translated embeddings answer with each vector as OpenAI's base64 form (its 32-bit floats,
/// little-endian), for a client whose request said `encoding_format: "base64"`.
pub fn embeddings_in_base64(answer: &mut Value) {
    for item in answer["data"].as_array_mut().into_iter().flatten() {
        let floats = item["embedding"].as_array().into_iter().flatten();
        // f64 → f32 is the precision OpenAI's base64 form has.
        let bytes: Vec<u8> = floats
            .flat_map(|f| (f.as_f64().unwrap_or(0.0) as f32).to_le_bytes())
            .collect();
        item["embedding"] = json!(STANDARD.encode(bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(body: Value, model: &str) -> Result<Value, String> {
        embeddings_request(body.as_object().unwrap(), model).map(Value::Object)
    }

    #[test]
    fn each_input_is_one_request_of_the_batch() {
        let out = translate(
            json!({"model": "text-embedding-3-small", "input": ["alpha", "beta"], "dimensions": 256,
                   "encoding_format": "base64", "user": "u1"}),
            "gemini-embedding-001",
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "alpha"}]}, "outputDimensionality": 256},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "beta"}]}, "outputDimensionality": 256},
            ]})
        );
        assert_eq!(
            translate(json!({"input": "one"}), "models/text-embedding-004").unwrap(),
            json!({"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "one"}]}}]})
        );
    }

    #[test]
    fn token_arrays_and_other_inputs_are_refused() {
        for (input, error) in [
            (
                json!([101, 2023]),
                "`input`: token arrays are not translated for Gemini; send text",
            ),
            (
                json!(["a", [101, 2023]]),
                "`input[1]`: token arrays are not translated for Gemini; send text",
            ),
            (json!([]), "`input` must not be an empty list"),
            (json!(["a", null]), "`input[1]` must be a string, not null"),
            (
                json!({"text": "a"}),
                "`input` must be a string or a list of strings, not an object",
            ),
            (json!(null), "`input` is missing"),
        ] {
            assert_eq!(translate(json!({"input": input}), "m").unwrap_err(), error);
        }
        assert_eq!(
            translate(json!({"input": "a", "dimensions": "big"}), "m").unwrap_err(),
            "`dimensions` must be a whole number above 0, not \"big\""
        );
    }

    #[test]
    fn vectors_come_back_in_order() {
        let body = json!({"embeddings": [{"values": [0.1, -0.2]}, {"values": [0.3, 0.4]}]});
        assert_eq!(
            embeddings_response(&body, "google/gemini-embedding-001"),
            json!({"object": "list", "model": "google/gemini-embedding-001",
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2]},
                            {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]}],
                   "usage": {"prompt_tokens": 0, "total_tokens": 0}})
        );
        let counted = json!({"embeddings": [{"values": [1.0]}], "usageMetadata": {"promptTokenCount": 5}});
        assert_eq!(
            embeddings_response(&counted, "m")["usage"],
            json!({"prompt_tokens": 5, "total_tokens": 5})
        );
    }

    #[test]
    fn base64_vectors_are_little_endian_f32() {
        let mut answer = embeddings_response(&json!({"embeddings": [{"values": [1.0, -2.5]}]}), "m");
        embeddings_in_base64(&mut answer);
        // 1.0f32 = 00 00 80 3f, -2.5f32 = 00 00 20 c0.
        assert_eq!(
            answer["data"][0]["embedding"],
            STANDARD.encode([0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0])
        );
        assert_eq!(answer["data"][0]["embedding"], "AACAPwAAIMA=");
    }
}
