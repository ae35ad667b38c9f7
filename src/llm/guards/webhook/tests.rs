//! Webhook guards against a real HTTP server on 127.0.0.1 that answers as each route says.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use super::super::{Blocked, Guards};
use super::*;
use crate::config::{Builtin, Guard, GuardAction, Recognizer, Secret};

/// What the webhook was sent: the question and the `authorization` header.
type Seen = Arc<Mutex<Vec<(Value, Option<String>)>>>;

async fn answer(
    State(seen): State<Seen>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let question: Value = serde_json::from_str(&body).unwrap();
    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
    seen.lock().unwrap().push((question.clone(), auth));
    let ok = |v: Value| (StatusCode::OK, v.to_string());
    match uri.path() {
        "/allow" => ok(json!({"action": "allow", "note": "unknown fields are ignored"})),
        "/deny" => ok(json!({"action": "deny", "reason": "customer data"})),
        "/deny-quietly" => ok(json!({"action": "deny"})),
        "/rewrite" => {
            let mut body = question["body"].clone();
            body["messages"] = json!([{"role": "user", "content": "rewritten"}]);
            ok(json!({"action": "rewrite", "body": body}))
        }
        "/rewrite-model" => {
            let mut body = question["body"].clone();
            body["model"] = json!("other/model");
            ok(json!({"action": "rewrite", "body": body}))
        }
        "/rewrite-max-tokens" => {
            let mut body = question["body"].clone();
            body["max_completion_tokens"] = json!(100_000);
            ok(json!({"action": "rewrite", "body": body}))
        }
        "/rewrite-tools" => {
            let mut body = question["body"].clone();
            body["tools"] = json!([{"type": "function", "function": {"name": "wire_money"}}]);
            ok(json!({"action": "rewrite", "body": body}))
        }
        "/rewrite-array" => ok(json!({"action": "rewrite", "body": [1, 2]})),
        "/unknown" => ok(json!({"action": "maybe"})),
        "/malformed" => (StatusCode::OK, "allow".into()),
        "/error" => (StatusCode::INTERNAL_SERVER_ERROR, "{\"action\": \"allow\"}".into()),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            ok(json!({"action": "allow"}))
        }
        _ => (StatusCode::NOT_FOUND, String::new()),
    }
}

async fn webhook_server() -> (String, Seen) {
    let seen = Seen::default();
    let router = Router::new()
        .route("/{*mode}", post(answer))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), seen)
}

/// A port nothing listens on: bound, then let go.
async fn refusing_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/check")
}

fn spec(name: &str, url: &str, on_error: OnError) -> WebhookGuard {
    WebhookGuard {
        name: name.into(),
        url: url.into(),
        headers: BTreeMap::from([("Authorization".to_string(), Secret("Bearer dlp-token".into()))]),
        timeout: Duration::from_millis(200),
        on_error,
        models: Vec::new(),
    }
}

fn request_body() -> Map<String, Value> {
    let body =
        json!({"model": "fast", "stream": true, "messages": [{"role": "user", "content": "card 4111 1111 1111 1111"}]});
    body.as_object().unwrap().clone()
}

fn principal() -> Principal {
    let mut principal = (*Principal::anonymous()).clone();
    principal.kind = crate::identity::PrincipalKind::ApiKey;
    principal.id = "ci".into();
    principal
}

/// Runs the guards (a masking card recognizer, then `webhooks`) on a request for `fast`.
async fn guard(webhooks: &[WebhookGuard], body: &mut Map<String, Value>) -> Result<Vec<String>, Blocked> {
    let cards = Guard {
        name: "cards".into(),
        recognizer: Recognizer::Builtin(Builtin::CreditCard),
        action: GuardAction::Mask,
        on_request: true,
        on_response: false,
        models: Vec::new(),
    };
    let guards = Guards::new(vec![cards], webhooks).unwrap();
    let principal = principal();
    let models = ["fast".to_string(), "openai/gpt-4.1".to_string()];
    let asking = Asking {
        models: &models,
        model: "fast",
        api: "chat",
        principal: &principal,
    };
    guards.request(&asking, body).await
}

fn undecided(outcome: Result<Vec<String>, Blocked>) -> (String, String) {
    match outcome {
        Err(Blocked::Webhook(Stop::Undecided { guard, problem })) => (guard, problem),
        Err(Blocked::Webhook(other)) => panic!("{other:?}"),
        Err(Blocked::Rejected(guard)) => panic!("rejected by {guard}"),
        Ok(masked) => panic!("allowed ({masked:?})"),
    }
}

#[tokio::test]
async fn an_allowing_webhook_sees_the_guarded_body_and_agentmux_credentials_only() {
    let (base, seen) = webhook_server().await;
    let mut body = request_body();
    let masked = guard(&[spec("dlp", &format!("{base}/allow"), OnError::Deny)], &mut body)
        .await
        .ok()
        .unwrap();
    assert_eq!(masked, ["cards"]);
    let seen = seen.lock().unwrap();
    let (question, auth) = &seen[0];
    assert_eq!(question["guard"], "dlp");
    assert_eq!(question["model"], "fast");
    assert_eq!(question["api"], "chat");
    assert_eq!(question["principal"], "ApiKey::\"ci\"");
    assert_eq!(
        question["body"]["messages"][0]["content"], "card [REDACTED:cards]",
        "webhooks run after the recognizers"
    );
    assert_eq!(auth.as_deref(), Some("Bearer dlp-token"));
    assert_eq!(body, {
        let mut masked = request_body();
        masked["messages"][0]["content"] = json!("card [REDACTED:cards]");
        masked
    });
}

#[tokio::test]
async fn a_deny_carries_its_reason_whatever_on_error_says() {
    let (base, _) = webhook_server().await;
    for on_error in [OnError::Deny, OnError::Allow] {
        let outcome = guard(&[spec("dlp", &format!("{base}/deny"), on_error)], &mut request_body()).await;
        let Err(Blocked::Webhook(stop)) = outcome else {
            panic!("not denied")
        };
        assert_eq!(
            stop,
            Stop::Denied {
                guard: "dlp".into(),
                reason: Some("customer data".into())
            }
        );
    }
    let quiet = guard(
        &[spec("dlp", &format!("{base}/deny-quietly"), OnError::Deny)],
        &mut request_body(),
    )
    .await;
    assert!(matches!(
        quiet,
        Err(Blocked::Webhook(Stop::Denied { reason: None, .. }))
    ));
}

#[tokio::test]
async fn a_rewrite_replaces_the_body_and_the_next_webhook_sees_it() {
    let (base, seen) = webhook_server().await;
    let mut body = request_body();
    let webhooks = [
        spec("rewriter", &format!("{base}/rewrite"), OnError::Deny),
        spec("after", &format!("{base}/allow"), OnError::Deny),
    ];
    guard(&webhooks, &mut body).await.ok().unwrap();
    assert_eq!(body["messages"], json!([{"role": "user", "content": "rewritten"}]));
    assert_eq!((&body["model"], &body["stream"]), (&json!("fast"), &json!(true)));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "in config order, each once");
    assert_eq!(seen[1].0["guard"], "after");
    assert_eq!(seen[1].0["body"]["messages"][0]["content"], "rewritten");
}

#[tokio::test]
async fn answers_that_decide_nothing_fail_closed_by_default() {
    let (base, _) = webhook_server().await;
    let cases = [
        ("/malformed", "its answer is not an allow, deny or rewrite"),
        ("/unknown", "its answer is not an allow, deny or rewrite"),
        ("/error", "it answered 500"),
        ("/rewrite-model", "its rewrite changes `model`"),
        ("/rewrite-max-tokens", "its rewrite changes `max_completion_tokens`"),
        ("/rewrite-tools", "its rewrite changes `tools`"),
        ("/rewrite-array", "its rewrite's `body` is not a JSON object"),
    ];
    for (path, expected) in cases {
        let mut body = request_body();
        let outcome = guard(&[spec("dlp", &format!("{base}{path}"), OnError::Deny)], &mut body).await;
        let (guard, problem) = undecided(outcome);
        assert_eq!(guard, "dlp");
        assert!(problem.starts_with(expected), "{path}: {problem}");
        assert_eq!(body["model"], "fast", "{path}: the body is left as it was");
    }
}

#[tokio::test]
async fn a_slow_webhook_is_given_up_on_at_its_timeout() {
    let (base, _) = webhook_server().await;
    let started = Instant::now();
    let outcome = guard(
        &[spec("dlp", &format!("{base}/slow"), OnError::Deny)],
        &mut request_body(),
    )
    .await;
    let (_, problem) = undecided(outcome);
    assert!(problem.starts_with("no answer within 200ms"), "{problem}");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_webhook_fails_closed() {
    let url = refusing_url().await;
    let (guard_name, problem) = undecided(guard(&[spec("dlp", &url, OnError::Deny)], &mut request_body()).await);
    assert_eq!(guard_name, "dlp");
    assert!(problem.contains("error sending request"), "{problem}");
}

#[tokio::test]
async fn on_error_allow_lets_undecided_requests_through_unchanged() {
    let (base, _) = webhook_server().await;
    let urls = [
        format!("{base}/malformed"),
        format!("{base}/error"),
        format!("{base}/rewrite-model"),
        format!("{base}/slow"),
        refusing_url().await,
    ];
    for url in urls {
        let mut body = request_body();
        let outcome = guard(&[spec("dlp", &url, OnError::Allow)], &mut body).await;
        assert!(outcome.is_ok(), "{url}");
        assert_eq!(body["messages"][0]["content"], "card [REDACTED:cards]", "{url}");
    }
}

#[tokio::test]
async fn webhooks_apply_only_to_their_models() {
    let (base, seen) = webhook_server().await;
    let mut elsewhere = spec("dlp", &format!("{base}/deny"), OnError::Deny);
    elsewhere.models = vec!["anthropic/claude-haiku-4-5".into()];
    guard(&[elsewhere], &mut request_body()).await.ok().unwrap();
    assert!(seen.lock().unwrap().is_empty(), "not asked");
}
