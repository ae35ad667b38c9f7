//! A Gemini `streamGenerateContent?alt=sse` stream as OpenAI `chat.completion.chunk`s. Each
//! SSE event is a whole `GenerateContentResponse` holding the next piece of each candidate.
//!
//! | Gemini chunk | OpenAI chunks |
//! |---|---|
//! | a candidate seen for the first time | `delta: {role: assistant, content: ""}` |
//! | its text parts | `delta: {content}` |
//! | its `functionCall` parts | `delta.tool_calls: [{index, id, type, function: {name, arguments}}]`, whole |
//! | `thought` parts | nothing |
//! | its `finishReason` | `delta: {}` and the `finish_reason` |
//! | `promptFeedback.blockReason`, no candidates | an empty choice with `finish_reason: content_filter` |
//! | `usageMetadata` | kept (each is the total so far) for the usage chunk |
//! | the stream's end | a `finish_reason` for a choice still without one, the usage chunk (`choices: []`) if asked for, then `[DONE]` |
//! | `{"error": …}` | `{"error": {…}}`, and the stream ends there (no `[DONE]`) |
//! | data that is not JSON | nothing |
//!
//! Gemini sends a function call whole, so its arguments go out in the delta that names it. A
//! tool call's `index` counts the tool calls of its choice from 0, as OpenAI's does. Every
//! chunk carries the first chunk's `responseId` (or a new id when Gemini gave none).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::Out;
use super::super::chat_chunks::Chunks;
use super::super::errors::gemini_chat_stream_error;
use super::super::finish::gemini_finish_reason;
use super::super::usage::Tokens;
use super::response::{Said, answer_id, index_of};

#[derive(Debug)]
pub struct Stream {
    chunks: Chunks,
    tokens: Tokens,
    /// The choices begun so far, by index.
    choices: BTreeMap<u64, Progress>,
    /// `[DONE]` or an error was sent: nothing more goes out.
    ended: bool,
}

/// How far one choice has come.
#[derive(Debug, Default)]
struct Progress {
    /// Tool calls sent so far; the next one's `index`.
    calls: u64,
    finished: bool,
}

// === impl Stream ===

impl Stream {
    pub fn new(model: &str, include_usage: bool) -> Self {
        Stream {
            chunks: Chunks::new(model, include_usage),
            tokens: Tokens::default(),
            choices: BTreeMap::new(),
            ended: false,
        }
    }

    /// `name`: Gemini's events have none.
    pub fn event(&mut self, _name: &str, data: &str) -> Vec<Out> {
        if self.ended {
            return Vec::new();
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        if chunk.get("error").is_some() {
            self.ended = true;
            return vec![Out {
                event: None,
                data: gemini_chat_stream_error(&chunk).to_string(),
            }];
        }
        if self.chunks.id().is_empty() {
            self.chunks.set_id(answer_id(&chunk));
        }
        if chunk["usageMetadata"].is_object() {
            self.tokens = Tokens::from_gemini(&chunk["usageMetadata"]);
        }
        let mut out = Vec::new();
        let candidates = chunk["candidates"].as_array().filter(|c| !c.is_empty());
        match candidates {
            Some(candidates) => {
                for (position, candidate) in candidates.iter().enumerate() {
                    self.candidate(index_of(position, candidate), candidate, &mut out);
                }
            }
            None if chunk["promptFeedback"]["blockReason"].is_string() => {
                self.begin(0, &mut out);
                self.end_choice(0, "content_filter", &mut out);
            }
            None => {}
        }
        out
    }

    pub fn finish(&mut self) -> Vec<Out> {
        if self.ended {
            return Vec::new();
        }
        if self.chunks.id().is_empty() {
            self.chunks.set_id(answer_id(&Value::Null));
        }
        let mut out = Vec::new();
        // A stream cut short, or that said nothing at all, still ends each choice.
        if self.choices.is_empty() {
            self.begin(0, &mut out);
        }
        let open: Vec<(u64, u64)> = self
            .choices
            .iter()
            .filter(|(_, progress)| !progress.finished)
            .map(|(index, progress)| (*index, progress.calls))
            .collect();
        for (index, calls) in open {
            self.end_choice(index, gemini_finish_reason(None, calls > 0), &mut out);
        }
        self.ended = true;
        out.extend(self.chunks.end(self.tokens));
        out
    }

    /// One candidate's piece: its text, its calls, its finish.
    fn candidate(&mut self, index: u64, candidate: &Value, out: &mut Vec<Out>) {
        self.begin(index, out);
        if self.choices.get(&index).is_some_and(|p| p.finished) {
            return;
        }
        let said = Said::of(candidate);
        if let Some(text) = said.text.filter(|t| !t.is_empty()) {
            out.push(self.chunks.delta(index, json!({"content": text}), None));
        }
        if !said.calls.is_empty() {
            let progress = self.choices.entry(index).or_default();
            let calls: Vec<Value> = said
                .calls
                .into_iter()
                .map(|call| {
                    let index = progress.calls;
                    progress.calls += 1;
                    json!({"index": index, "id": call["id"], "type": "function", "function": call["function"]})
                })
                .collect();
            out.push(self.chunks.delta(index, json!({"tool_calls": calls}), None));
        }
        if let Some(reason) = candidate["finishReason"].as_str() {
            let called = self.choices.get(&index).is_some_and(|p| p.calls > 0);
            self.end_choice(index, gemini_finish_reason(Some(reason), called), out);
        }
    }

    /// The role chunk, the first time a choice is seen.
    fn begin(&mut self, index: u64, out: &mut Vec<Out>) {
        if self.choices.contains_key(&index) {
            return;
        }
        self.choices.insert(index, Progress::default());
        out.push(
            self.chunks
                .delta(index, json!({"role": "assistant", "content": ""}), None),
        );
    }

    fn end_choice(&mut self, index: u64, reason: &str, out: &mut Vec<Out>) {
        let progress = self.choices.entry(index).or_default();
        if !progress.finished {
            progress.finished = true;
            out.push(self.chunks.delta(index, json!({}), Some(reason)));
        }
    }
}

#[cfg(test)]
mod tests;
