//! Liveness, readiness and metrics.
//!
//! `/readyz` and `/metrics` tell whoever asks which upstreams exist, how they fare and what is
//! called how often; `server.metrics_token` keeps that to the scraper that knows the token.
//! `/healthz` says only "alive" and stays open for liveness probes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Inputs;

/// Lets a request through when no token is configured or it carries the right one.
pub async fn require_token(State(inputs): State<Arc<Inputs>>, request: Request, next: Next) -> Response {
    let Some(expected) = &inputs.config.server.metrics_token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    if presented.is_some_and(|token| same_secret(token, &expected.0)) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "operations route refused: missing or wrong metrics token");
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "send the metrics token as `Authorization: Bearer <token>`\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="agentmux-operations""#),
    );
    response
}

/// `Bearer <token>`, the scheme case-insensitive (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares digests in constant time, so neither the content nor the length of the token leaks
/// through timing.
fn same_secret(presented: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(presented.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.ct_eq(&b).into()
}

pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// Ready once every required upstream has been tried (connected and listed, or failed).
pub async fn readyz(State(inputs): State<Arc<Inputs>>) -> impl IntoResponse {
    let waiting: Vec<String> = inputs.protocols.iter().flat_map(|p| p.waiting_for()).collect();
    if waiting.is_empty() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("waiting for: {}\n", waiting.join(", ")),
        )
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(inputs): State<Arc<Inputs>>) -> impl IntoResponse {
    let body = crate::metrics::metrics().encode(inputs.protocols.iter().map(|p| p.sessions()).sum::<u64>());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cre", "s3cret"));
        assert!(!same_secret("s3cret!", "s3cret"));
        assert!(!same_secret("", "s3cret"));
    }
}
