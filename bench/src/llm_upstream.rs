//! The fastest LLM provider we can write: OpenAI's `POST /v1/chat/completions` and Anthropic's
//! `POST /v1/messages`, each answering a fixed small answer, or with `"stream": true` a stream of
//! `--chunks` events written all at once (no pauses: what a gateway spends per chunk is then its
//! CPU, not waits). The wire format follows the providers' closely enough for their SDKs: ids,
//! `object`, `created`, `usage`, `[DONE]`, and the usage chunk only when
//! `stream_options.include_usage` asks for it.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;

/// The models the benchmark names (OpenAI's and Anthropic's); their streams are rendered once at
/// start, any other model's for each request.
const BENCH_MODEL: &str = "gpt-bench";
const CLAUDE_MODEL: &str = "claude-bench";
const CREATED: u64 = 1_764_547_200;

struct Shared {
    chunks: usize,
    /// The chat stream for [`BENCH_MODEL`] without and with the usage chunk, and the messages
    /// stream for [`CLAUDE_MODEL`].
    chat_stream: Vec<Bytes>,
    chat_stream_usage: Vec<Bytes>,
    messages_stream: Vec<Bytes>,
}

pub async fn run(listen: &str, chunks: usize) -> anyhow::Result<()> {
    let chunks = chunks.max(2);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    // Without it the second write of a stream waits for the client's delayed ACK (~40 ms).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let shared = Shared {
        chunks,
        chat_stream: chat_stream(BENCH_MODEL, chunks, false),
        chat_stream_usage: chat_stream(BENCH_MODEL, chunks, true),
        messages_stream: messages_stream(CLAUDE_MODEL, chunks),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/messages", post(messages))
        .with_state(Arc::new(shared));
    println!("listening on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The few request fields the answers depend on, read without building the rest.
#[derive(serde::Deserialize)]
struct Req<'a> {
    #[serde(borrow, default)]
    model: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(serde::Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

async fn chat(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Req<'_>>(&body) else {
        return error(
            r#"{"error":{"message":"We could not parse the JSON body of your request.","type":"invalid_request_error","param":null,"code":null}}"#,
        );
    };
    let model = req.model.as_deref().unwrap_or(BENCH_MODEL);
    let usage = req.stream_options.is_some_and(|o| o.include_usage);
    if req.stream {
        let events = match (model == BENCH_MODEL, usage) {
            (true, false) => shared.chat_stream.clone(),
            (true, true) => shared.chat_stream_usage.clone(),
            (false, _) => chat_stream(model, shared.chunks, usage),
        };
        return sse(events);
    }
    json(format!(
        r#"{{"id":"chatcmpl-bench0001","object":"chat.completion","created":{CREATED},"model":{model},"choices":[{{"index":0,"message":{{"role":"assistant","content":"Hello from the bench upstream.","refusal":null,"annotations":[]}},"logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}},"service_tier":"default","system_fingerprint":null}}"#,
        model = quoted(model)
    ))
}

async fn messages(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Req<'_>>(&body) else {
        return error(r#"{"type":"error","error":{"type":"invalid_request_error","message":"invalid JSON body"}}"#);
    };
    let model = req.model.as_deref().unwrap_or(CLAUDE_MODEL);
    if req.stream {
        let events = if model == CLAUDE_MODEL {
            shared.messages_stream.clone()
        } else {
            messages_stream(model, shared.chunks)
        };
        return sse(events);
    }
    json(format!(
        r#"{{"id":"msg_bench0001","type":"message","role":"assistant","model":{model},"content":[{{"type":"text","text":"Hello from the bench upstream."}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":7}}}}"#,
        model = quoted(model)
    ))
}

/// OpenAI's stream: `chunks` `chat.completion.chunk` events (the role first, then content, then
/// an empty delta with the finish reason), the usage chunk if asked for, then `[DONE]`.
fn chat_stream(model: &str, chunks: usize, usage: bool) -> Vec<Bytes> {
    let model = quoted(model);
    // With include_usage every chunk carries `"usage":null`, as OpenAI's do.
    let usage_null = if usage { r#","usage":null"# } else { "" };
    let head = format!(
        r#"data: {{"id":"chatcmpl-bench0001","object":"chat.completion.chunk","created":{CREATED},"model":{model},"service_tier":"default","system_fingerprint":null"#
    );
    let mut out = Vec::with_capacity(chunks + 2);
    for n in 0..chunks {
        let (delta, finish) = match n {
            0 => (
                r#"{"role":"assistant","content":"","refusal":null}"#.to_string(),
                "null",
            ),
            n if n + 1 == chunks => ("{}".to_string(), r#""stop""#),
            n => (format!(r#"{{"content":" tok{n}"}}"#), "null"),
        };
        out.push(Bytes::from(format!(
            r#"{head},"choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]{usage_null}}}"#
        ) + "\n\n"));
    }
    if usage {
        let completion = chunks - 2;
        out.push(Bytes::from(format!(
            r#"{head},"choices":[],"usage":{{"prompt_tokens":12,"completion_tokens":{completion},"total_tokens":{total},"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}}}"#,
            total = 12 + completion
        ) + "\n\n"));
    }
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

/// Anthropic's stream: `message_start`, one text block of `chunks` `content_block_delta`
/// events, `message_delta` with the stop reason and usage, `message_stop`.
fn messages_stream(model: &str, chunks: usize) -> Vec<Bytes> {
    let model = quoted(model);
    let event = |name: &str, data: String| Bytes::from(format!("event: {name}\ndata: {data}\n\n"));
    let mut out = Vec::with_capacity(chunks + 5);
    out.push(event(
        "message_start",
        format!(
            r#"{{"type":"message_start","message":{{"id":"msg_bench0001","type":"message","role":"assistant","model":{model},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}}}}"#
        ),
    ));
    out.push(event(
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#.into(),
    ));
    for n in 0..chunks {
        out.push(event(
            "content_block_delta",
            format!(r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":" tok{n}"}}}}"#),
        ));
    }
    out.push(event(
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0}"#.into(),
    ));
    out.push(event(
        "message_delta",
        format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn","stop_sequence":null}},"usage":{{"output_tokens":{chunks}}}}}"#
        ),
    ));
    out.push(event("message_stop", r#"{"type":"message_stop"}"#.into()));
    out
}

fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// All events at once: the first is written as soon as the headers are, the rest as fast as the
/// socket takes them.
fn sse(events: Vec<Bytes>) -> Response {
    let stream = futures_util::stream::iter(events.into_iter().map(Ok::<_, std::convert::Infallible>));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn json(body: String) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(body: &'static str) -> Response {
    let mut response = (StatusCode::BAD_REQUEST, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
