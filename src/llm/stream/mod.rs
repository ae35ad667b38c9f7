//! An answer streamed back event by event, as each arrives: its token usage read on the way,
//! translated into the client's API when the provider speaks another, and passed through the
//! answer guards. Nothing is gathered: each provider event becomes the client's events at once
//! (a guard holds back at most what a finding could grow into).
//!
//! The audit line is written when the stream ends, however it ends: finished, broken off, cut by
//! a guard, or dropped because the client went away.
//!
//! A stream with nothing to translate or guard takes a shorter way (`passing.rs`): its bytes go
//! out as they came, cut only at event boundaries.

mod passing;

use std::pin::Pin;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use eventsource_stream::Event;
use futures_util::{FutureExt, Stream, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use super::api::Family;
use super::guards::{Rejected, StreamGuard};
use super::record::{Ended, OnEnd};
use super::translate;
use crate::egress::eventstream;
use crate::egress::http_client::describe;
use crate::egress::sse_bound::{StreamErrors, events};

/// The largest single event read from a provider.
const MAX_EVENT_BYTES: usize = 32 * 1024 * 1024;
/// Events already arrived are gathered into one write up to this size.
const GATHER_BYTES: usize = 64 * 1024;

/// How a provider frames its stream's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Server-sent events (`text/event-stream`): OpenAI, Anthropic, Gemini.
    Sse,
    /// AWS event-stream messages (`application/vnd.amazon.eventstream`): Bedrock.
    AwsEventStream,
}

impl Framing {
    /// The framing of a streamed `response`; `None` for an answer that is not a stream.
    pub fn of(response: &reqwest::Response) -> Option<Self> {
        let content_type = response.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
        if content_type.starts_with("text/event-stream") {
            Some(Self::Sse)
        } else if content_type.starts_with("application/vnd.amazon.eventstream") {
            Some(Self::AwsEventStream)
        } else {
            None
        }
    }
}

/// How one stream is relayed.
pub struct Shape {
    pub family: Family,
    /// `<entry>/<model>`, for messages.
    pub model: String,
    pub total: Duration,
    pub started: Instant,
    /// Usage-only chunks that agentmux, not the client, asked for are kept back.
    pub strip_usage: bool,
    pub translator: Option<translate::Stream>,
    pub guard: Option<StreamGuard>,
}

/// The client's response for the provider's stream (its body's `bytes`).
pub fn relay(
    bytes: impl Stream<Item = Result<Bytes, reqwest::Error>> + Send + Unpin + 'static,
    framing: Framing,
    headers: HeaderMap,
    shape: Shape,
    ended: Ended,
    on_end: OnEnd,
) -> Response {
    let name = shape.model.clone();
    let bytes = bytes.map(move |c| c.map_err(|e| format!("`{name}`: the stream broke off: {}", describe(&e))));
    let finish = Finish {
        ended: Some(ended),
        on_end: Some(on_end),
    };
    let body = if framing == Framing::Sse && shape.translator.is_none() && shape.guard.is_none() {
        let passing = passing::Passing::new(Box::pin(bytes), shape, finish);
        Body::from_stream(futures_util::stream::unfold(passing, |mut passing| async move {
            let chunk = passing.next_chunk().await?;
            Some((chunk, passing))
        }))
    } else {
        let source: Source = match framing {
            Framing::Sse => Box::pin(events(bytes, ProviderStream(shape.model.clone()), MAX_EVENT_BYTES)),
            Framing::AwsEventStream => Box::pin(eventstream::events(bytes, MAX_EVENT_BYTES)),
        };
        let streaming = Streaming {
            source,
            deadline: tokio::time::Instant::now() + shape.total,
            shape,
            finish,
            over: false,
            broke_off: None,
        };
        Body::from_stream(futures_util::stream::unfold(streaming, |mut streaming| async move {
            let chunk = streaming.next_chunk().await?;
            Some((chunk, streaming))
        }))
    };
    let mut response = Response::new(body);
    *response.headers_mut() = headers;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

type Source = Pin<Box<dyn Stream<Item = Result<Event, String>> + Send>>;

struct Streaming {
    source: Source,
    deadline: tokio::time::Instant,
    shape: Shape,
    finish: Finish,
    over: bool,
    /// The provider's stream broke off after events were gathered: said on the next call.
    broke_off: Option<String>,
}

impl Streaming {
    /// The bytes of the client's next events; `None` once the stream is over; an error when
    /// the provider's stream broke off, so the client's connection breaks off too (its SDK then
    /// raises, as it would have from the provider). Waits for one event, then takes every event
    /// that has already arrived, so a burst goes out in one write rather than one per event.
    async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        if let Some(problem) = self.broke_off.take() {
            return self.broken(&problem);
        }
        let mut out = Vec::new();
        while !self.over && out.len() < GATHER_BYTES {
            let next = if out.is_empty() {
                match tokio::time::timeout_at(self.deadline, self.source.next()).await {
                    Ok(next) => next,
                    Err(_) => return self.broken("the stream passed its total timeout"),
                }
            } else {
                match self.source.next().now_or_never() {
                    Some(next) => next,
                    None => break,
                }
            };
            match next {
                Some(Ok(event)) => self.take(event, &mut out),
                None => {
                    self.over = true;
                    // What a translated stream still owes its client once the provider is done.
                    let owed = self
                        .shape
                        .translator
                        .as_mut()
                        .map(translate::Stream::finish)
                        .unwrap_or_default();
                    self.client_events(owed.into_iter().map(out_event).collect(), &mut out);
                }
                // What was gathered goes first; the break follows.
                Some(Err(problem)) if !out.is_empty() => {
                    self.broke_off = Some(problem);
                    break;
                }
                Some(Err(problem)) => return self.broken(&problem),
            }
        }
        (!out.is_empty()).then(|| Ok(Bytes::from(out)))
    }

    /// One provider event: its usage read, translated, guarded, and written to `out`.
    fn take(&mut self, event: Event, out: &mut Vec<u8>) {
        if let Some(ended) = self.finish.ended.as_mut()
            && ended.first_token.is_none()
        {
            ended.first_token = Some(self.shape.started.elapsed());
        }
        // Only events that carry a usage object are parsed (OpenAI streams that report usage
        // say `"usage":null` in every other chunk); the rest pass as they came.
        if (event.data.contains("\"usage\":{")
            || event.data.contains("\"usage\": {")
            || event.data.contains("\"usageMetadata\""))
            && let Ok(value) = serde_json::from_str::<Value>(&event.data)
        {
            if let Some(ended) = self.finish.ended.as_mut() {
                ended.usage.read(&value);
            }
            let usage_only = value
                .get("choices")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty);
            if self.shape.strip_usage && usage_only {
                return;
            }
        }
        let events = match self.shape.translator.as_mut() {
            Some(translator) => {
                let name = if event.event == "message" {
                    ""
                } else {
                    event.event.as_str()
                };
                translator.event(name, &event.data).into_iter().map(out_event).collect()
            }
            None => vec![event],
        };
        self.client_events(events, out);
    }

    /// Events as the client gets them, through the guard, written to `out`.
    fn client_events(&mut self, events: Vec<Event>, out: &mut Vec<u8>) {
        for event in events {
            let Some(guard) = self.shape.guard.as_mut() else {
                encode_into(&event, out);
                continue;
            };
            match guard.event(&event.data) {
                Ok(datas) => {
                    datas
                        .into_iter()
                        .for_each(|data| encode_into(&renamed(&event, data), out));
                    // Guards that masked text are named in the audit line (each once).
                    if let Some(ended) = self.finish.ended.as_mut()
                        && ended.masked.len() < guard.masked.len()
                    {
                        ended.masked.clone_from(&guard.masked);
                    }
                }
                Err(Rejected(guard)) => {
                    tracing::warn!(model = %self.shape.model, %guard, "a streamed answer was cut by a guard");
                    self.mark_failed();
                    self.over = true;
                    let message = format!("the answer of `{}` was withheld by guard `{guard}`", self.shape.model);
                    encode_into(&error_event(self.shape.family, &message), out);
                    break;
                }
            }
        }
    }

    /// A stream that broke off: the client sees it end without its terminator (as it would
    /// from the provider), and the audit line says so.
    fn broken(&mut self, problem: &str) -> Option<std::io::Result<Bytes>> {
        tracing::warn!(model = %self.shape.model, %problem, "LLM provider stream failed");
        self.mark_failed();
        self.over = true;
        Some(Err(std::io::Error::other(problem.to_string())))
    }

    fn mark_failed(&mut self) {
        if let Some(ended) = self.finish.ended.as_mut() {
            ended.status = StatusCode::BAD_GATEWAY.as_u16();
        }
    }
}

/// Writes the audit line when the stream is dropped.
struct Finish {
    ended: Option<Ended>,
    on_end: Option<OnEnd>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        if let (Some(ended), Some(on_end)) = (self.ended.take(), self.on_end.take()) {
            on_end(ended);
        }
    }
}

/// The provider's stream's failures, as text for the log.
struct ProviderStream(String);

impl StreamErrors<String> for ProviderStream {
    fn too_large(&self, limit: usize) -> String {
        format!("`{}` sent an event over {limit} bytes", self.0)
    }

    fn invalid(&self, problem: String) -> String {
        format!("`{}`: {problem}", self.0)
    }
}

fn out_event(out: translate::Out) -> Event {
    Event {
        event: out.event.unwrap_or_default().to_string(),
        data: out.data,
        id: String::new(),
        retry: None,
    }
}

/// `data` as an event of the stream `like` came from: named (Anthropic) by its own `type`.
fn renamed(like: &Event, data: String) -> Event {
    let event = if like.event.is_empty() || like.event == "message" {
        like.event.clone()
    } else {
        serde_json::from_str::<Value>(&data)
            .ok()
            .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| like.event.clone())
    };
    Event {
        event,
        data,
        id: String::new(),
        retry: None,
    }
}

/// The event that ends a stream agentmux cuts, in the API's error shape.
fn error_event(family: Family, message: &str) -> Event {
    let (event, data) = match family {
        Family::OpenAi => (
            String::new(),
            serde_json::json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}}),
        ),
        Family::Anthropic => (
            "error".to_string(),
            serde_json::json!({"type": "error", "error": {"type": "api_error", "message": message}}),
        ),
    };
    Event {
        event,
        data: data.to_string(),
        id: String::new(),
        retry: None,
    }
}

/// One event as SSE text: its name when it has one (Anthropic's streams name every event).
fn encode_into(event: &Event, out: &mut Vec<u8>) {
    out.reserve(event.data.len() + event.event.len() + 16);
    if !event.event.is_empty() && event.event != "message" {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.event.as_bytes());
        out.push(b'\n');
    }
    for line in event.data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(event: &Event) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(event, &mut out);
        out
    }

    #[test]
    fn events_are_written_back_as_they_came() {
        let named = Event {
            event: "content_block_delta".into(),
            data: "{\"a\":1}".into(),
            id: String::new(),
            retry: None,
        };
        assert_eq!(encoded(&named), b"event: content_block_delta\ndata: {\"a\":1}\n\n");
        let plain = Event {
            event: "message".into(),
            data: "[DONE]".into(),
            id: String::new(),
            retry: None,
        };
        assert_eq!(encoded(&plain), b"data: [DONE]\n\n");
    }
}
