//! Token estimates, which limits admit a request on and policies read as
//! `context.estimated_tokens`. For OpenAI's own models (served by `openai` or `azure-openai`
//! entries) the text is counted with OpenAI's tokenizer (tiktoken: `o200k_base` for the GPT-4o,
//! GPT-4.1, GPT-5 and o-series families, `cl100k_base` for GPT-4, GPT-3.5 and the embedding
//! models), plus the 3 tokens OpenAI adds per message and 3 to prime the answer. Every other
//! model gets the documented approximation of a token per 4 bytes of text (`request.rs`), as
//! does base64 image and file data, which providers do not count as text.
//!
//! A tokenizer's tables take ~45 MiB and ~0.1 s to load, and counting costs ~80 µs per 1000
//! tokens, so agentmux counts only when something reads the estimate: a token limit or a policy
//! set. The tables are loaded once, in the background at start-up.

use serde_json::{Map, Value};
use tiktoken_rs::CoreBPE;

use crate::config::ProviderKind;

/// Keys whose strings are data, not text: counted by bytes.
const DATA: [&str; 3] = ["data", "url", "file_data"];
/// Request fields that hold the prompt.
const FIELDS: [&str; 6] = ["messages", "system", "input", "prompt", "tools", "instructions"];

/// One of OpenAI's tokenizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    O200k,
    Cl100k,
}

impl Encoding {
    /// The tokenizer of `model` when an entry of `kind` serves it; `None`: not an OpenAI model.
    pub fn of(kind: ProviderKind, model: &str) -> Option<Self> {
        if !matches!(kind, ProviderKind::Openai | ProviderKind::AzureOpenai) {
            return None;
        }
        const O200K: [&str; 7] = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3"];
        const CL100K: [&str; 3] = ["gpt-4", "gpt-3.5", "text-embedding-"];
        if O200K.iter().any(|p| model.starts_with(p)) || model.starts_with("o4") {
            Some(Self::O200k)
        } else if CL100K.iter().any(|p| model.starts_with(p)) {
            Some(Self::Cl100k)
        } else {
            None
        }
    }

    fn tokenizer(self) -> &'static CoreBPE {
        match self {
            Self::O200k => tiktoken_rs::o200k_base_singleton(),
            Self::Cl100k => tiktoken_rs::cl100k_base_singleton(),
        }
    }

    /// Loads the tables on a blocking thread, so the first request does not wait for them.
    pub fn warm(self) {
        std::thread::spawn(move || {
            self.tokenizer();
        });
    }

    /// Input tokens of a request body.
    pub fn count(self, body: &Map<String, Value>) -> u64 {
        let tokenizer = self.tokenizer();
        let mut tokens = 0;
        for field in FIELDS {
            if let Some(value) = body.get(field) {
                tokens += count_value(tokenizer, value, false);
            }
        }
        let messages = body.get("messages").and_then(Value::as_array).map_or(0, Vec::len) as u64;
        if messages > 0 {
            tokens += 3 * messages + 3;
        }
        tokens
    }
}

fn count_value(tokenizer: &CoreBPE, value: &Value, data: bool) -> u64 {
    match value {
        Value::String(s) if data => (s.len() as u64).div_ceil(4),
        Value::String(s) => tokenizer.encode_ordinary(s).len() as u64,
        Value::Array(items) => items.iter().map(|v| count_value(tokenizer, v, data)).sum(),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| count_value(tokenizer, v, data || DATA.contains(&k.as_str())))
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn openai_models_get_openai_tokenizers() {
        assert_eq!(
            Encoding::of(ProviderKind::Openai, "gpt-4.1-mini"),
            Some(Encoding::O200k)
        );
        assert_eq!(Encoding::of(ProviderKind::AzureOpenai, "gpt-4o"), Some(Encoding::O200k));
        assert_eq!(Encoding::of(ProviderKind::Openai, "o4-mini"), Some(Encoding::O200k));
        assert_eq!(
            Encoding::of(ProviderKind::Openai, "gpt-4-turbo"),
            Some(Encoding::Cl100k)
        );
        assert_eq!(
            Encoding::of(ProviderKind::Openai, "text-embedding-3-small"),
            Some(Encoding::Cl100k)
        );
        assert_eq!(
            Encoding::of(ProviderKind::OpenaiCompatible, "gpt-4o"),
            None,
            "a local server's own model"
        );
        assert_eq!(Encoding::of(ProviderKind::Anthropic, "claude-sonnet-4-5"), None);
        assert_eq!(Encoding::of(ProviderKind::Openai, "davinci-002"), None);
    }

    #[test]
    fn counts_text_with_the_tokenizer_and_data_by_bytes() {
        // "hello world" is 2 tokens in o200k_base; 2 messages add 3 each, and 3 prime the answer.
        let body = json!({"messages": [
            {"role": "user", "content": "hello world"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAAAAAA"}}]},
        ]});
        let counted = Encoding::O200k.count(body.as_object().unwrap());
        // roles: "user" ×2 (1 each); "image_url" as a type string (2); the URL: 30 bytes → 8.
        let expected = 2 + 1 + 1 + 2 + 8 + 3 * 2 + 3;
        assert_eq!(counted, expected);
    }
}
