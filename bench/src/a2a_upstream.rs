//! The fastest A2A agent we can write: JSON-RPC only, an echo for `message/send` /
//! `SendMessage`, and for `message/stream` / `SendStreamingMessage` a stream of `--events`
//! status updates: the first at once, the others 2 ms later as fast as the socket takes them. What it costs is the least a real
//! agent would; the rest of a call through agentmux is agentmux's.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use serde_json::value::RawValue;

struct Shared {
    card: String,
    events: usize,
}

pub async fn run(listen: &str, events: usize) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let card = json!({
        "name": "fast-agent",
        "description": "agentmux-bench's echo agent",
        "version": "1.0.0",
        "supportedInterfaces": [
            {"url": format!("http://{addr}"), "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": format!("http://{addr}"), "protocolBinding": "JSONRPC", "protocolVersion": "0.3"}
        ],
        "capabilities": {"streaming": true},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "echo", "name": "Echo", "description": "Echoes", "tags": ["bench"]}]
    })
    .to_string();
    let app = Router::new()
        .route("/.well-known/agent-card.json", get(card_handler))
        .route("/", post(handle))
        .with_state(Arc::new(Shared { card, events }));
    println!("listening on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn card_handler(State(shared): State<Arc<Shared>>) -> Response {
    json_response(shared.card.clone())
}

fn json_response(body: String) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[derive(serde::Deserialize)]
struct Msg<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
    method: &'a str,
}

async fn handle(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(msg) = serde_json::from_slice::<Msg<'_>>(&body) else {
        return json_response(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}"#.into());
    };
    let id = msg.id.get();
    match msg.method {
        "message/send" | "SendMessage" => json_response(format!(
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"kind":"message","role":"agent","messageId":"m-1","contextId":"c-bench","parts":[{{"kind":"text","text":"echo"}}]}}}}"#
        )),
        "message/stream" | "SendStreamingMessage" => {
            let events = shared.events;
            let id = id.to_string();
            // The first event at once, the rest after a pause, as an agent that starts work and
            // then reports: the time to the first event is then agentmux's relay alone, not
            // how many later events it gathered into one write.
            let stream = futures_util::StreamExt::then(futures_util::stream::iter(0..events), move |n| {
                let id = id.clone();
                async move {
                    if n == 1 {
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    }
                    let last = n + 1 == events;
                    let state = if last { "completed" } else { "working" };
                    Ok::<_, std::convert::Infallible>(Bytes::from(format!(
                        "data: {{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"kind\":\"status-update\",\"taskId\":\"t-bench\",\"contextId\":\"c-bench\",\"status\":{{\"state\":\"{state}\"}},\"final\":{last}}}}}\n\n"
                    )))
                }
            });
            let mut response = Response::new(Body::from_stream(stream));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            response
        }
        _ => json_response(format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"method not found"}}}}"#
        )),
    }
}
