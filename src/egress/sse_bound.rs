//! SSE events from a peer, each bounded in size.
//!
//! `eventsource_stream` buffers an event until its closing blank line, however long that takes:
//! a peer that streams one endless event (or one endless line) would grow agentmux's memory
//! without limit. [`events`] counts the bytes beneath the parser since the last blank line and
//! fails the stream once they pass `limit`, so the parser never holds more than that. One stream
//! fails; other streams and other peers do not notice.

use bytes::Bytes;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};

/// How a protocol says what went wrong with one peer's stream, in its own error type `E`.
pub trait StreamErrors<E> {
    /// An event passed `limit` bytes.
    fn too_large(&self, limit: usize) -> E;
    /// The stream is not valid SSE (bad UTF-8, say).
    fn invalid(&self, problem: String) -> E;
}

/// The events of `stream`; an event over `limit` bytes ends it with `errors.too_large(limit)`.
pub fn events<E: 'static>(
    stream: impl Stream<Item = Result<Bytes, E>> + Unpin,
    errors: impl StreamErrors<E> + Send + Sync + 'static,
    limit: usize,
) -> impl Stream<Item = Result<Event, E>> + Unpin {
    let errors = std::sync::Arc::new(errors);
    let invalid = std::sync::Arc::clone(&errors);
    let mut bound = EventBound::new(limit);
    let checked = stream
        .map(move |chunk| {
            let chunk = chunk?;
            bound.feed(&chunk).map_err(|()| errors.too_large(limit))?;
            Ok(chunk)
        })
        // Nothing after the first error reaches the parser: the stream is over.
        .scan(false, until_error);
    checked
        .eventsource()
        .map(move |event| {
            event.map_err(|e| match e {
                EventStreamError::Transport(e) => e,
                EventStreamError::Utf8(e) => invalid.invalid(format!("event stream: {e}")),
                EventStreamError::Parser(e) => invalid.invalid(format!("event stream: {e}")),
            })
        })
        .scan(false, until_error)
}

/// For `scan`: passes items up to and including the first error, then ends the stream.
fn until_error<T, E>(failed: &mut bool, item: Result<T, E>) -> std::future::Ready<Option<Result<T, E>>> {
    if *failed {
        return std::future::ready(None);
    }
    *failed = item.is_err();
    std::future::ready(Some(item))
}

/// Bytes since the last blank line (the end of an event), across chunk boundaries and all three
/// SSE line endings (`\n`, `\r`, `\r\n`).
#[derive(Debug)]
struct EventBound {
    limit: usize,
    pending: usize,
    at_line_start: bool,
    /// The last byte seen was `\r`: a `\n` right after it belongs to the same line ending.
    after_cr: bool,
}

impl EventBound {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            pending: 0,
            at_line_start: true,
            after_cr: false,
        }
    }

    /// Counts one chunk; `Err` once the current event is over the limit.
    fn feed(&mut self, mut rest: &[u8]) -> Result<(), ()> {
        while let Some(&first) = rest.first() {
            if std::mem::take(&mut self.after_cr) && first == b'\n' {
                rest = &rest[1..];
                continue;
            }
            if self.at_line_start && (first == b'\n' || first == b'\r') {
                // A blank line: the event is complete, the parser hands it on and forgets it.
                self.pending = 0;
                self.after_cr = first == b'\r';
                rest = &rest[1..];
                continue;
            }
            let (taken, ended) = match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    self.after_cr = rest[i] == b'\r';
                    (i + 1, true)
                }
                None => (rest.len(), false),
            };
            self.at_line_start = ended;
            self.pending = self.pending.saturating_add(taken);
            if self.pending > self.limit {
                return Err(());
            }
            rest = &rest[taken..];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;

    use super::*;

    fn feed_all(limit: usize, chunks: &[&str]) -> Result<(), ()> {
        let mut bound = EventBound::new(limit);
        chunks.iter().try_for_each(|c| bound.feed(c.as_bytes()))
    }

    #[test]
    fn many_small_events_pass_a_small_limit() {
        assert!(feed_all(20, &["data: 0123456789\n\n"; 1000]).is_ok());
        assert!(feed_all(20, &["data: 0123456789\r\n\r\n"; 1000]).is_ok());
        assert!(feed_all(20, &["data: 0123456789\r\r"; 1000]).is_ok());
    }

    #[test]
    fn one_event_over_the_limit_fails_however_it_is_cut() {
        assert!(feed_all(20, &["data: 0123456789\ndata: 0123456789\n\n"]).is_err());
        assert!(feed_all(20, &["data: 01234", "56789012345678901234"]).is_err());
        // One endless line, never a newline.
        let half = "x".repeat(600);
        assert!(feed_all(1000, &[&half, &half]).is_err());
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_ending() {
        // `\r` ends a chunk, `\n` starts the next: not a blank line, the event goes on.
        assert!(feed_all(30, &["data: 0123456789\r", "\ndata: 0123456789\r\n\r\n"]).is_err());
        assert!(feed_all(30, &["data: 0123456789\r", "\n\r\ndata: 0123456789\r\n\r\n"]).is_ok());
    }

    struct Named(&'static str);

    impl StreamErrors<String> for Named {
        fn too_large(&self, limit: usize) -> String {
            format!("{}: an event over {limit} bytes", self.0)
        }

        fn invalid(&self, problem: String) -> String {
            problem
        }
    }

    #[tokio::test]
    async fn the_stream_names_the_peer_and_the_limit() {
        let chunks: Vec<Result<Bytes, String>> = vec![
            Ok(Bytes::from_static(b"event: message\ndata: {\"a\":1}\n\n")),
            Ok(Bytes::from(vec![b'x'; 5000])),
            Ok(Bytes::from_static(b"\n\n")),
        ];
        let mut events = events(stream::iter(chunks), Named("big"), 4096);
        let first = events.next().await;
        assert!(matches!(first, Some(Ok(ref e)) if e.data == "{\"a\":1}"), "{first:?}");
        let Some(Err(error)) = events.next().await else {
            panic!("the oversized event did not fail the stream")
        };
        let text = error.to_string();
        assert!(text.contains("big") && text.contains("4096"), "{text}");
        assert!(events.next().await.is_none());
    }
}

#[cfg(test)]
mod chunking {
    use proptest::prelude::*;

    use super::EventBound;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// However the network splits a stream, the bound says the same: cut where the stream is
        /// fed whole, never for an event within the limit.
        #[test]
        fn the_bound_does_not_depend_on_chunking(
            stream in prop::collection::vec(prop::sample::select(vec![b'a', b':', b' ', b'\n', b'\r']), 0..300),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
            limit in 1usize..64,
        ) {
            let whole = EventBound::new(limit).feed(&stream);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.sort_unstable();
            let mut bound = EventBound::new(limit);
            let mut at = 0;
            let mut chunked = Ok(());
            for cut in cuts.into_iter().chain([stream.len()]) {
                chunked = chunked.and_then(|()| bound.feed(&stream[at..cut]));
                at = cut;
            }
            prop_assert_eq!(whole, chunked);
            // The reference: the longest run of bytes between blank lines.
            let text = String::from_utf8_lossy(&stream).replace("\r\n", "\n").replace('\r', "\n");
            let longest = text.split("\n\n").map(|event| event.trim_start_matches('\n').len() + 1).max().unwrap_or(0);
            if longest <= limit {
                prop_assert_eq!(whole, Ok(()), "{:?}", text);
            }
        }
    }
}
