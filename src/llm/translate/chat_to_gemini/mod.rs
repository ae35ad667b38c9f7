//! The client speaks OpenAI Chat Completions (and embeddings), the provider Google's Gemini API
//! (`models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:batchEmbedContents`):
//! requests go from chat to Gemini, answers and streams come back from Gemini to chat. The
//! model and whether to stream are said in the URL, so neither is in the translated body.
//!
//! | OpenAI Chat Completions | Gemini | Notes |
//! |---|---|---|
//! | `system` / `developer` messages | `systemInstruction.parts[0].text` | several joined with `"\n\n"`, hoisted from wherever they stand |
//! | `user` / `assistant` messages | `contents` with role `user` / `model` | consecutive turns of one role merged; empty assistant turns left out |
//! | `text` parts, refusals in history | `text` parts | |
//! | `image_url` part, `data:<media>;base64,…` | `inlineData {mimeType, data}` | `detail` dropped |
//! | `image_url` part, http(s) URL | `fileData {fileUri, mimeType}` | type guessed from the extension, else left for Gemini to read |
//! | `file` part, `file_data` PDF data URL | `inlineData`, `application/pdf` | `filename` dropped; `file_id` refused |
//! | `input_audio` part, wav / mp3 | `inlineData`, `audio/wav` / `audio/mp3` | |
//! | assistant `tool_calls` | `functionCall {name, args}` parts | `arguments` (JSON text) → `args` (object); bad JSON refused |
//! | `tool` messages | `functionResponse {name, response}` parts in a user turn | name looked up by `tool_call_id`; a JSON-object result as it is, other text as `{"content": text}`; consecutive results merged |
//! | tool-call `id` | `functionCall.id`, `thoughtSignature` | Gemini's id kept, else `call_…`; Gemini 3's signature rides in the id (`call_id.rs`) |
//! | `tools` (function) | `tools[0].functionDeclarations` | `parameters` → `parametersJsonSchema` (any JSON Schema); `strict` dropped |
//! | `tool_choice` auto / none / required / function | `toolConfig.functionCallingConfig.mode` AUTO / NONE / ANY / ANY + `allowedFunctionNames` | only sent with tools |
//! | `max_completion_tokens` / `max_tokens` | `generationConfig.maxOutputTokens` | the first given |
//! | `temperature`, `top_p`, `seed` | `temperature`, `topP`, `seed` | passed as they are (out of range, Gemini's own 400 answers) |
//! | `presence_penalty`, `frequency_penalty` | `presencePenalty`, `frequencyPenalty` | |
//! | `stop` (string or list) | `stopSequences` | |
//! | `n` | `candidateCount` | each candidate a choice |
//! | `response_format` json_object / json_schema | `responseMimeType: application/json` (+ `responseJsonSchema`) | |
//! | `finish_reason` | `finishReason` | table in `finish.rs`; `STOP` with function calls → `tool_calls` |
//! | `usage` | `usageMetadata` | thinking tokens count as completion and `reasoning_tokens`; `usage.rs` |
//! | errors | `{"error": {code, message, status}}` | type by the RPC status, message kept; `errors.rs` |
//! | embeddings `input`, `dimensions` | `requests[].content`, `outputDimensionality` | `embeddings.rs` |
//!
//! Refused (the caller answers 400 with the message, which names the field): `logprobs`,
//! `top_logprobs`, `audio` and audio `modalities`, `file_id` files, audio other than wav and
//! mp3, legacy `functions` / `function_call` / `function` messages, custom tools and
//! `allowed_tools` choices, `web_search_options`, a tool message whose `tool_call_id` no
//! earlier call has; for embeddings, token arrays.
//!
//! Dropped, because they tune how an answer is made rather than what it says, or exist on one
//! side only: `parallel_tool_calls` (Gemini has no switch), `logit_bias`, `user`,
//! `safety_identifier`, `service_tier`, `store`, `metadata`, `prediction`, `prompt_cache_*`,
//! `reasoning_effort`, `verbosity`, `stream_options` (the caller's), message `name`s. From
//! Gemini: `thought` parts (thinking summaries), `executableCode` / `codeExecutionResult`
//! parts, safety ratings, citation and grounding metadata, `avgLogprobs`, `modelVersion`.

mod call_id;
mod conversation;
mod embeddings;
mod request;
mod response;
mod stream;

pub use embeddings::{embeddings_in_base64, embeddings_request, embeddings_response};
pub use request::request;
pub use response::response;
pub use stream::Stream;

/// A Gemini error body (`{"error": {"code", "message", "status"}}`) as OpenAI's error shape,
/// the message kept.
pub fn error(status: u16, body: &[u8]) -> Vec<u8> {
    super::errors::gemini_to_chat(status, body)
}

#[cfg(test)]
mod tests;
