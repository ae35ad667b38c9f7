//! Either binding against an agent that serves only the other (A2A v1.0): an HTTP+JSON request
//! becomes the JSON-RPC method it names and back, and the reverse. Both bindings carry the same
//! JSON objects (v1.0's proto JSON), so only the envelope changes: the path and query, or the
//! method and params; a bare result, or one inside a JSON-RPC frame; HTTP statuses, or JSON-RPC
//! error codes. Push configs included. v0.3's HTTP+JSON shapes differ from its JSON-RPC ones and
//! are not translated.

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::card::Binding;
use super::failure::{AGENT_ERROR, TASK_NOT_FOUND};
use super::methods::{Method, Op};
use super::outbound::Outbound;
use crate::egress::http_client::encode_component;
use crate::jsonrpc::{INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND};

/// Which way a request is translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translation {
    /// The client speaks HTTP+JSON, the agent only JSON-RPC.
    RestToRpc,
    /// The client speaks JSON-RPC, the agent only HTTP+JSON.
    RpcToRest,
}

/// The request in the agent's binding, or why it cannot be translated. An HTTP+JSON request
/// is read from its body (`params`), the task its path names, and its `path` (after the
/// interface URL, with the query).
pub fn request(
    way: Translation,
    method: Method,
    params: &Value,
    task: Option<&str>,
    path: &str,
) -> Result<Outbound, String> {
    match way {
        Translation::RestToRpc => to_rpc(method, params, task, path),
        Translation::RpcToRest => to_rest(method, params),
    }
}

fn untranslated(method: Method) -> String {
    format!(
        "`{}` is not translated between the A2A bindings yet; the agent does not serve the binding it was sent in",
        method.name
    )
}

fn to_rpc(method: Method, body: &Value, task: Option<&str>, path: &str) -> Result<Outbound, String> {
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    };
    let mut params = Map::new();
    let from_query = |params: &mut Map<String, Value>, names: &[&str]| {
        for (key, value) in query_pairs(query) {
            if names.contains(&key.as_str()) {
                params.insert(key, typed(&value));
            }
        }
    };
    let params = match method.op {
        Op::Send { .. } => body.clone(),
        Op::GetTask => {
            from_query(&mut params, &["historyLength"]);
            params.insert("id".into(), json!(task));
            Value::Object(params)
        }
        Op::CancelTask | Op::Subscribe => json!({ "id": task }),
        Op::ListTasks => {
            from_query(
                &mut params,
                &[
                    "contextId",
                    "status",
                    "pageSize",
                    "pageToken",
                    "historyLength",
                    "statusTimestampAfter",
                    "includeArtifacts",
                ],
            );
            Value::Object(params)
        }
        Op::ExtendedCard => json!({}),
        Op::Push { create: true } => {
            // The task is the one the path names (and ownership was checked on): a `taskId`
            // in the body does not move the config to another task.
            let mut config = body.as_object().cloned().unwrap_or_default();
            config.insert("taskId".into(), json!(task));
            Value::Object(config)
        }
        Op::Push { create: false } => {
            params.insert("taskId".into(), json!(task));
            match path.rsplit_once("/pushNotificationConfigs/") {
                Some((_, id)) => {
                    let id = percent_decode(id).ok_or_else(|| untranslated(method))?;
                    params.insert("id".into(), Value::String(id));
                }
                None => from_query(&mut params, &["pageSize", "pageToken"]),
            }
            Value::Object(params)
        }
    };
    let frame = json!({"jsonrpc": "2.0", "id": 1, "method": method.name, "params": params});
    Ok(Outbound {
        binding: Binding::JsonRpc,
        method: reqwest::Method::POST,
        suffix: String::new(),
        body: Bytes::from(frame.to_string()),
    })
}

fn to_rest(method: Method, params: &Value) -> Result<Outbound, String> {
    let task = params.get("id").and_then(Value::as_str).map(encode_component);
    let (verb, suffix, body) = match (method.op, task) {
        (Op::Send { streaming }, _) => {
            let path = if streaming { "/message:stream" } else { "/message:send" };
            (reqwest::Method::POST, path.to_string(), params.to_string())
        }
        (Op::GetTask, Some(task)) => {
            let query = params
                .get("historyLength")
                .map(|n| format!("?historyLength={n}"))
                .unwrap_or_default();
            (reqwest::Method::GET, format!("/tasks/{task}{query}"), String::new())
        }
        (Op::CancelTask, Some(task)) => (reqwest::Method::POST, format!("/tasks/{task}:cancel"), String::new()),
        (Op::Subscribe, Some(task)) => (reqwest::Method::GET, format!("/tasks/{task}:subscribe"), String::new()),
        (Op::ListTasks, _) => {
            let query: Vec<String> = params
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(_) | Value::Bool(_) => v.to_string(),
                        _ => return None,
                    };
                    Some(format!("{}={}", encode_component(k), encode_component(&text)))
                })
                .collect();
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            (reqwest::Method::GET, format!("/tasks{query}"), String::new())
        }
        (Op::ExtendedCard, _) => (reqwest::Method::GET, "/extendedAgentCard".into(), String::new()),
        (Op::Push { .. }, _) => push_to_rest(method, params).ok_or_else(|| untranslated(method))?,
        _ => return Err(untranslated(method)),
    };
    Ok(Outbound {
        binding: Binding::HttpJson,
        method: verb,
        suffix,
        body: Bytes::from(body),
    })
}

/// A push-config method as its HTTP+JSON verb, path and body; `None` without the ids it needs.
fn push_to_rest(method: Method, params: &Value) -> Option<(reqwest::Method, String, String)> {
    let text = |key: &str| params.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let configs = format!("/tasks/{}/pushNotificationConfigs", encode_component(text("taskId")?));
    Some(match method.name {
        "CreateTaskPushNotificationConfig" => (reqwest::Method::POST, configs, params.to_string()),
        "GetTaskPushNotificationConfig" => (
            reqwest::Method::GET,
            format!("{configs}/{}", encode_component(text("id")?)),
            String::new(),
        ),
        "DeleteTaskPushNotificationConfig" => (
            reqwest::Method::DELETE,
            format!("{configs}/{}", encode_component(text("id")?)),
            String::new(),
        ),
        "ListTaskPushNotificationConfigs" => {
            let mut query = Vec::new();
            if let Some(size) = params.get("pageSize").filter(|v| v.is_number()) {
                query.push(format!("pageSize={size}"));
            }
            if let Some(token) = text("pageToken") {
                query.push(format!("pageToken={}", encode_component(token)));
            }
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            (reqwest::Method::GET, format!("{configs}{query}"), String::new())
        }
        _ => return None,
    })
}

/// A whole answer of the agent in the client's binding: its status and body. `id` is the
/// client's JSON-RPC id (as JSON text) for [`Translation::RpcToRest`].
pub fn answer(way: Translation, status: StatusCode, body: &[u8], id: &str) -> (StatusCode, Vec<u8>) {
    let frame: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    };
    match way {
        Translation::RestToRpc => match (frame.get("result"), frame.get("error")) {
            // A deleted push config: JSON-RPC's empty result, HTTP+JSON's empty object.
            (Some(Value::Null), _) => (StatusCode::OK, b"{}".to_vec()),
            (Some(result), _) => (StatusCode::OK, result.to_string().into_bytes()),
            (None, Some(error)) => {
                let code = error.get("code").and_then(Value::as_i64).unwrap_or(INTERNAL_ERROR);
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the agent failed");
                let (status, name) = rest_status_of(code);
                let body = json!({"error": {"code": status.as_u16(), "status": name, "message": message}});
                (status, body.to_string().into_bytes())
            }
            (None, None) => (StatusCode::OK, b"null".to_vec()),
        },
        Translation::RpcToRest => {
            let id: Value = serde_json::from_str(id).unwrap_or(Value::Null);
            let frame = if status.is_success() {
                json!({"jsonrpc": "2.0", "id": id, "result": frame})
            } else {
                let message = frame
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the agent failed");
                let code = match status {
                    StatusCode::NOT_FOUND => TASK_NOT_FOUND,
                    StatusCode::BAD_REQUEST => INVALID_PARAMS,
                    StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => METHOD_NOT_FOUND,
                    _ => AGENT_ERROR,
                };
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            };
            (StatusCode::OK, frame.to_string().into_bytes())
        }
    }
}

/// One streamed event in the client's binding.
pub fn event(way: Translation, data: &str, id: &str) -> String {
    let Ok(frame) = serde_json::from_str::<Value>(data) else {
        return data.to_string();
    };
    match way {
        Translation::RestToRpc => match (frame.get("result"), frame.get("error")) {
            (Some(result), _) => result.to_string(),
            (None, Some(error)) => {
                let code = error.get("code").and_then(Value::as_i64).unwrap_or(INTERNAL_ERROR);
                let (status, name) = rest_status_of(code);
                let message = error.get("message").cloned().unwrap_or(Value::Null);
                json!({"error": {"code": status.as_u16(), "status": name, "message": message}}).to_string()
            }
            (None, None) => data.to_string(),
        },
        Translation::RpcToRest => {
            let id: Value = serde_json::from_str(id).unwrap_or(Value::Null);
            match frame.get("error") {
                Some(error) => {
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": AGENT_ERROR, "message": error.get("message")}})
                        .to_string()
                }
                None => json!({"jsonrpc": "2.0", "id": id, "result": frame}).to_string(),
            }
        }
    }
}

/// A JSON-RPC error code as HTTP+JSON says it.
fn rest_status_of(code: i64) -> (StatusCode, &'static str) {
    match code {
        TASK_NOT_FOUND => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        // TaskNotCancelable, push notifications or the operation not supported.
        -32004..=-32002 => (StatusCode::BAD_REQUEST, "FAILED_PRECONDITION"),
        INVALID_PARAMS | -32600 | -32700 => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        METHOD_NOT_FOUND => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
    }
}

/// The pairs of a query string, decoded.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else { return Vec::new() };
    reqwest::Url::parse(&format!("http://q/?{query}"))
        .map(|url| {
            url.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// A query value as JSON: numbers and booleans typed, the rest strings.
fn typed(value: &str) -> Value {
    match value {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(value.to_string())),
    }
}

/// A path segment, percent-decoded; `None` when it is not UTF-8 once decoded.
fn percent_decode(segment: &str) -> Option<String> {
    let mut out = Vec::with_capacity(segment.len());
    let mut bytes = segment.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hex = [bytes.next()?, bytes.next()?];
        out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::a2a::methods;

    #[test]
    fn requests_both_ways() {
        let get = methods::find("GetTask").unwrap();
        let out = to_rpc(get, &Value::Null, Some("t 1"), "/tasks/t%201?historyLength=3").unwrap();
        let frame: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(frame["params"], json!({"id": "t 1", "historyLength": 3}));
        assert_eq!(frame["method"], "GetTask");
        let out = to_rest(get, &json!({"id": "t 1", "historyLength": 3})).unwrap();
        assert_eq!(
            (out.method, out.suffix.as_str()),
            (reqwest::Method::GET, "/tasks/t%201?historyLength=3")
        );
        let list = methods::find("ListTasks").unwrap();
        let out = to_rest(list, &json!({"pageSize": 2, "contextId": "c"})).unwrap();
        assert_eq!(out.suffix, "/tasks?pageSize=2&contextId=c");
        let push = methods::find("CreateTaskPushNotificationConfig").unwrap();
        assert!(to_rest(push, &json!({})).is_err(), "no task: nothing to say");
    }

    #[test]
    fn push_configs_both_ways() {
        let rpc = |name: &str, body: Value, path: &str| {
            let out = to_rpc(methods::find(name).unwrap(), &body, Some("t1"), path).unwrap();
            serde_json::from_slice::<Value>(&out.body).unwrap()["params"].clone()
        };
        assert_eq!(
            rpc(
                "CreateTaskPushNotificationConfig",
                json!({"url": "https://h/cb", "taskId": "someone-else"}),
                "/tasks/t1/pushNotificationConfigs"
            ),
            json!({"url": "https://h/cb", "taskId": "t1"}),
            "the path's task wins over the body's"
        );
        assert_eq!(
            rpc(
                "GetTaskPushNotificationConfig",
                Value::Null,
                "/tasks/t1/pushNotificationConfigs/p%2F1"
            ),
            json!({"taskId": "t1", "id": "p/1"})
        );
        assert_eq!(
            rpc(
                "ListTaskPushNotificationConfigs",
                Value::Null,
                "/tasks/t1/pushNotificationConfigs?pageSize=5&other=x"
            ),
            json!({"taskId": "t1", "pageSize": 5})
        );
        let rest = |name: &str, params: Value| {
            let out = to_rest(methods::find(name).unwrap(), &params).unwrap();
            (out.method, out.suffix)
        };
        assert_eq!(
            rest("DeleteTaskPushNotificationConfig", json!({"taskId": "t 1", "id": "p"})),
            (reqwest::Method::DELETE, "/tasks/t%201/pushNotificationConfigs/p".into())
        );
        assert_eq!(
            rest("ListTaskPushNotificationConfigs", json!({"taskId": "t", "pageSize": 2})),
            (
                reqwest::Method::GET,
                "/tasks/t/pushNotificationConfigs?pageSize=2".into()
            )
        );
        let create = methods::find("CreateTaskPushNotificationConfig").unwrap();
        let out = to_rest(create, &json!({"taskId": "t", "url": "https://h"})).unwrap();
        assert_eq!(out.suffix, "/tasks/t/pushNotificationConfigs");
        let get = methods::find("GetTaskPushNotificationConfig").unwrap();
        assert!(to_rest(get, &json!({"taskId": "t"})).is_err(), "no config id");
    }

    #[test]
    fn answers_both_ways() {
        let (status, body) = answer(
            Translation::RestToRpc,
            StatusCode::OK,
            br#"{"jsonrpc":"2.0","id":1,"result":{"task":{"id":"t"}}}"#,
            "1",
        );
        assert_eq!(
            (status, String::from_utf8(body).unwrap()),
            (StatusCode::OK, r#"{"task":{"id":"t"}}"#.to_string())
        );
        let (status, body) = answer(
            Translation::RestToRpc,
            StatusCode::OK,
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"Task not found"}}"#,
            "1",
        );
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(String::from_utf8(body).unwrap().contains("NOT_FOUND"));
        let (_, body) = answer(
            Translation::RpcToRest,
            StatusCode::OK,
            br#"{"message":{"parts":[]}}"#,
            "7",
        );
        let frame: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            frame,
            json!({"jsonrpc": "2.0", "id": 7, "result": {"message": {"parts": []}}})
        );
        let (_, body) = answer(
            Translation::RpcToRest,
            StatusCode::NOT_FOUND,
            br#"{"error":{"message":"Task not found"}}"#,
            "7",
        );
        let frame: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(frame["error"]["code"], TASK_NOT_FOUND);
        assert_eq!(
            event(Translation::RestToRpc, r#"{"result":{"statusUpdate":{}}}"#, "1"),
            r#"{"statusUpdate":{}}"#
        );
    }
}
