//! The client speaks OpenAI Chat Completions, the provider Amazon Bedrock's Converse API:
//! requests go from chat to Converse, answers, errors and event streams come back.
//!
//! The conversation is first put as Anthropic says it (the `chat_to_messages` rules: system
//! hoisted, roles merged, tool results first, empty messages left out; Converse asks for the
//! same), then each block in Converse's words. The model and `stream` are not in a Converse
//! body: the caller puts them in the URL (`/model/{id}/converse[-stream]`).
//!
//! | OpenAI Chat Completions | Bedrock Converse | Notes |
//! |---|---|---|
//! | `system` / `developer` messages | `system: [{text}]` | several joined with `"\n\n"`, hoisted |
//! | `user` text and `text` parts | `{text}` blocks | |
//! | `image_url` part, `data:image/…;base64,…` | `{image: {format, source: {bytes}}}` | png, jpeg, gif, webp; http(s) URLs refused (Converse takes bytes or S3); `detail` dropped |
//! | `file` part, `file_data` PDF data URL | `{document: {format: pdf, name, source: {bytes}}}` | `filename` → `name`, cut to the characters Converse allows; `file_id` refused |
//! | assistant `tool_calls` | `{toolUse: {toolUseId, name, input}}` | `arguments` (JSON text) → `input` (object); bad JSON refused |
//! | `tool` messages | `{toolResult: {toolUseId, content}}` in a user message | a JSON object as `[{json}]`, other text as `[{text}]` |
//! | consecutive messages of one role | one message | Converse requires alternating roles |
//! | `max_completion_tokens` / `max_tokens` | `inferenceConfig.maxTokens` | left to the model when not given |
//! | `temperature`, `top_p`, `stop` | `inferenceConfig.temperature`, `topP`, `stopSequences` | passed as they are (out of range, Bedrock's own 400 answers) |
//! | `tools` (function) | `toolConfig.tools[].toolSpec` | `parameters` → `inputSchema.json`, `strict` kept |
//! | `tool_choice` auto / required / function | `toolConfig.toolChoice` `{auto}` / `{any}` / `{tool: {name}}` | `none`: below |
//! | `response_format` json_schema | `outputConfig.textFormat` json_schema | schema sent as JSON text, as Converse wants it; json_object refused |
//! | `stream`, `stream_options` | the URL | `include_usage` is the stream translator's |
//! | `finish_reason` | `stopReason` | `guardrail_intervened`, `content_filtered` → `content_filter`; `finish.rs` |
//! | `usage` | `usage` | cache reads and writes count as prompt tokens; `usage.rs` |
//! | errors | `{message}` + `x-amzn-ErrorType` | type by Bedrock's type, else the status; `errors.rs` |
//!
//! `tool_choice: none` has no Converse word. Tools are then not offered (no `toolConfig`), unless
//! the history holds tool calls or results: Converse refuses those without a `toolConfig`, so
//! the tools go along with the model left to choose (`auto`). A history with tool calls and no
//! `tools` at all gets the tools it names declared, each taking any object, for the same reason.
//!
//! Refused (the caller answers 400 with the message, which names the field): what Anthropic
//! refuses too (`n` > 1, `logprobs`, `top_logprobs`, `audio`, audio `modalities` and parts,
//! `file_id` files, legacy functions, custom tools, `allowed_tools`, `web_search_options`,
//! `response_format: json_object`), and images by URL.
//!
//! Dropped: `parallel_tool_calls` (Converse has no switch), `user` / `safety_identifier`,
//! `frequency_penalty`, `presence_penalty`, `logit_bias`, `seed`, `service_tier`, `store`,
//! `metadata`, `prediction`, `prompt_cache_*`, `reasoning_effort`, `verbosity`, message `name`s
//! and tool results' error flag. From answers and streams: `reasoningContent` blocks and deltas
//! (Chat Completions has no place for them), citations, guardrail traces, `metrics`.

mod conversation;
mod request;
mod response;
mod stream;

use super::errors;

pub use request::request;
pub use response::response;
pub use stream::Stream;

/// A Bedrock error answer as OpenAI's, the message kept. `error_type`: the part of the
/// `x-amzn-ErrorType` header before its `:` (`ThrottlingException`), if it came with one.
pub fn error(status: u16, error_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    errors::converse_to_chat(status, error_type, body)
}
