//! DNS-rebinding protection: the Host and Origin a request carries must be ones we serve.
//!
//! A web page can make a browser send requests to a loopback port under a hostile name (DNS
//! rebinding) or from a hostile origin; both are refused before any protocol sees the request.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::Inputs;

pub async fn check_host_and_origin(State(inputs): State<Arc<Inputs>>, request: Request, next: Next) -> Response {
    match refusal(&inputs, &request) {
        Some(message) => {
            tracing::warn!(%message, "refused request");
            inputs.refusal(request.uri().path(), StatusCode::FORBIDDEN, &message)
        }
        None => next.run(request).await,
    }
}

fn refusal(inputs: &Inputs, request: &Request) -> Option<String> {
    let server = &inputs.config.server;
    let header_text = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    let host = header_text(header::HOST).or_else(|| request.uri().authority().map(|a| a.as_str()));
    if let Some(host) = host
        && !host_allowed(&server.allowed_hosts, host)
    {
        return Some(format!("Host `{host}` is not allowed (server.allowed_hosts)"));
    }
    if let Some(origin) = header_text(header::ORIGIN)
        && !origin_allowed(&server.allowed_origins, origin)
    {
        return Some(format!("Origin `{origin}` is not allowed (server.allowed_origins)"));
    }
    None
}

/// `localhost:8080` matches `localhost`; `[::1]:8080` matches `[::1]`.
fn host_allowed(allowed: &[String], host: &str) -> bool {
    let name = strip_port(host);
    allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(name) || a.eq_ignore_ascii_case(host))
}

/// `http://localhost:3000` matches `http://localhost` (any port) or itself.
fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    let (scheme, rest) = origin.split_once("://").unwrap_or(("", origin));
    let without_port = format!("{scheme}://{}", strip_port(rest));
    allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin) || a.eq_ignore_ascii_case(&without_port))
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hosts() {
        let allowed = list(&["localhost", "127.0.0.1", "[::1]"]);
        assert!(host_allowed(&allowed, "localhost:8080"));
        assert!(host_allowed(&allowed, "127.0.0.1"));
        assert!(host_allowed(&allowed, "[::1]:9"));
        assert!(!host_allowed(&allowed, "evil.example:8080"));
        assert!(!host_allowed(&allowed, "localhost.evil.example"));
        assert!(host_allowed(&list(&["*"]), "anything"));
    }

    #[test]
    fn origins() {
        let allowed = list(&["http://localhost", "https://app.example.com:8443"]);
        assert!(origin_allowed(&allowed, "http://localhost:6274"));
        assert!(origin_allowed(&allowed, "https://app.example.com:8443"));
        assert!(!origin_allowed(&allowed, "https://app.example.com"));
        assert!(!origin_allowed(&allowed, "http://evil.example"));
        assert!(!origin_allowed(&allowed, "null"));
    }
}
