//! AWS event-stream messages (`application/vnd.amazon.eventstream`) from a peer, as named events.
//!
//! Amazon Bedrock streams binary frames, each a prelude (total and header lengths, CRC), typed
//! headers, a payload and a CRC of the whole. The AWS SDK's own `aws-smithy-eventstream` reads
//! a frame and checks both CRCs; this module cuts the byte stream into frames and bounds them:
//! a frame's prelude declares its length up front, so a peer announcing a frame over
//! `max_message_bytes` is refused before agentmux buffers it, the way `sse_bound` bounds SSE.
//!
//! Each message becomes an SSE-shaped [`Event`], so one stream translator serves both framings:
//! its `event` names what the message is (`:event-type` for events, `:exception-type` for
//! exceptions, `error` for errors) and its `data` is the payload as text. An error message
//! carries its text in an `:error-message` header, its code in `:error-code`, and no payload:
//! its data is then `{"message": …, "code": …}`, the shape of an exception's payload.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use aws_smithy_eventstream::frame::read_message_from;
use aws_smithy_types::event_stream::Message;
use bytes::{Buf, Bytes, BytesMut};
use eventsource_stream::Event;
use futures_util::Stream;

/// A prelude: total length, headers length (both u32, big-endian), and its CRC.
const PRELUDE_BYTES: usize = 12;

/// The messages of `bytes`, in order. A frame over `max_message_bytes`, a CRC mismatch, a
/// payload that is not UTF-8 or a stream cut inside a frame yields one `Err` naming the
/// problem, and the stream ends there; so does an `Err` from `bytes`, passed on as it is.
pub fn events<S>(bytes: S, max_message_bytes: usize) -> impl Stream<Item = Result<Event, String>> + Unpin
where
    S: Stream<Item = Result<Bytes, String>>,
{
    Events {
        bytes: Box::pin(bytes),
        frames: Frames::new(max_message_bytes),
        ready: VecDeque::new(),
        over: false,
    }
}

struct Events<S> {
    bytes: Pin<Box<S>>,
    frames: Frames,
    /// Decoded from chunks already read, not yet handed on.
    ready: VecDeque<Result<Event, String>>,
    /// The peer's stream ended or failed: what is in `ready` is all there is.
    over: bool,
}

impl<S: Stream<Item = Result<Bytes, String>>> Stream for Events<S> {
    type Item = Result<Event, String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `Events` is Unpin: the peer's stream is boxed.
        let this = self.get_mut();
        loop {
            if let Some(item) = this.ready.pop_front() {
                return Poll::Ready(Some(item));
            }
            if this.over {
                return Poll::Ready(None);
            }
            match this.bytes.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.frames.feed(&chunk, &mut this.ready),
                Poll::Ready(Some(Err(e))) => this.ready.push_back(Err(e)),
                Poll::Ready(None) => {
                    if let Some(e) = this.frames.leftover() {
                        this.ready.push_back(Err(e));
                    }
                    this.over = true;
                }
            }
            // Nothing after the first error: the stream is over.
            if this.ready.back().is_some_and(Result::is_err) {
                this.over = true;
            }
        }
    }
}

/// Bytes not yet a whole frame, and the bound on one frame.
#[derive(Debug)]
struct Frames {
    buffer: BytesMut,
    limit: usize,
}

impl Frames {
    fn new(limit: usize) -> Self {
        Self {
            buffer: BytesMut::new(),
            limit,
        }
    }

    /// Appends `chunk` and decodes every whole frame into `out`; stops at the first error.
    fn feed(&mut self, chunk: &[u8], out: &mut VecDeque<Result<Event, String>>) {
        self.buffer.extend_from_slice(chunk);
        while let Some(frame) = self.next_frame() {
            let event = frame.and_then(decode);
            let failed = event.is_err();
            out.push_back(event);
            if failed {
                self.buffer.clear();
                return;
            }
        }
    }

    /// The next whole frame, None until it has all arrived, Err when it declares more than the
    /// bound. The length is read from the prelude before the prelude's CRC can be checked (that
    /// needs the whole frame); a corrupt length thus reads as too long or too short, and a frame
    /// too short to be one fails in the decoder.
    fn next_frame(&mut self) -> Option<Result<Bytes, String>> {
        let declared = (&self.buffer.get(..4)?[..]).get_u32() as usize;
        if declared > self.limit {
            return Some(Err(format!(
                "event stream: a message of {declared} bytes is over the {}-byte bound",
                self.limit
            )));
        }
        if self.buffer.len() < declared.max(PRELUDE_BYTES) {
            return None;
        }
        Some(Ok(self.buffer.split_to(declared.max(PRELUDE_BYTES)).freeze()))
    }

    /// At the end of the peer's stream: a frame begun and never finished is an error.
    fn leftover(&self) -> Option<String> {
        (!self.buffer.is_empty()).then(|| {
            format!(
                "event stream: the stream ended inside a message ({} bytes of it arrived)",
                self.buffer.len()
            )
        })
    }
}

/// One frame as an event; the frame's CRCs and structure are checked by the AWS crate.
fn decode(frame: Bytes) -> Result<Event, String> {
    let message = read_message_from(frame).map_err(|e| format!("event stream: {e}"))?;
    let error = header(&message, ":message-type") == Some("error");
    let name = match header(&message, ":message-type").unwrap_or("event") {
        "exception" => header(&message, ":exception-type"),
        "error" => Some("error"),
        _ => header(&message, ":event-type"),
    };
    let mut data = String::from_utf8(message.payload().to_vec())
        .map_err(|_| format!("event stream: the payload of `{}` is not UTF-8", name.unwrap_or("")))?;
    if error && data.is_empty() {
        let text = header(&message, ":error-message").unwrap_or("the event stream failed");
        let code = header(&message, ":error-code").unwrap_or_default();
        data = serde_json::json!({ "message": text, "code": code }).to_string();
    }
    Ok(Event {
        event: name.unwrap_or_default().to_string(),
        data,
        ..Event::default()
    })
}

/// A string header's value; None when absent or of another type.
fn header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str())
}

#[cfg(test)]
mod tests;
