//! OpenAI `chat.completion.chunk`s as a Responses event stream. Every event is named by its
//! `type` and numbered by `sequence_number` from 0; no `[DONE]` follows the last, as OpenAI
//! sends none.
//!
//! | chat chunk | Responses events |
//! |---|---|
//! | the first chunk with a choice or usage | `response.created`, `response.in_progress` (status `in_progress`, output `[]`) |
//! | `delta.content` (or `delta.refusal`) | once: open calls done, `response.output_item.added` (message), `response.content_part.added` (`output_text` ""); then `response.output_text.delta` |
//! | `delta.tool_calls` at a new index | the open message done, `response.output_item.added` (`function_call`, `arguments` "") |
//! | `function.arguments` pieces | `response.function_call_arguments.delta` |
//! | `finish_reason` | every open item done: `response.output_text.done`, `response.content_part.done` / `response.function_call_arguments.done`, then `response.output_item.done` |
//! | the usage chunk after the finish, or `[DONE]` | `response.completed`, or `response.incomplete` (finish `length` / `content_filter`), with the whole response and its usage |
//! | `{"error": …}` | `error` (`code`, `message`, `param`), then `response.failed` with the output so far; the stream ends there |
//!
//! Items are numbered (`output_index`) in the order they open and close in that order: a text
//! closes before a call opens after it. Calls stay open until the finish, so a server that
//! interleaves the argument pieces of parallel calls still gets each piece to its own call.
//! Chunks before the first choice (Azure's prompt-filter preamble) are skipped; choices other
//! than the first are ignored (the request asked for one).

use serde_json::{Map, Value, json};

use super::super::Out;
use super::super::finish::incomplete_reason;
use super::super::usage::Tokens;
use super::envelope::{Envelope, Status};
use super::response::{function_call_item, message_item, text_part};

/// One output item as written so far.
#[derive(Debug)]
enum Item {
    Message {
        id: String,
        text: String,
        open: bool,
    },
    Call {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        open: bool,
    },
}

#[derive(Debug)]
pub struct Stream {
    /// Identified by the first chunk, which says the answer's id.
    envelope: Envelope,
    started: bool,
    sequence: u64,
    items: Vec<Item>,
    /// The place in `items` of the message being written.
    text: Option<usize>,
    /// (chat tool-call index, place in `items`) of each call so far.
    calls: Vec<(u64, usize)>,
    finish: Option<String>,
    tokens: Option<Tokens>,
    /// The response's last event was sent: nothing more goes out.
    ended: bool,
}

impl Stream {
    /// `model`: as the client asked for it; `request`: the client's request (echoed).
    pub fn new(model: &str, request: &Map<String, Value>) -> Self {
        Stream {
            envelope: Envelope::new(model, request),
            started: false,
            sequence: 0,
            items: Vec::new(),
            text: None,
            calls: Vec::new(),
            finish: None,
            tokens: None,
            ended: false,
        }
    }

    pub fn event(&mut self, data: &str) -> Vec<Out> {
        let data = data.trim();
        if self.ended {
            return Vec::new();
        }
        if data == "[DONE]" {
            return self.end();
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if !chunk["error"].is_null() {
            self.fail(&chunk["error"], &mut out);
            return out;
        }
        let choices = chunk["choices"].as_array().map(Vec::as_slice).unwrap_or_default();
        let usage = chunk.get("usage").filter(|u| u.is_object());
        if !self.started {
            if choices.is_empty() && usage.is_none() {
                return out;
            }
            self.start(
                chunk["id"].as_str().unwrap_or_default(),
                chunk["created"].as_u64(),
                &mut out,
            );
        }
        for choice in choices.iter().filter(|c| c["index"].as_u64().unwrap_or(0) == 0) {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"]
                .as_str()
                .or(delta["refusal"].as_str())
                .filter(|t| !t.is_empty())
            {
                self.text(text, &mut out);
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                self.tool_call(call, &mut out);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finish = Some(reason.to_string());
                self.close_all(&mut out);
            }
        }
        if let Some(usage) = usage {
            self.tokens = Some(Tokens::from_chat(usage));
        }
        if self.finish.is_some() && self.tokens.is_some() {
            self.complete(&mut out);
        }
        out
    }

    /// The chat stream ended: the response's last event if it is still owed.
    pub fn finish(&mut self) -> Vec<Out> {
        if self.ended { Vec::new() } else { self.end() }
    }

    fn emit(&mut self, kind: &'static str, fields: Value, out: &mut Vec<Out>) {
        let mut data = json!({"type": kind, "sequence_number": self.sequence});
        if let (Some(data), Value::Object(fields)) = (data.as_object_mut(), fields) {
            data.extend(fields);
        }
        self.sequence += 1;
        out.push(Out {
            event: Some(kind),
            data: data.to_string(),
        });
    }

    fn start(&mut self, id: &str, created: Option<u64>, out: &mut Vec<Out>) {
        self.started = true;
        self.envelope.identify(id, created);
        let response = self.envelope.object(Status::InProgress, Vec::new(), None);
        self.emit("response.created", json!({"response": response}), out);
        self.emit("response.in_progress", json!({"response": response}), out);
    }

    fn text(&mut self, piece: &str, out: &mut Vec<Out>) {
        let at = match self.text {
            Some(at) => at,
            None => {
                self.close_all(out);
                let at = self.items.len();
                let id = self.envelope.item_id("msg", at);
                let item = json!({"type": "message", "id": id, "status": "in_progress", "role": "assistant",
                                  "content": []});
                self.emit(
                    "response.output_item.added",
                    json!({"output_index": at, "item": item}),
                    out,
                );
                let part = json!({"item_id": id, "output_index": at, "content_index": 0, "part": text_part("")});
                self.emit("response.content_part.added", part, out);
                self.items.push(Item::Message {
                    id,
                    text: String::new(),
                    open: true,
                });
                self.text = Some(at);
                at
            }
        };
        let Some(Item::Message { id, text, .. }) = self.items.get_mut(at) else {
            return;
        };
        text.push_str(piece);
        let delta = json!({"item_id": id, "output_index": at, "content_index": 0, "delta": piece, "logprobs": []});
        self.emit("response.output_text.delta", delta, out);
    }

    fn tool_call(&mut self, call: &Value, out: &mut Vec<Out>) {
        let key = match call["index"].as_u64() {
            Some(key) => key,
            // A server that leaves `index` out: a call with an id is a new one, else the last goes on.
            None if call["id"].is_string() => self.calls.len() as u64,
            None => self.calls.last().map_or(0, |(key, _)| *key),
        };
        let at = match self.calls.iter().find(|(k, _)| *k == key) {
            Some(&(_, at)) => at,
            None => {
                if let Some(text) = self.text.take() {
                    self.close(text, out);
                }
                let at = self.items.len();
                let id = self.envelope.item_id("fc", at);
                let call_id = call["id"].as_str().unwrap_or_default();
                let name = call["function"]["name"].as_str().unwrap_or_default();
                let item = function_call_item(&id, call_id, name, "", "in_progress");
                self.emit(
                    "response.output_item.added",
                    json!({"output_index": at, "item": item}),
                    out,
                );
                self.items.push(Item::Call {
                    id,
                    call_id: call_id.to_string(),
                    name: name.to_string(),
                    arguments: String::new(),
                    open: true,
                });
                self.calls.push((key, at));
                at
            }
        };
        let Some(piece) = call["function"]["arguments"].as_str().filter(|p| !p.is_empty()) else {
            return;
        };
        let Some(Item::Call {
            id, arguments, open, ..
        }) = self.items.get_mut(at)
        else {
            return;
        };
        arguments.push_str(piece);
        // A piece for a call already done (after a text that followed it) is kept for the
        // final response only: a done item takes no more deltas.
        if *open {
            let delta = json!({"item_id": id, "output_index": at, "delta": piece});
            self.emit("response.function_call_arguments.delta", delta, out);
        }
    }

    fn close_all(&mut self, out: &mut Vec<Out>) {
        self.text = None;
        for at in 0..self.items.len() {
            self.close(at, out);
        }
    }

    /// The item at `at` done, if it is still open.
    fn close(&mut self, at: usize, out: &mut Vec<Out>) {
        let cut = self.cut();
        let (events, item) = match self.items.get_mut(at) {
            Some(Item::Message {
                id,
                text,
                open: open @ true,
            }) => {
                *open = false;
                let place = json!({"item_id": id, "output_index": at, "content_index": 0});
                let mut done = place.clone();
                done["text"] = json!(text);
                done["logprobs"] = json!([]);
                let mut part = place;
                part["part"] = text_part(text);
                let events = vec![
                    ("response.output_text.done", done),
                    ("response.content_part.done", part),
                ];
                (events, message_item(id, text, cut))
            }
            Some(Item::Call {
                id,
                call_id,
                name,
                arguments,
                open: open @ true,
            }) => {
                *open = false;
                let done = json!({"item_id": id, "output_index": at, "arguments": arguments});
                let item = function_call_item(id, call_id, name, arguments, "completed");
                (vec![("response.function_call_arguments.done", done)], item)
            }
            _ => return,
        };
        for (kind, fields) in events {
            self.emit(kind, fields, out);
        }
        self.emit(
            "response.output_item.done",
            json!({"output_index": at, "item": item}),
            out,
        );
    }

    /// The answer was cut short (by its token limit or a filter).
    fn cut(&self) -> bool {
        incomplete_reason(self.finish.as_deref()).is_some()
    }

    /// Every item as it stands: open ones are `incomplete`.
    fn output(&self) -> Vec<Value> {
        let cut = self.cut();
        self.items
            .iter()
            .map(|item| match item {
                Item::Message { id, text, open } => message_item(id, text, cut || *open),
                Item::Call {
                    id,
                    call_id,
                    name,
                    arguments,
                    open,
                } => {
                    let status = if *open { "incomplete" } else { "completed" };
                    function_call_item(id, call_id, name, arguments, status)
                }
            })
            .collect()
    }

    /// `response.completed` or `response.incomplete`, with the whole response.
    fn complete(&mut self, out: &mut Vec<Out>) {
        self.close_all(out);
        let reason = incomplete_reason(self.finish.as_deref());
        let status = reason.map_or(Status::Completed, Status::Incomplete);
        let kind = if reason.is_some() {
            "response.incomplete"
        } else {
            "response.completed"
        };
        let output = self.output();
        let tokens = self.tokens.unwrap_or_default();
        let response = self.envelope.object(status, output, Some(tokens));
        self.emit(kind, json!({"response": response}), out);
        self.ended = true;
    }

    fn end(&mut self) -> Vec<Out> {
        let mut out = Vec::new();
        if !self.started {
            self.start("", None, &mut out);
        }
        self.complete(&mut out);
        out
    }

    /// The provider's error (an OpenAI error object): an `error` event, then `response.failed`.
    fn fail(&mut self, error: &Value, out: &mut Vec<Out>) {
        if !self.started {
            self.start("", None, out);
        }
        let field = |key: &str| error[key].as_str().filter(|s| !s.is_empty());
        let message = field("message").unwrap_or("the provider's stream failed");
        let code = field("code").or(field("type"));
        let event = json!({"code": code, "message": message, "param": field("param")});
        self.emit("error", event, out);
        // A response's error code is one of a closed list: a rate limit, or the server's fault.
        let limited = [field("code"), field("type")]
            .iter()
            .flatten()
            .any(|c| c.contains("rate_limit"));
        let code = if limited { "rate_limit_exceeded" } else { "server_error" };
        let failure = Status::Failed(json!({"code": code, "message": message}));
        let (output, tokens) = (self.output(), self.tokens);
        let response = self.envelope.object(failure, output, tokens);
        self.emit("response.failed", json!({"response": response}), out);
        self.ended = true;
    }
}

#[cfg(test)]
mod tests;
