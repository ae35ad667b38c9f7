//! Translation between OpenAI's Chat Completions API and Anthropic's Messages API, both ways:
//! requests, whole responses, error bodies and streams. Pure functions over `serde_json`
//! values: no I/O, no configuration. The caller picks the [`Way`] from the route the client
//! called and the provider it reaches, and keeps headers, statuses and SSE framing to itself.
//! Google's Gemini API and Amazon Bedrock's Converse API are reached through chat: their
//! tables are in `chat_to_gemini` and `chat_to_converse`. OpenAI Responses clients reach every
//! provider that does not speak Responses through chat too: its table is in
//! `responses_to_chat`. What a chat request says is read once for every provider in
//! `chat_request`, and chat streams are written once in `chat_chunks`.
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
mod responses_to_chat;
mod usage;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// Which API the client speaks and which the provider does. Chat Completions is the hub: a
/// client that speaks another API (Anthropic messages, OpenAI Responses) has its request put
/// into chat first, then into the provider's API when that is not chat; answers come back the
/// same way.
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
    /// Anthropic's `count_tokens` to Gemini's `countTokens`, through chat.
    CountTokensToGemini,
    /// Chat completions to Bedrock's Converse.
    ChatToConverse,
    /// Anthropic messages to Bedrock's Converse, through chat.
    MessagesToConverse,
    /// The client speaks OpenAI Responses, the provider chat completions.
    ResponsesToChat,
    /// OpenAI Responses to Anthropic messages, through chat.
    ResponsesToMessages,
    /// OpenAI Responses to Gemini's `generateContent`, through chat.
    ResponsesToGemini,
    /// OpenAI Responses to Bedrock's Converse, through chat.
    ResponsesToConverse,
}

/// The API a client speaks, as a way's first half (to chat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Chat,
    Messages,
    Responses,
}

/// The API a provider speaks, as a way's second half (from chat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Chat,
    Messages,
    Gemini,
    Converse,
}

// === impl Way ===

impl Way {
    /// The two halves a generation way is made of; None for embeddings.
    fn halves(self) -> Option<(Client, Provider)> {
        Some(match self {
            Way::ChatToMessages => (Client::Chat, Provider::Messages),
            Way::MessagesToChat => (Client::Messages, Provider::Chat),
            Way::ChatToGemini => (Client::Chat, Provider::Gemini),
            Way::MessagesToGemini => (Client::Messages, Provider::Gemini),
            Way::ChatToConverse => (Client::Chat, Provider::Converse),
            Way::MessagesToConverse => (Client::Messages, Provider::Converse),
            Way::ResponsesToChat => (Client::Responses, Provider::Chat),
            Way::ResponsesToMessages => (Client::Responses, Provider::Messages),
            Way::ResponsesToGemini => (Client::Responses, Provider::Gemini),
            Way::ResponsesToConverse => (Client::Responses, Provider::Converse),
            Way::EmbeddingsToGemini | Way::CountTokensToGemini => return None,
        })
    }
}

/// The client's request body (its `model` already replaced by the provider's model name) in the
/// provider's API. Err: a request that cannot be said in the provider's API (e.g. `n` > 1 to
/// Anthropic, an audio part), with a message naming the field — the caller answers 400.
pub fn request(way: Way, body: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let Some((client, provider)) = way.halves() else {
        let model = body.get("model").and_then(Value::as_str).unwrap_or_default();
        if way == Way::CountTokensToGemini {
            // The request that would be sent, counted: Gemini names it with its model.
            let mut generate = chat_to_gemini::request(&messages_to_chat::request(body)?)?;
            generate.insert("model".into(), Value::String(format!("models/{model}")));
            let mut count = Map::new();
            count.insert("generateContentRequest".into(), Value::Object(generate));
            return Ok(count);
        }
        return chat_to_gemini::embeddings_request(body, model);
    };
    let chat = match client {
        Client::Chat => Cow::Borrowed(body),
        Client::Messages => Cow::Owned(messages_to_chat::request(body)?),
        Client::Responses => Cow::Owned(responses_to_chat::request(body)?),
    };
    match provider {
        Provider::Chat => Ok(chat.into_owned()),
        Provider::Messages => chat_to_messages::request(&chat),
        Provider::Gemini => chat_to_gemini::request(&chat),
        Provider::Converse => chat_to_converse::request(&chat),
    }
}

/// The provider's whole successful answer in the client's API. `model`: the model name the
/// client asked for (echoed back in the answer's `model`); `request`: the client's request as
/// it sent it (a Responses answer echoes its settings).
pub fn response(way: Way, body: &Value, model: &str, request: &Map<String, Value>) -> Value {
    let Some((client, provider)) = way.halves() else {
        if way == Way::CountTokensToGemini {
            return serde_json::json!({"input_tokens": body["totalTokens"].as_u64().unwrap_or(0)});
        }
        return chat_to_gemini::embeddings_response(body, model);
    };
    let chat = match provider {
        Provider::Chat => Cow::Borrowed(body),
        Provider::Messages => Cow::Owned(chat_to_messages::response(body, model)),
        Provider::Gemini => Cow::Owned(chat_to_gemini::response(body, model)),
        Provider::Converse => Cow::Owned(chat_to_converse::response(body, model)),
    };
    match client {
        Client::Chat => chat.into_owned(),
        Client::Messages => messages_to_chat::response(&chat, model),
        Client::Responses => responses_to_chat::response(&chat, model, request),
    }
}

/// A translated embeddings answer with each vector as OpenAI's base64 of little-endian f32s,
/// for a client that asked for `encoding_format: "base64"` (the OpenAI Node SDK always does).
pub fn embeddings_as_base64(answer: &mut Value) {
    chat_to_gemini::embeddings_in_base64(answer);
}

/// The provider's error answer (status, body bytes as received; `error_type`: Bedrock's
/// `x-amzn-ErrorType`, its part before `:`) in the client's API's error shape, keeping the
/// provider's message. The status itself is the caller's to keep or change. Responses clients
/// read OpenAI's error shape, as chat clients do.
pub fn error(way: Way, status: u16, error_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let Some((client, provider)) = way.halves() else {
        let chat = chat_to_gemini::error(status, body);
        return match way {
            Way::CountTokensToGemini => errors::to_messages(status, &chat),
            _ => chat,
        };
    };
    let chat = match provider {
        Provider::Chat => body.to_vec(),
        Provider::Messages => errors::to_chat(status, body),
        Provider::Gemini => chat_to_gemini::error(status, body),
        Provider::Converse => chat_to_converse::error(status, error_type, body),
    };
    match client {
        Client::Chat | Client::Responses => chat,
        Client::Messages => errors::to_messages(status, &chat),
    }
}

/// One event for the client: for Anthropic and Responses clients with its SSE `event:` name,
/// for chat clients `data:` only (`[DONE]` is data `"[DONE]"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Out {
    pub event: Option<&'static str>,
    pub data: String,
}

/// A stream's events translated as they come; one per stream. Chat chunks are the middle: the
/// provider's events are turned into them (unless the provider speaks chat), and they are
/// turned into the client's events (unless the client speaks chat).
#[derive(Debug)]
pub struct Stream {
    to_chat: Option<ToChat>,
    from_chat: Option<FromChat>,
}

/// What turns the provider's events into chat chunks.
#[derive(Debug)]
enum ToChat {
    Messages(chat_to_messages::Stream),
    Gemini(chat_to_gemini::Stream),
    Converse(chat_to_converse::Stream),
}

/// What turns chat chunks into the client's events.
#[derive(Debug)]
enum FromChat {
    Messages(messages_to_chat::Stream),
    Responses(responses_to_chat::Stream),
}

// === impl ToChat ===

impl ToChat {
    fn event(&mut self, name: &str, data: &str) -> Vec<Out> {
        match self {
            Self::Messages(stream) => stream.event(name, data),
            Self::Gemini(stream) => stream.event(name, data),
            Self::Converse(stream) => stream.event(name, data),
        }
    }

    fn finish(&mut self) -> Vec<Out> {
        match self {
            Self::Messages(stream) => stream.finish(),
            Self::Gemini(stream) => stream.finish(),
            Self::Converse(stream) => stream.finish(),
        }
    }
}

// === impl FromChat ===

impl FromChat {
    fn event(&mut self, chunk: &str) -> Vec<Out> {
        match self {
            Self::Messages(stream) => stream.event(chunk),
            Self::Responses(stream) => stream.event(chunk),
        }
    }

    fn finish(&mut self) -> Vec<Out> {
        match self {
            Self::Messages(stream) => stream.finish(),
            Self::Responses(stream) => stream.finish(),
        }
    }

    /// Chat chunks on to the client.
    fn chunks(&mut self, chunks: Vec<Out>) -> Vec<Out> {
        chunks.iter().flat_map(|chunk| self.event(&chunk.data)).collect()
    }
}

// === impl Stream ===

impl Stream {
    /// `model`: as the client asked for it. `include_usage`: the chat client asked for
    /// `stream_options.include_usage` (then a final usage chunk with empty `choices` is sent
    /// before `[DONE]`; Anthropic and Responses clients always get their usage). `request`: the
    /// client's request as it sent it (a Responses stream's last event echoes its settings).
    pub fn new(way: Way, model: &str, include_usage: bool, request: &Map<String, Value>) -> Self {
        let Some((client, provider)) = way.halves() else {
            // Embeddings and token counts are never streamed.
            return Stream {
                to_chat: None,
                from_chat: None,
            };
        };
        // The chat chunks carry usage when the client reads it in chat, or when a translation
        // from chat needs it for the client's own last event.
        let usage = client != Client::Chat || include_usage;
        let to_chat = match provider {
            Provider::Chat => None,
            Provider::Messages => Some(ToChat::Messages(chat_to_messages::Stream::new(model, usage))),
            Provider::Gemini => Some(ToChat::Gemini(chat_to_gemini::Stream::new(model, usage))),
            Provider::Converse => Some(ToChat::Converse(chat_to_converse::Stream::new(model, usage))),
        };
        let from_chat = match client {
            Client::Chat => None,
            Client::Messages => Some(FromChat::Messages(messages_to_chat::Stream::new(model))),
            Client::Responses => Some(FromChat::Responses(responses_to_chat::Stream::new(model, request))),
        };
        Stream { to_chat, from_chat }
    }

    /// One provider event (SSE `event:` name or event-stream `:event-type`, "" if none, and
    /// its `data`) → the client's events, in order (possibly none).
    pub fn event(&mut self, name: &str, data: &str) -> Vec<Out> {
        let chunks = match &mut self.to_chat {
            Some(to_chat) => to_chat.event(name, data),
            None => vec![Out {
                event: None,
                data: data.to_string(),
            }],
        };
        match &mut self.from_chat {
            Some(from_chat) => from_chat.chunks(chunks),
            None => chunks,
        }
    }

    /// The provider's stream ended: anything still owed to the client (chat clients:
    /// `data: [DONE]` if not sent yet; Anthropic clients: message_delta/message_stop, Responses
    /// clients: `response.completed`, if the provider never sent a finish).
    pub fn finish(&mut self) -> Vec<Out> {
        let chunks = self.to_chat.as_mut().map(ToChat::finish).unwrap_or_default();
        match &mut self.from_chat {
            Some(from_chat) => {
                let mut out = from_chat.chunks(chunks);
                out.extend(from_chat.finish());
                out
            }
            None => chunks,
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
