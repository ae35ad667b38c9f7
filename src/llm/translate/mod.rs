//! Translation between OpenAI's Chat Completions API and Anthropic's Messages API, both ways:
//! requests, whole responses, error bodies and streams. Pure functions over `serde_json`
//! values: no I/O, no configuration. The caller picks the [`Way`] from the route the client
//! called and the provider it reaches, and keeps headers, statuses and SSE framing to itself.
//! Google's Gemini API and Amazon Bedrock's Converse API are reached through chat: their
//! tables are in `chat_to_gemini` and `chat_to_converse`. What a chat request says is read once
//! for every provider in `chat_request`, and chat streams are written once in `chat_chunks`.
//!
//! What maps, and what does not:
//!
//! | OpenAI Chat Completions | Anthropic Messages | Notes |
//! |---|---|---|
//! | `system` / `developer` messages | `system` | several joined with `"\n\n"`, hoisted from wherever they stand |
//! | `user` text and `text` parts | `text` blocks | |
//! | `image_url` part, `data:<media>;base64,…` | `image`, `source: {type: base64}` | http(s) URLs ↔ `source: {type: url}`; `detail` dropped |
//! | `file` part, `file_data` PDF data URL | `document`, base64 PDF source | `filename` ↔ `title`; `file_id` refused |
//! | assistant `tool_calls` | `tool_use` blocks | `arguments` (JSON text) ↔ `input` (object); bad JSON refused |
//! | `tool` messages | `tool_result` blocks in a user message | consecutive results merged; `is_error` dropped |
//! | consecutive messages of one role | one message | Anthropic requires alternating roles |
//! | `max_completion_tokens` / `max_tokens` | `max_tokens` | 4096 when the client gave none (Anthropic requires it); back as `max_completion_tokens` |
//! | `temperature`, `top_p` | same | passed as they are (above 1, Anthropic's own 400 answers) |
//! | `stop` (string or list) | `stop_sequences` | |
//! | `tools` (function) | `tools` (custom) | `parameters` ↔ `input_schema`, `strict` kept |
//! | `tool_choice` auto / none / required / function | `{type: auto / none / any / tool}` | |
//! | `parallel_tool_calls: false` | `tool_choice.disable_parallel_tool_use: true` | |
//! | `user` (else `safety_identifier`) | `metadata.user_id` | |
//! | `response_format` json_schema | `output_config.format` json_schema | json_object refused (no equivalent) |
//! | `stream` | `stream` | `stream_options` consumed; MessagesToChat asks for `include_usage` |
//! | `finish_reason` | `stop_reason` | table in `finish.rs` |
//! | `usage` | `usage` | cached and cache-written tokens count as prompt tokens; `usage.rs` |
//! | errors | errors | type by the provider's type or status, message kept; `errors.rs` |
//!
//! Refused (the caller answers 400 with the message, which names the field): `n` > 1,
//! `logprobs`, `top_logprobs`, `audio` and audio `modalities`, `input_audio` parts, `file_id`
//! files, legacy `functions` / `function_call` / `function` messages, custom tools,
//! `allowed_tools` choices, `web_search_options`, `response_format: json_object`; from Anthropic:
//! server tools (web search, bash …), `mcp_servers`, image and document sources other than
//! base64 and URL, images inside tool results, and history blocks OpenAI has no word for.
//!
//! Dropped, because they tune how an answer is made rather than what it says, or exist on one
//! side only: OpenAI `frequency_penalty`, `presence_penalty`, `logit_bias`, `seed`,
//! `service_tier`, `store`, `metadata`, `prediction`, `prompt_cache_*`, `reasoning_effort`,
//! `verbosity`, `moderation`, message `name`s; Anthropic `top_k`, `thinking`,
//! `output_config.effort`, `cache_control`, `service_tier`, `container`, `context_management`,
//! `inference_geo`, `speed`. Anthropic `thinking` / `redacted_thinking` blocks have no place in
//! Chat Completions: dropped from answers and streams, and from history sent to OpenAI. Fields
//! neither side knows are never passed on.

mod chat_chunks;
mod chat_request;
mod chat_to_converse;
mod chat_to_gemini;
mod chat_to_messages;
mod errors;
mod finish;
mod media;
mod messages_to_chat;
mod usage;

#[cfg(test)]
mod tests;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// Which API the client speaks and which the provider does. Anthropic clients reach Gemini and
/// Bedrock through Chat Completions: their requests are put into chat first, and the provider's
/// answers come back through chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// The client speaks OpenAI chat completions, the provider Anthropic messages.
    ChatToMessages,
    /// The client speaks Anthropic messages, the provider OpenAI chat completions.
    MessagesToChat,
    /// Chat completions to Gemini's `generateContent`.
    ChatToGemini,
    /// Anthropic messages to Gemini's `generateContent`, through chat.
    MessagesToGemini,
    /// OpenAI embeddings to Gemini's `batchEmbedContents`.
    EmbeddingsToGemini,
    /// Chat completions to Bedrock's Converse.
    ChatToConverse,
    /// Anthropic messages to Bedrock's Converse, through chat.
    MessagesToConverse,
}

/// The client's request body (its `model` already replaced by the provider's model name) in the
/// provider's API. Err: a request that cannot be said in the provider's API (e.g. `n` > 1 to
/// Anthropic, an audio part), with a message naming the field — the caller answers 400.
pub fn request(way: Way, body: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    match way {
        Way::ChatToMessages => chat_to_messages::request(body),
        Way::MessagesToChat => messages_to_chat::request(body),
        Way::ChatToGemini => chat_to_gemini::request(body),
        Way::MessagesToGemini => chat_to_gemini::request(&messages_to_chat::request(body)?),
        Way::EmbeddingsToGemini => {
            let model = body.get("model").and_then(Value::as_str).unwrap_or_default();
            chat_to_gemini::embeddings_request(body, model)
        }
        Way::ChatToConverse => chat_to_converse::request(body),
        Way::MessagesToConverse => chat_to_converse::request(&messages_to_chat::request(body)?),
    }
}

/// The provider's whole successful answer in the client's API. `model`: the model name the
/// client asked for (echoed back in the answer's `model`).
pub fn response(way: Way, body: &Value, model: &str) -> Value {
    match way {
        Way::ChatToMessages => chat_to_messages::response(body, model),
        Way::MessagesToChat => messages_to_chat::response(body, model),
        Way::ChatToGemini => chat_to_gemini::response(body, model),
        Way::MessagesToGemini => messages_to_chat::response(&chat_to_gemini::response(body, model), model),
        Way::EmbeddingsToGemini => chat_to_gemini::embeddings_response(body, model),
        Way::ChatToConverse => chat_to_converse::response(body, model),
        Way::MessagesToConverse => messages_to_chat::response(&chat_to_converse::response(body, model), model),
    }
}

/// A translated embeddings answer with each vector as OpenAI's base64 of little-endian f32s,
/// for a client that asked for `encoding_format: "base64"` (the OpenAI Node SDK always does).
pub fn embeddings_as_base64(answer: &mut Value) {
    chat_to_gemini::embeddings_in_base64(answer);
}

/// The provider's error answer (status, body bytes as received; `error_type`: Bedrock's
/// `x-amzn-ErrorType`, its part before `:`) in the client's API's error shape, keeping the
/// provider's message. The status itself is the caller's to keep or change.
pub fn error(way: Way, status: u16, error_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    match way {
        Way::ChatToMessages => errors::to_chat(status, body),
        Way::MessagesToChat => errors::to_messages(status, body),
        Way::ChatToGemini | Way::EmbeddingsToGemini => chat_to_gemini::error(status, body),
        Way::MessagesToGemini => errors::to_messages(status, &chat_to_gemini::error(status, body)),
        Way::ChatToConverse => chat_to_converse::error(status, error_type, body),
        Way::MessagesToConverse => errors::to_messages(status, &chat_to_converse::error(status, error_type, body)),
    }
}

/// One event for the client: for Anthropic clients with its SSE `event:` name, for OpenAI
/// clients `data:` only (`[DONE]` is data `"[DONE]"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Out {
    pub event: Option<&'static str>,
    pub data: String,
}

/// A stream's events translated as they come; one per stream.
#[derive(Debug)]
pub struct Stream(Inner);

/// What turns the provider's events into chat chunks, for the providers reached through chat.
#[derive(Debug)]
enum ToChat {
    Gemini(chat_to_gemini::Stream),
    Converse(chat_to_converse::Stream),
}

#[derive(Debug)]
enum Inner {
    ChatToMessages(chat_to_messages::Stream),
    MessagesToChat(messages_to_chat::Stream),
    /// Gemini or Converse events as chat chunks, for an OpenAI client.
    Chat(ToChat),
    /// Gemini or Converse events as chat chunks, then as Anthropic events.
    Messages(ToChat, messages_to_chat::Stream),
}

// === impl ToChat ===

impl ToChat {
    fn event(&mut self, name: &str, data: &str) -> Vec<Out> {
        match self {
            Self::Gemini(stream) => stream.event(name, data),
            Self::Converse(stream) => stream.event(name, data),
        }
    }

    fn finish(&mut self) -> Vec<Out> {
        match self {
            Self::Gemini(stream) => stream.finish(),
            Self::Converse(stream) => stream.finish(),
        }
    }
}

/// Chat chunks on to an Anthropic client.
fn on_to_messages(chunks: Vec<Out>, messages: &mut messages_to_chat::Stream) -> Vec<Out> {
    chunks.iter().flat_map(|chunk| messages.event(&chunk.data)).collect()
}

// === impl Stream ===

impl Stream {
    /// `model`: as the client asked for it. `include_usage`: the OpenAI client asked for
    /// `stream_options.include_usage` (then a final usage chunk with empty `choices` is sent
    /// before `[DONE]`; an Anthropic client always gets its usage).
    pub fn new(way: Way, model: &str, include_usage: bool) -> Self {
        let gemini = |usage| ToChat::Gemini(chat_to_gemini::Stream::new(model, usage));
        let converse = |usage| ToChat::Converse(chat_to_converse::Stream::new(model, usage));
        let messages = || messages_to_chat::Stream::new(model);
        Stream(match way {
            Way::ChatToMessages => Inner::ChatToMessages(chat_to_messages::Stream::new(model, include_usage)),
            Way::MessagesToChat => Inner::MessagesToChat(messages()),
            Way::ChatToGemini | Way::EmbeddingsToGemini => Inner::Chat(gemini(include_usage)),
            Way::MessagesToGemini => Inner::Messages(gemini(true), messages()),
            Way::ChatToConverse => Inner::Chat(converse(include_usage)),
            Way::MessagesToConverse => Inner::Messages(converse(true), messages()),
        })
    }

    /// One provider event (SSE `event:` name or event-stream `:event-type`, "" if none, and
    /// its `data`) → the client's events, in order (possibly none).
    pub fn event(&mut self, name: &str, data: &str) -> Vec<Out> {
        match &mut self.0 {
            Inner::ChatToMessages(stream) => stream.event(name, data),
            Inner::MessagesToChat(stream) => stream.event(data),
            Inner::Chat(stream) => stream.event(name, data),
            Inner::Messages(stream, messages) => on_to_messages(stream.event(name, data), messages),
        }
    }

    /// The provider's stream ended: anything still owed to the client (OpenAI clients:
    /// `data: [DONE]` if not sent yet; Anthropic clients: message_delta/message_stop if the
    /// provider never sent a finish).
    pub fn finish(&mut self) -> Vec<Out> {
        match &mut self.0 {
            Inner::ChatToMessages(stream) => stream.finish(),
            Inner::MessagesToChat(stream) => stream.finish(),
            Inner::Chat(stream) => stream.finish(),
            Inner::Messages(stream, messages) => {
                let mut out = on_to_messages(stream.finish(), messages);
                out.extend(messages.finish());
                out
            }
        }
    }
}

// === helpers both ways share ===

/// Seconds since the epoch, for OpenAI's `created`. A clock before 1970 says 0.
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A field that is present and not `null`.
fn given<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// A value's JSON type, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
