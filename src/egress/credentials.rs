//! agentmux's own credentials toward an upstream: an OAuth 2.0 access token from the client
//! credentials grant (RFC 6749 §4.4), cached, renewed ahead of expiry, and sent as
//! `Authorization: Bearer …`. A client's token is never passed upstream (a token is issued for
//! one audience, and forwarding it would let the upstream act as the client anywhere); this is
//! what is sent instead.
//!
//! One fetch at a time: concurrent requests that find the token stale wait for the one fetch in
//! flight. A failed renewal keeps the current token until it really expires.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use base64::Engine;
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
// Tokio's clock reads the system's monotonic clock as `std::time::Instant` does; tests can pause
// and advance it instead of sleeping through a token's lifetime.
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::EgressError;
use super::http_client::{describe, read_prefix};
use crate::config::{ClientAuth, OAuthClient, Timeouts};

/// One token request, connect to last byte.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Token responses are a few hundred bytes; more is a misconfigured URL.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;
/// Assumed lifetime when the endpoint gives no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Shortest lifetime honoured, so a server that says `expires_in: 0` does not cost a fetch per request.
const MIN_LIFETIME: Duration = Duration::from_secs(1);
/// After a failed fetch, callers get the same error for this long instead of calling the endpoint again.
const FAILURE_COOLDOWN: Duration = Duration::from_secs(1);
/// A token younger than this is not replaced on a 401: the upstream refuses fresh tokens too,
/// and fetching more would only hammer the token endpoint.
const MIN_AGE_TO_RENEW: Duration = Duration::from_secs(1);

/// The access token cache of one upstream; lives as long as the upstream, across reconnects.
pub struct Credentials {
    upstream: Arc<str>,
    oauth: OAuthClient,
    token_url: reqwest::Url,
    /// The token URL without query or user info, for messages.
    shown_url: String,
    http: reqwest::Client,
    current: ArcSwapOption<Token>,
    /// Held while fetching (single flight); remembers the last failure for [`FAILURE_COOLDOWN`].
    fetching: tokio::sync::Mutex<Option<Failure>>,
}

struct Token {
    /// `Bearer …`, marked sensitive.
    header: HeaderValue,
    obtained: Instant,
    renew_at: Instant,
    expires_at: Instant,
}

struct Failure {
    at: Instant,
    error: EgressError,
}

/// A token handed to one request. Two bearers are the same token when they share the `Arc`.
#[derive(Clone)]
pub struct Bearer(Arc<Token>);

// === impl Bearer ===

impl Bearer {
    /// The `Authorization` header value.
    pub fn header(&self) -> HeaderValue {
        self.0.header.clone()
    }

    fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(<redacted>)")
    }
}

// === impl Credentials ===

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("upstream", &self.upstream)
            .field("token_url", &self.shown_url)
            .field("client_id", &self.oauth.client_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn new(upstream: &str, oauth: &OAuthClient, timeouts: &Timeouts) -> Result<Self, EgressError> {
        let token_url = reqwest::Url::parse(&oauth.token_url)
            .map_err(|e| EgressError::Credentials(format!("upstream {upstream}: invalid token_url: {e}")))?;
        let mut shown = token_url.clone();
        shown.set_query(None);
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect.min(TOKEN_TIMEOUT))
            // The client secret goes to the URL configured, nowhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EgressError::Transport(describe(&e)))?;
        Ok(Self {
            upstream: upstream.into(),
            oauth: oauth.clone(),
            token_url,
            shown_url: shown.to_string(),
            http,
            current: ArcSwapOption::empty(),
            fetching: tokio::sync::Mutex::new(None),
        })
    }

    /// A token fit to send: the cached one, or a new one when it is due for renewal.
    pub async fn bearer(&self) -> Result<Bearer, EgressError> {
        if let Some(token) = self.current.load_full()
            && Instant::now() < token.renew_at
        {
            return Ok(Bearer(token));
        }
        self.refresh(None).await
    }

    /// A replacement for a token the upstream refused (401). Requests that saw the same refusal
    /// share one fetch; a token renewed meanwhile is returned as it is.
    pub async fn renew(&self, rejected: &Bearer) -> Result<Bearer, EgressError> {
        self.refresh(Some(rejected)).await
    }

    async fn refresh(&self, rejected: Option<&Bearer>) -> Result<Bearer, EgressError> {
        let mut last_failure = self.fetching.lock().await;
        let now = Instant::now();
        // Whoever held the lock before may have fetched what this caller waited for.
        if let Some(token) = self.current.load_full() {
            let current = Bearer(token);
            let stale = match rejected {
                Some(r) => r.same(&current) && now.duration_since(current.0.obtained) >= MIN_AGE_TO_RENEW,
                None => now >= current.0.renew_at,
            };
            if !stale {
                return Ok(current);
            }
        }
        if let Some(failure) = last_failure.as_ref()
            && now.duration_since(failure.at) < FAILURE_COOLDOWN
        {
            return self.keep_current(failure.error.clone(), rejected);
        }
        match self.fetch().await {
            Ok(token) => {
                let token = Arc::new(token);
                self.current.store(Some(Arc::clone(&token)));
                *last_failure = None;
                Ok(Bearer(token))
            }
            Err(error) => {
                warn!(upstream = %self.upstream, error = %error, "could not get an access token");
                *last_failure = Some(Failure {
                    at: now,
                    error: error.clone(),
                });
                self.keep_current(error, rejected)
            }
        }
    }

    /// After a failed fetch: the current token while it is valid and not refused, else the error.
    fn keep_current(&self, error: EgressError, rejected: Option<&Bearer>) -> Result<Bearer, EgressError> {
        match self.current.load_full() {
            Some(token) if Instant::now() < token.expires_at && rejected.is_none_or(|r| !Arc::ptr_eq(&r.0, &token)) => {
                Ok(Bearer(token))
            }
            _ => Err(error),
        }
    }

    async fn fetch(&self) -> Result<Token, EgressError> {
        let started = Instant::now();
        match tokio::time::timeout(TOKEN_TIMEOUT, self.fetch_once(started)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(self.error(format!("no answer within {} s", TOKEN_TIMEOUT.as_secs()))),
        }
    }

    async fn fetch_once(&self, started: Instant) -> Result<Token, EgressError> {
        let o = &self.oauth;
        let scope = o.scopes.join(" ");
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        if let Some(audience) = &o.audience {
            form.push(("audience", audience));
        }
        if let Some(resource) = &o.resource {
            form.push(("resource", resource));
        }
        let mut request = self
            .http
            .post(self.token_url.clone())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        match o.auth_method {
            ClientAuth::Basic => request = request.header(header::AUTHORIZATION, self.basic_auth()?),
            ClientAuth::Post => {
                form.push(("client_id", &o.client_id));
                form.push(("client_secret", &o.client_secret.0));
            }
        }
        let response = request
            .body(form_encode(&form))
            .send()
            .await
            .map_err(|e| self.error(format!("unreachable: {}", describe(&e))))?;
        let status = response.status();
        let (body, cut) = read_prefix(response, MAX_TOKEN_RESPONSE)
            .await
            .map_err(|e| self.error(format!("reading the answer: {}", describe(&e))))?;
        if !status.is_success() {
            // A refusal is explained by its first bytes; the rest is never read.
            return Err(self.refused(status, &body));
        }
        if cut {
            return Err(self.error(format!("answer larger than {MAX_TOKEN_RESPONSE} bytes")));
        }
        let token = self.parse(&body, started)?;
        info!(
            upstream = %self.upstream,
            token_url = %self.shown_url,
            renew_in_s = token.renew_at.saturating_duration_since(Instant::now()).as_secs(),
            "obtained an access token"
        );
        Ok(token)
    }

    /// `client_secret_basic`: id and secret form-encoded, then Base64 (RFC 6749 §2.3.1).
    fn basic_auth(&self) -> Result<HeaderValue, EgressError> {
        let pair = format!(
            "{}:{}",
            form_component(&self.oauth.client_id),
            form_component(&self.oauth.client_secret.0)
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|_| self.error("the client credentials do not fit a header".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// An error answer: the OAuth `error` and `error_description` (RFC 6749 §5.2) when present.
    fn refused(&self, status: StatusCode, body: &[u8]) -> EgressError {
        #[derive(Deserialize)]
        struct OAuthError {
            error: String,
            error_description: Option<String>,
        }
        let detail = match serde_json::from_slice::<OAuthError>(body) {
            Ok(e) => match e.error_description {
                Some(d) => format!("{} ({})", self.clean(&e.error), self.clean(&d)),
                None => self.clean(&e.error),
            },
            // Not an OAuth answer (a proxy's error page…); its text may echo the request, so it is left out.
            Err(_) => "no OAuth error in the answer".into(),
        };
        self.error(format!("answered {}: {detail}", status.as_u16()))
    }

    fn parse(&self, body: &[u8], started: Instant) -> Result<Token, EgressError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            token_type: Option<String>,
            /// A number, or (some servers) a string holding one.
            expires_in: Option<serde_json::Value>,
        }
        let answer: Answer = serde_json::from_slice(body)
            .map_err(|e| self.error(format!("answered 200 without a token response: {e}")))?;
        if let Some(kind) = &answer.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(self.error(format!(
                "issued a `{}` token; agentmux sends bearer tokens only",
                self.clean(kind)
            )));
        }
        let seconds = match &answer.expires_in {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        let lifetime = seconds
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(DEFAULT_LIFETIME, |s| Duration::from_secs_f64(s.min(1e9)))
            .max(MIN_LIFETIME);
        let mut header = HeaderValue::from_str(&format!("Bearer {}", answer.access_token))
            .map_err(|_| self.error("issued an access token that is not a valid header value".into()))?;
        header.set_sensitive(true);
        Ok(Token {
            header,
            obtained: started,
            renew_at: started + lifetime.mul_f64(0.9),
            expires_at: started + lifetime,
        })
    }

    fn error(&self, what: String) -> EgressError {
        EgressError::Credentials(format!(
            "upstream {}: token endpoint {} {what}",
            self.upstream, self.shown_url
        ))
    }

    /// Server-supplied text for a message: printable, short, and never the secret.
    fn clean(&self, text: &str) -> String {
        let mut out: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
        let secret = &self.oauth.client_secret.0;
        if !secret.is_empty() {
            out = out.replace(secret.as_str(), "<redacted>");
        }
        out
    }
}

/// Sends a request with agentmux's token (when the upstream has credentials). When the upstream
/// answers 401, the token is renewed once and the request sent once more: a 401 means the server
/// did not act on the request, so sending it again is safe whatever it was.
pub async fn send<F, Fut, E>(credentials: Option<&Credentials>, attempt: F) -> Result<reqwest::Response, E>
where
    F: Fn(Option<HeaderValue>) -> Fut,
    Fut: Future<Output = Result<reqwest::Response, E>>,
    E: From<EgressError>,
{
    let Some(credentials) = credentials else {
        return attempt(None).await;
    };
    let bearer = credentials.bearer().await?;
    let response = attempt(Some(bearer.header())).await?;
    if response.status() != StatusCode::UNAUTHORIZED {
        return Ok(response);
    }
    let fresh = credentials.renew(&bearer).await?;
    if fresh.same(&bearer) {
        // Too fresh to replace: the upstream refuses what the token endpoint issues.
        return Ok(response);
    }
    debug!(upstream = %credentials.upstream, "the upstream refused agentmux's token (401); sending again with a new one");
    attempt(Some(fresh.header())).await
}

/// `application/x-www-form-urlencoded` for a list of pairs.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_component(k), form_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One form-encoded component: unreserved bytes stay, space is `+`, the rest `%XX`.
fn form_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests;
