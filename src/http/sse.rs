//! Server-sent event bodies: a POST's response stream and a session's GET stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, oneshot};

fn event(frame: Vec<u8>) -> Result<Event, Infallible> {
    // Frames are JSON that agentmux wrote or parsed as JSON, so always UTF-8; lossy is a no-op.
    Ok(Event::default().event("message").data(String::from_utf8_lossy(&frame)))
}

struct RequestStream {
    queued: VecDeque<Vec<u8>>,
    notes: mpsc::Receiver<Vec<u8>>,
    last: Option<oneshot::Receiver<Vec<u8>>>,
}

/// A POST answered as a stream: `first` (already received), further notifications, then the
/// response, after which the stream ends.
pub fn request_stream(first: Vec<u8>, notes: mpsc::Receiver<Vec<u8>>, last: oneshot::Receiver<Vec<u8>>) -> Response {
    let state = RequestStream { queued: VecDeque::from([first]), notes, last: Some(last) };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        if let Some(frame) = st.queued.pop_front() {
            return Some((event(frame), st));
        }
        let mut last = st.last.take()?;
        tokio::select! {
            biased;
            Some(note) = st.notes.recv() => {
                st.last = Some(last);
                Some((event(note), st))
            }
            done = &mut last => {
                // Notifications queued before the response go out before it.
                while let Ok(note) = st.notes.try_recv() {
                    st.queued.push_back(note);
                }
                st.queued.extend(done.ok());
                let frame = st.queued.pop_front()?;
                Some((event(frame), st))
            }
        }
    });
    Sse::new(stream).into_response()
}

/// A session's GET stream: whatever the hub pushes, with keep-alive comments.
pub fn session_stream(mut frames: mpsc::Receiver<Vec<u8>>) -> Response {
    let stream = futures_util::stream::poll_fn(move |cx| frames.poll_recv(cx).map(|f| f.map(event)));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
