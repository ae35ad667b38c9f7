//! The client speaks OpenAI's Responses API, the provider Chat Completions: requests go from
//! responses to chat, answers and streams come back from chat to responses. Anthropic, Gemini
//! and Bedrock are reached from here through chat (the `translate` module composes the two).
//!
//! What maps, and what does not:
//!
//! | OpenAI Responses | OpenAI Chat Completions | Notes |
//! |---|---|---|
//! | `instructions` | a leading `system` message | |
//! | `input` as a string | one `user` message | |
//! | `message` items (typed or not) | messages of the same role | `developer` and `system` kept; their text parts joined with a blank line |
//! | `input_text` / `output_text` parts | `text` parts | one text alone as a plain string |
//! | `input_image` (`image_url`, `detail`) | `image_url` part | `file_id` refused |
//! | `input_file` (`file_data`, `filename`, `file_id`) | `file` part | `file_url` refused |
//! | assistant history (`output_text`, `refusal` parts) | assistant `content` | |
//! | `function_call` items | the assistant message's `tool_calls` | consecutive calls (and the text before them) in one message |
//! | `function_call_output` items | `tool` messages | text output only |
//! | `reasoning` items | — | dropped: chat cannot take thinking back |
//! | `tools` (`function`, flat) | `tools` (`function`, nested) | `strict` only when given |
//! | `tool_choice` auto / none / required / `{type: function, name}` | the same in chat's shape | |
//! | `max_output_tokens` | `max_completion_tokens` | |
//! | `temperature`, `top_p`, `parallel_tool_calls`, `user`, `safety_identifier` | the same | |
//! | `text.format` json_schema / json_object / text | `response_format` json_schema / json_object / none | |
//! | `stream` | `stream`, `stream_options.include_usage` | the final event carries the usage |
//! | `chat.completion` | `response` | `resp_…` from the chat id; `status` `completed`, or `incomplete` for `length` (`max_output_tokens`) and `content_filter` |
//! | message content (or refusal) | a `message` item with one `output_text` part | |
//! | `tool_calls` | `function_call` items (`fc_…`, `call_id`) | |
//! | `usage` | `usage` | `input_tokens` = prompt tokens, cached and cache-written among them; `usage.rs` |
//! | errors | errors | the same shape (OpenAI's); a stream's error is an `error` event, then `response.failed` |
//!
//! Refused (the caller answers 400 with the message, which names the field): what needs state
//! OpenAI stores and agentmux does not (`previous_response_id`, `conversation`, `prompt`
//! templates, `background`, `item_reference` items); tools OpenAI runs itself (web search, file
//! search, computer use, code interpreter, image generation, MCP, shell …) and choices of them;
//! input items other than messages, function calls, their outputs and reasoning; image
//! `file_id`s, file URLs, audio; non-text function outputs; `top_logprobs`.
//!
//! Dropped, because they tune how an answer is made or only mean something to OpenAI's own
//! service: `reasoning`, `truncation`, `include`, `metadata` (echoed in the answer, not sent),
//! `prompt_cache_key`, `prompt_cache_retention`, `service_tier`, `store` (nothing is stored: the
//! answer says `store: false`), `max_tool_calls`, `stream_options`, `text.verbosity`, item
//! `id`s and `status`es. Fields the Responses API does not know are never passed on.
//!
//! Answers echo the request's settings (`instructions`, `tools`, `tool_choice`,
//! `parallel_tool_calls`, `temperature`, `top_p`, `text`, `metadata` …) as OpenAI's do; the
//! `model` is the one the client asked for.

mod conversation;
mod envelope;
mod request;
mod response;
mod stream;

#[cfg(test)]
mod tests;

pub use request::request;
pub use response::response;
pub use stream::Stream;
