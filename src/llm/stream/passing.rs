//! A stream that reaches the client as the provider wrote it: no translation, no answer guard.
//! Its bytes are not parsed into events and written again; they are only cut at event
//! boundaries, so that the few events carrying a usage object (`"usage":{`) can be read for the
//! audit line and limits, and the usage chunk agentmux asked for on the client's behalf can be
//! kept back. Everything else goes out as it came, in as few writes as it arrived in.

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use memchr::memmem;
use serde_json::Value;

use super::{Finish, MAX_EVENT_BYTES, Shape};

/// What marks an event carrying a usage object, in the spellings providers write.
const USAGE: [&[u8]; 2] = [b"\"usage\":{", b"\"usage\": {"];
/// How an event ends: a blank line, in each of SSE's line endings.
const BOUNDARIES: [&[u8]; 3] = [b"\n\n", b"\n\r\n", b"\r\r"];

type Bytestream = std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, String>> + Send>>;

pub(super) struct Passing {
    source: Bytestream,
    deadline: tokio::time::Instant,
    shape: Shape,
    finish: Finish,
    /// Bytes of an event not yet complete.
    partial: BytesMut,
    over: bool,
    /// The provider's stream broke off after bytes were gathered: said on the next call.
    broke_off: Option<String>,
}

impl Passing {
    pub(super) fn new(source: Bytestream, shape: Shape, finish: Finish) -> Self {
        Self {
            source,
            deadline: tokio::time::Instant::now() + shape.total,
            shape,
            finish,
            partial: BytesMut::new(),
            over: false,
            broke_off: None,
        }
    }

    /// The client's next bytes: every whole event that has arrived, as it arrived (less a
    /// usage chunk agentmux asked for). `None` once the stream is over; an error when the
    /// provider's stream broke off, so the client's connection breaks off too.
    pub(super) async fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        if let Some(problem) = self.broke_off.take() {
            return self.broken(&problem);
        }
        loop {
            if self.over {
                // Whatever the provider sent after its last blank line, as it sent it.
                return (!self.partial.is_empty()).then(|| Ok(self.partial.split().freeze()));
            }
            let first = match tokio::time::timeout_at(self.deadline, self.source.next()).await {
                Ok(next) => next,
                Err(_) => return self.broken("the stream passed its total timeout"),
            };
            match first {
                Some(Ok(bytes)) => self.arrived(bytes),
                None => self.over = true,
                Some(Err(problem)) => return self.broken(&problem),
            }
            // Take what else has already arrived, so a burst goes out in one write.
            while !self.over && self.partial.len() < super::GATHER_BYTES {
                match self.source.next().now_or_never() {
                    Some(Some(Ok(bytes))) => self.arrived(bytes),
                    Some(None) => self.over = true,
                    Some(Some(Err(problem))) => {
                        self.broke_off = Some(problem);
                        break;
                    }
                    None => break,
                }
            }
            let whole = self.whole_events();
            if self.partial.len() - whole > MAX_EVENT_BYTES {
                let problem = format!("`{}` sent an event over {MAX_EVENT_BYTES} bytes", self.shape.model);
                return self.broken(&problem);
            }
            if whole > 0 {
                let events = self.partial.split_to(whole).freeze();
                let out = self.read_usage(events);
                if !out.is_empty() {
                    return Some(Ok(out));
                }
            }
            if self.broke_off.is_some() {
                let problem = self.broke_off.take().unwrap_or_default();
                return self.broken(&problem);
            }
        }
    }

    fn arrived(&mut self, bytes: Bytes) {
        if let Some(ended) = self.finish.ended.as_mut()
            && ended.first_token.is_none()
        {
            ended.first_token = Some(self.shape.started.elapsed());
        }
        self.partial.extend_from_slice(&bytes);
    }

    /// How many bytes at the front of `partial` are whole events.
    fn whole_events(&self) -> usize {
        BOUNDARIES
            .iter()
            .filter_map(|b| memmem::rfind(&self.partial, b).map(|at| at + b.len()))
            .max()
            .unwrap_or(0)
    }

    /// Whole events on their way out: those with a usage object are read (and the usage chunk
    /// agentmux asked for is dropped); the rest pass untouched, as one piece when none has one.
    fn read_usage(&mut self, events: Bytes) -> Bytes {
        if !USAGE.iter().any(|marker| memmem::find(&events, marker).is_some()) {
            return events;
        }
        let mut out = BytesMut::with_capacity(events.len());
        for event in split_events(&events) {
            if USAGE.iter().any(|marker| memmem::find(event, marker).is_some()) && self.usage_only(event) {
                continue;
            }
            out.extend_from_slice(event);
        }
        out.freeze()
    }

    /// Reads the usage of one event; whether it is a usage-only chunk to keep from the client.
    fn usage_only(&mut self, event: &[u8]) -> bool {
        let Some(value) = data_of(event).and_then(|data| serde_json::from_str::<Value>(&data).ok()) else {
            return false;
        };
        if let Some(ended) = self.finish.ended.as_mut() {
            ended.usage.read(&value);
        }
        self.shape.strip_usage
            && value
                .get("choices")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
    }

    fn broken(&mut self, problem: &str) -> Option<std::io::Result<Bytes>> {
        tracing::warn!(model = %self.shape.model, %problem, "LLM provider stream failed");
        if let Some(ended) = self.finish.ended.as_mut() {
            ended.status = http::StatusCode::BAD_GATEWAY.as_u16();
        }
        self.over = true;
        self.partial.clear();
        Some(Err(std::io::Error::other(problem.to_string())))
    }
}

/// Whole events, each with the blank line that ends it.
fn split_events(mut bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let end = BOUNDARIES
            .iter()
            .filter_map(|b| memmem::find(bytes, b).map(|at| at + b.len()))
            .min()
            .unwrap_or(bytes.len());
        let (event, rest) = bytes.split_at(end);
        bytes = rest;
        Some(event)
    })
}

/// An event's `data:` lines, joined as SSE joins them; `None` when it has none or is not text.
fn data_of(event: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(event).ok()?;
    let mut data: Option<String> = None;
    for line in text.split(['\n', '\r']) {
        let Some(value) = line.strip_prefix("data:") else {
            continue;
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match data.as_mut() {
            Some(data) => {
                data.push('\n');
                data.push_str(value);
            }
            None => data = Some(value.to_string()),
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_cut_at_every_kind_of_blank_line() {
        let bytes = b"data: a\n\ndata: b\r\n\r\nevent: x\ndata: c\n\ndata: d";
        let events: Vec<&[u8]> = split_events(bytes).collect();
        assert_eq!(
            events,
            vec![
                &b"data: a\n\n"[..],
                &b"data: b\r\n\r\n"[..],
                &b"event: x\ndata: c\n\n"[..],
                &b"data: d"[..]
            ]
        );
    }

    #[test]
    fn data_lines_are_joined() {
        assert_eq!(
            data_of(b"event: x\ndata: {\"a\":\ndata:1}\n\n").as_deref(),
            Some("{\"a\":\n1}")
        );
        assert_eq!(data_of(b": comment\n\n"), None);
    }
}
