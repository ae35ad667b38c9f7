//! The fastest MCP upstream we can write: Streamable HTTP, JSON responses, no session state.
//! It serves `/u/{n}/mcp` for any `n`, each with `--tools` tools, so one process can stand in
//! for many upstreams. The cost it adds is what a real upstream's would be at minimum.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::value::RawValue;
use serde_json::{Value, json};

struct Shared {
    tools_list: String,
    payload: String,
}

fn shared(tools: usize) -> Arc<Shared> {
    let tool_items: Vec<Value> = (0..tools)
        .map(|i| {
            json!({
                "name": if i == 0 { "payload_1k".to_string() } else { format!("tool_{i}") },
                "description": format!("Synthetic tool number {i} for list benchmarks."),
                "inputSchema": { "type": "object", "properties": { "text": { "type": "string" } } },
                "annotations": { "readOnlyHint": true },
            })
        })
        .collect();
    let text: String = "agentmux benchmark payload. ".repeat(37);
    Arc::new(Shared {
        tools_list: json!({ "tools": tool_items }).to_string(),
        payload: json!({ "content": [{ "type": "text", "text": &text[..1000] }] }).to_string(),
    })
}

pub async fn run(listen: &str, tools: usize) -> anyhow::Result<()> {
    let shared = shared(tools);
    let app = Router::new()
        .route("/mcp", post(handle))
        .route("/u/{n}/mcp", post(handle))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct Msg<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    method: Option<&'a str>,
}

/// The same server over stdin/stdout: one JSON-RPC message per line.
pub async fn run_stdio(tools: usize) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let shared = shared(tools);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
    while let Some(line) = lines.next_line().await? {
        let Ok(msg) = serde_json::from_str::<Msg>(&line) else {
            continue;
        };
        if let Some(mut frame) = answer(&shared, &msg) {
            frame.push('\n');
            out.write_all(frame.as_bytes()).await?;
            out.flush().await?;
        }
    }
    Ok(())
}

async fn handle(State(shared): State<Arc<Shared>>, _headers: HeaderMap, body: Bytes) -> Response {
    let Ok(msg) = serde_json::from_slice::<Msg>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match answer(&shared, &msg) {
        Some(frame) => json_response(frame),
        None => StatusCode::ACCEPTED.into_response(),
    }
}

/// The response frame to a request; `None` for a notification.
fn answer(shared: &Shared, msg: &Msg<'_>) -> Option<String> {
    let id = msg.id?;
    let result: &str = match msg.method.unwrap_or("") {
        "initialize" => {
            r#"{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"bench-upstream","version":"1"}}"#
        }
        "tools/list" => &shared.tools_list,
        "tools/call" => &shared.payload,
        "ping" => "{}",
        _ => {
            return Some(format!(
                r#"{{"jsonrpc":"2.0","id":{},"error":{{"code":-32601,"message":"no"}}}}"#,
                id.get()
            ));
        }
    };
    Some(format!(r#"{{"jsonrpc":"2.0","id":{},"result":{}}}"#, id.get(), result))
}

fn json_response(body: String) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
