//! `/a2a/{agent}/…`: the agent's HTTP+JSON binding, with the specification's paths relative to
//! the interface URL (`POST message:send`, `GET tasks/{id}` …; v0.3's under `v1/`). The path
//! names the method; the request goes to the agent's HTTP+JSON interface unchanged.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method as Verb, Uri};
use serde_json::Value;

use super::A2a;
use super::card::Binding;
use super::exchange::Exchange;
use super::failure::{Fail, Failure, Front};
use super::methods::{self, Method};
use super::outbound::Outbound;

pub async fn any(
    State(a2a): State<Arc<A2a>>,
    Path((name, rest)): Path<(String, String)>,
    who: crate::identity::Requester,
    verb: Verb,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let front = Front::Rest;
    let Some(agent) = a2a.agent(&name) else {
        let (fail, text) = a2a.not_found(&name, false);
        return front.fail(Failure::new(fail, text));
    };
    let Some((method, task)) = route(&verb, &rest) else {
        return front.fail(Failure::new(
            Fail::NoMethod,
            format!("`{verb} {rest}` is not an A2A HTTP+JSON operation"),
        ));
    };
    let asked = headers.get("a2a-version").and_then(|v| v.to_str().ok());
    // v0.3's paths are under `v1/`; the rest are v1.0's, which the header must then say.
    let version = if rest.starts_with("v1/") {
        Some("0.3")
    } else {
        methods::version(asked)
    };
    let Some(version) = version else {
        return front.fail(super::rpc::unsupported(asked));
    };
    let params: Value = if body.is_empty() {
        Value::Null
    } else {
        // As for JSON-RPC params: an object without duplicate keys.
        let read = std::str::from_utf8(&body)
            .map_err(|e| format!("the body: {e}"))
            .and_then(|text| crate::arguments::read_object(text, "the body"));
        match read {
            Ok(params) => params,
            Err(e) => return front.fail(Failure::new(Fail::BadRequest, e)),
        }
    };
    let suffix = match uri.query() {
        Some(query) => format!("/{rest}?{query}"),
        None => format!("/{rest}"),
    };
    let exchange = Exchange {
        a2a: &a2a,
        who: &who,
        headers: &headers,
        agent,
        method,
        version,
        params: &params,
        task,
        front,
    };
    let outbound = Outbound {
        binding: Binding::HttpJson,
        method: verb,
        suffix,
        body,
    };
    exchange.run(outbound).await
}

/// The method a path and verb stand for, and the task id the path names.
fn route<'p>(verb: &Verb, path: &'p str) -> Option<(Method, Option<&'p str>)> {
    let (path, v03) = match path.strip_prefix("v1/") {
        Some(rest) => (rest, true),
        None => (path, false),
    };
    let name = |v1: &'static str, v0: &'static str| methods::find(if v03 { v0 } else { v1 });
    let segments: Vec<&str> = path.split('/').collect();
    // The path goes to the agent as it is: no segment may move it elsewhere there.
    if segments.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
        return None;
    }
    let found = match (verb.as_str(), segments.as_slice()) {
        ("POST", ["message:send"]) => (name("SendMessage", "message/send")?, None),
        ("POST", ["message:stream"]) => (name("SendStreamingMessage", "message/stream")?, None),
        ("GET", ["tasks"]) if !v03 => (name("ListTasks", "")?, None),
        ("GET", ["extendedAgentCard"]) if !v03 => (name("GetExtendedAgentCard", "")?, None),
        ("GET", ["card"]) if v03 => (name("", "agent/getAuthenticatedExtendedCard")?, None),
        ("GET", ["tasks", task]) if !task.contains(':') => (name("GetTask", "tasks/get")?, Some(*task)),
        ("POST", ["tasks", action]) => {
            let (task, op) = action.rsplit_once(':')?;
            let method = match op {
                "cancel" => name("CancelTask", "tasks/cancel")?,
                "subscribe" => name("SubscribeToTask", "tasks/resubscribe")?,
                _ => return None,
            };
            (method, Some(task))
        }
        ("GET", ["tasks", action]) => {
            let task = action.strip_suffix(":subscribe")?;
            (name("SubscribeToTask", "tasks/resubscribe")?, Some(task))
        }
        (verb, ["tasks", task, "pushNotificationConfigs", rest @ ..]) => {
            let method = match (verb, rest) {
                ("POST", []) => name("CreateTaskPushNotificationConfig", "tasks/pushNotificationConfig/set")?,
                ("GET", []) => name("ListTaskPushNotificationConfigs", "tasks/pushNotificationConfig/list")?,
                ("GET", [_]) => name("GetTaskPushNotificationConfig", "tasks/pushNotificationConfig/get")?,
                ("DELETE", [_]) => name(
                    "DeleteTaskPushNotificationConfig",
                    "tasks/pushNotificationConfig/delete",
                )?,
                _ => return None,
            };
            (method, Some(*task))
        }
        _ => return None,
    };
    Some(found).filter(|(_, task)| task.is_none_or(|t| !t.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_methods_and_tasks() {
        fn r(verb: Verb, path: &str) -> Option<(&'static str, Option<&str>)> {
            route(&verb, path).map(|(m, t)| (m.name, t))
        }
        assert_eq!(r(Verb::POST, "message:send"), Some(("SendMessage", None)));
        assert_eq!(r(Verb::POST, "v1/message:stream"), Some(("message/stream", None)));
        assert_eq!(r(Verb::GET, "tasks/t1"), Some(("GetTask", Some("t1"))));
        assert_eq!(r(Verb::POST, "tasks/t1:cancel"), Some(("CancelTask", Some("t1"))));
        assert_eq!(
            r(Verb::GET, "tasks/t1:subscribe"),
            Some(("SubscribeToTask", Some("t1")))
        );
        assert_eq!(r(Verb::GET, "tasks"), Some(("ListTasks", None)));
        assert_eq!(
            r(Verb::DELETE, "tasks/t1/pushNotificationConfigs/p"),
            Some(("DeleteTaskPushNotificationConfig", Some("t1")))
        );
        assert_eq!(
            r(Verb::GET, "v1/card"),
            Some(("agent/getAuthenticatedExtendedCard", None))
        );
        assert_eq!(r(Verb::GET, "tasks/:subscribe"), None);
        assert_eq!(r(Verb::POST, "tasks/t1:explode"), None);
        assert_eq!(r(Verb::GET, "admin"), None);
        assert_eq!(r(Verb::DELETE, "tasks/t1/pushNotificationConfigs/.."), None);
        assert_eq!(r(Verb::GET, "tasks/t1/pushNotificationConfigs/"), None);
    }
}
