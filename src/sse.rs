//! Server-sent event bodies: a POST's response stream and a session's GET stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

fn event(frame: Vec<u8>) -> Result<Event, Infallible> {
    // Frames are JSON that agentmux wrote or parsed as JSON, so always UTF-8; lossy is a no-op.
    Ok(Event::default().event("message").data(String::from_utf8_lossy(&frame)))
}

/// The rest of a request that is answered as a stream: the frames it produces later.
pub type PendingCall = std::pin::Pin<Box<dyn Future<Output = Vec<u8>> + Send>>;

struct RequestStream {
    queued: VecDeque<Vec<u8>>,
    notes: mpsc::Receiver<Vec<u8>>,
    call: Option<PendingCall>,
}

/// A POST answered as a stream: `queued` frames, notifications as they come, then the response
/// that `call` produces, after which the stream ends. Dropping the stream (the client went away)
/// drops `call`, which cancels the request upstream.
pub fn request_stream(queued: Vec<Vec<u8>>, notes: mpsc::Receiver<Vec<u8>>, call: Option<PendingCall>) -> Response {
    let state = RequestStream {
        queued: queued.into(),
        notes,
        call,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        if let Some(frame) = st.queued.pop_front() {
            return Some((event(frame), st));
        }
        let mut call = st.call.take()?;
        tokio::select! {
            biased;
            Some(note) = st.notes.recv() => {
                st.call = Some(call);
                Some((event(note), st))
            }
            done = &mut call => {
                // Notifications queued before the response go out before it.
                while let Ok(note) = st.notes.try_recv() {
                    st.queued.push_back(note);
                }
                st.queued.push_back(done);
                let frame = st.queued.pop_front()?;
                Some((event(frame), st))
            }
        }
    });
    Sse::new(stream).into_response()
}

/// A session's GET stream: whatever the hub pushes, with keep-alive comments.
pub fn session_stream(frames: mpsc::Receiver<Vec<u8>>) -> Response {
    guarded_session_stream(frames, ())
}

/// A session stream that owns `guard` until the client goes away (to clean up after it).
pub fn guarded_session_stream<G: Send + 'static>(mut frames: mpsc::Receiver<Vec<u8>>, guard: G) -> Response {
    let stream = futures_util::stream::poll_fn(move |cx| {
        let _owned = &guard;
        frames.poll_recv(cx).map(|f| f.map(event))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The legacy HTTP+SSE stream: an `endpoint` event naming where to POST, then the session's
/// frames as `message` events.
pub fn legacy_stream<G: Send + 'static>(endpoint: String, mut frames: mpsc::Receiver<Vec<u8>>, guard: G) -> Response {
    let first =
        futures_util::stream::once(
            async move { Ok::<_, Infallible>(Event::default().event("endpoint").data(endpoint)) },
        );
    let rest = futures_util::stream::poll_fn(move |cx| {
        let _owned = &guard;
        frames.poll_recv(cx).map(|f| f.map(event))
    });
    Sse::new(futures_util::StreamExt::chain(first, rest))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
