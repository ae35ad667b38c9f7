//! Token counts. Anthropic splits the prompt into `input_tokens` (neither read from nor written
//! to the cache), `cache_read_input_tokens` and `cache_creation_input_tokens`; OpenAI counts the
//! whole prompt in `prompt_tokens`, of which `prompt_tokens_details.cached_tokens` came from
//! the cache (and, in newer answers, `cache_write_tokens` were written to it). So:
//!
//! - Anthropic → OpenAI: `prompt_tokens` = input + cache read + cache creation,
//!   `cached_tokens` = cache read, `cache_write_tokens` = cache creation (only when not 0),
//!   `completion_tokens` = `output_tokens`, `total_tokens` = both.
//! - OpenAI → Anthropic: `cache_read_input_tokens` = `cached_tokens`,
//!   `cache_creation_input_tokens` = `cache_write_tokens` (0 when absent), `input_tokens` =
//!   `prompt_tokens` minus both, `output_tokens` = `completion_tokens`.
//! - Gemini → OpenAI: `promptTokenCount` already holds `cachedContentTokenCount`, and the
//!   answer's tokens are `candidatesTokenCount` plus `thoughtsTokenCount` (the model's thinking,
//!   billed as output): so `prompt_tokens` = `promptTokenCount`, `cached_tokens` =
//!   `cachedContentTokenCount`, `completion_tokens` = candidates + thoughts, of which
//!   `completion_tokens_details.reasoning_tokens` = thoughts. Tokens of tool-use prompts
//!   (`toolUsePromptTokenCount`, for tools Gemini runs itself) are not counted.
//! - Bedrock Converse splits as Anthropic does, in its own words: `inputTokens`,
//!   `cacheReadInputTokens`, `cacheWriteInputTokens`, `outputTokens` (its `totalTokens` is
//!   their sum, recomputed).
//! - OpenAI Responses counts as chat does, in other words: `input_tokens` = the whole prompt,
//!   `input_tokens_details.cached_tokens` / `cache_write_tokens`, `output_tokens`, of which
//!   `output_tokens_details.reasoning_tokens`.

use serde_json::{Value, json};

/// One answer's token counts, in Anthropic's split (which OpenAI's sums can be made of).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Prompt tokens neither read from nor written to the cache.
    pub input: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub output: u64,
    /// Of `output`, the tokens the model spent thinking (OpenAI's `reasoning_tokens`).
    pub reasoning: u64,
}

fn count(value: &Value, key: &str) -> Option<u64> {
    value.get(key).and_then(Value::as_u64)
}

// === impl Tokens ===

impl Tokens {
    /// An Anthropic `usage` object.
    pub fn from_messages(usage: &Value) -> Self {
        let mut tokens = Tokens::default();
        tokens.update(usage);
        tokens
    }

    /// Counts from a later Anthropic `usage` (a stream's message_delta): they are cumulative
    /// totals, so each one given replaces the earlier; one left out keeps its value.
    pub fn update(&mut self, usage: &Value) {
        let fields = [
            ("input_tokens", &mut self.input),
            ("cache_read_input_tokens", &mut self.cache_read),
            ("cache_creation_input_tokens", &mut self.cache_write),
            ("output_tokens", &mut self.output),
        ];
        for (key, field) in fields {
            if let Some(n) = count(usage, key) {
                *field = n;
            }
        }
    }

    /// A Gemini `usageMetadata` object (in a stream, each chunk's is the total so far).
    pub fn from_gemini(usage: &Value) -> Self {
        let prompt = count(usage, "promptTokenCount").unwrap_or(0);
        let cache_read = count(usage, "cachedContentTokenCount").unwrap_or(0);
        let reasoning = count(usage, "thoughtsTokenCount").unwrap_or(0);
        Tokens {
            input: prompt.saturating_sub(cache_read),
            cache_read,
            cache_write: 0,
            output: count(usage, "candidatesTokenCount").unwrap_or(0) + reasoning,
            reasoning,
        }
    }

    /// A Bedrock Converse `usage` object (whole answers, and a stream's `metadata` event).
    pub fn from_converse(usage: &Value) -> Self {
        let count = |key| count(usage, key).unwrap_or(0);
        Tokens {
            input: count("inputTokens"),
            cache_read: count("cacheReadInputTokens"),
            cache_write: count("cacheWriteInputTokens"),
            output: count("outputTokens"),
            reasoning: 0,
        }
    }

    /// An OpenAI `usage` object.
    pub fn from_chat(usage: &Value) -> Self {
        let details = usage.get("prompt_tokens_details").unwrap_or(&Value::Null);
        let cache_read = count(details, "cached_tokens").unwrap_or(0);
        let cache_write = count(details, "cache_write_tokens").unwrap_or(0);
        let prompt = count(usage, "prompt_tokens").unwrap_or(0);
        let completion_details = usage.get("completion_tokens_details").unwrap_or(&Value::Null);
        Tokens {
            input: prompt.saturating_sub(cache_read + cache_write),
            cache_read,
            cache_write,
            output: count(usage, "completion_tokens").unwrap_or(0),
            reasoning: count(completion_details, "reasoning_tokens").unwrap_or(0),
        }
    }

    /// As OpenAI's `usage`.
    pub fn to_chat(self) -> Value {
        let prompt = self.input + self.cache_read + self.cache_write;
        let mut details = json!({"cached_tokens": self.cache_read});
        if self.cache_write > 0 {
            details["cache_write_tokens"] = json!(self.cache_write);
        }
        let mut usage = json!({
            "prompt_tokens": prompt,
            "completion_tokens": self.output,
            "total_tokens": prompt + self.output,
            "prompt_tokens_details": details,
        });
        if self.reasoning > 0 {
            usage["completion_tokens_details"] = json!({"reasoning_tokens": self.reasoning});
        }
        usage
    }

    /// As the Responses API's `usage` (the SDK requires every one of these fields).
    pub fn to_responses(self) -> Value {
        let input = self.input + self.cache_read + self.cache_write;
        json!({
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": self.cache_read, "cache_write_tokens": self.cache_write},
            "output_tokens": self.output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": input + self.output,
        })
    }

    /// As Anthropic's `usage`.
    pub fn to_messages(self) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_usage_sums_into_prompt_tokens() {
        let usage = json!({"input_tokens": 100, "cache_read_input_tokens": 900, "cache_creation_input_tokens": 50,
                           "output_tokens": 20, "service_tier": "standard"});
        assert_eq!(
            Tokens::from_messages(&usage).to_chat(),
            json!({"prompt_tokens": 1050, "completion_tokens": 20, "total_tokens": 1070,
                   "prompt_tokens_details": {"cached_tokens": 900, "cache_write_tokens": 50}})
        );
        let plain = json!({"input_tokens": 12, "output_tokens": 3});
        assert_eq!(
            Tokens::from_messages(&plain).to_chat(),
            json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
                   "prompt_tokens_details": {"cached_tokens": 0}})
        );
    }

    #[test]
    fn openai_usage_splits_out_cached_tokens() {
        let usage = json!({"prompt_tokens": 1000, "completion_tokens": 20, "total_tokens": 1020,
                           "prompt_tokens_details": {"cached_tokens": 900, "audio_tokens": 0},
                           "completion_tokens_details": {"reasoning_tokens": 0}});
        assert_eq!(
            Tokens::from_chat(&usage).to_messages(),
            json!({"input_tokens": 100, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 900,
                   "output_tokens": 20})
        );
        // Without details, all of the prompt was uncached.
        let bare = json!({"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9});
        assert_eq!(
            Tokens::from_chat(&bare),
            Tokens {
                input: 7,
                cache_read: 0,
                cache_write: 0,
                output: 2,
                reasoning: 0
            }
        );
    }

    #[test]
    fn counts_survive_both_round_trips() {
        let tokens = Tokens {
            input: 5,
            cache_read: 7,
            cache_write: 11,
            output: 13,
            reasoning: 3,
        };
        assert_eq!(Tokens::from_chat(&tokens.to_chat()), tokens);
        let anthropic = Tokens { reasoning: 0, ..tokens };
        assert_eq!(Tokens::from_messages(&tokens.to_messages()), anthropic);
    }

    #[test]
    fn chat_usage_reads_as_responses_usage() {
        let usage = json!({"prompt_tokens": 1050, "completion_tokens": 20, "total_tokens": 1070,
                           "prompt_tokens_details": {"cached_tokens": 900, "cache_write_tokens": 50},
                           "completion_tokens_details": {"reasoning_tokens": 8}});
        assert_eq!(
            Tokens::from_chat(&usage).to_responses(),
            json!({"input_tokens": 1050, "input_tokens_details": {"cached_tokens": 900, "cache_write_tokens": 50},
                   "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 8}, "total_tokens": 1070})
        );
    }

    #[test]
    fn gemini_usage_counts_thoughts_as_completion_and_cache_as_prompt() {
        let usage = json!({"promptTokenCount": 120, "candidatesTokenCount": 30, "cachedContentTokenCount": 100,
                           "thoughtsTokenCount": 25, "totalTokenCount": 175,
                           "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 120}]});
        assert_eq!(
            Tokens::from_gemini(&usage).to_chat(),
            json!({"prompt_tokens": 120, "completion_tokens": 55, "total_tokens": 175,
                   "prompt_tokens_details": {"cached_tokens": 100},
                   "completion_tokens_details": {"reasoning_tokens": 25}})
        );
        assert_eq!(
            Tokens::from_gemini(&json!({"promptTokenCount": 4, "candidatesTokenCount": 2})).to_chat(),
            json!({"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6,
                   "prompt_tokens_details": {"cached_tokens": 0}})
        );
    }

    #[test]
    fn converse_usage_sums_into_prompt_tokens() {
        let usage = json!({"inputTokens": 100, "outputTokens": 20, "totalTokens": 1070,
                           "cacheReadInputTokens": 900, "cacheWriteInputTokens": 50});
        assert_eq!(
            Tokens::from_converse(&usage).to_chat(),
            json!({"prompt_tokens": 1050, "completion_tokens": 20, "total_tokens": 1070,
                   "prompt_tokens_details": {"cached_tokens": 900, "cache_write_tokens": 50}})
        );
        assert_eq!(Tokens::from_converse(&json!(null)), Tokens::default());
    }

    #[test]
    fn a_later_delta_replaces_only_the_counts_it_gives() {
        let mut tokens = Tokens::from_messages(&json!({"input_tokens": 25, "cache_read_input_tokens": 4,
                                                       "output_tokens": 1}));
        tokens.update(&json!({"output_tokens": 15}));
        assert_eq!(
            tokens,
            Tokens {
                input: 25,
                cache_read: 4,
                cache_write: 0,
                output: 15,
                reasoning: 0
            }
        );
        tokens.update(&json!({"input_tokens": 30, "output_tokens": 16}));
        assert_eq!(
            tokens,
            Tokens {
                input: 30,
                cache_read: 4,
                cache_write: 0,
                output: 16,
                reasoning: 0
            }
        );
    }
}
