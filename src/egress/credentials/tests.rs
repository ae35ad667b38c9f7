//! Token caching, renewal and errors against a real token endpoint on 127.0.0.1:0.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::post;

use super::*;
use crate::config::Secret;

const SECRET: &str = "s3cr:t with space";

/// What the token endpoint saw, and how it behaves.
#[derive(Default)]
struct Endpoint {
    hits: AtomicUsize,
    refuse: AtomicBool,
    expires_in: Option<u64>,
    delay: Duration,
    forms: Mutex<Vec<String>>,
    auth: Mutex<Vec<Option<String>>>,
}

async fn token(State(ep): State<Arc<Endpoint>>, headers: HeaderMap, body: String) -> impl IntoResponse {
    let n = ep.hits.fetch_add(1, Ordering::SeqCst) + 1;
    ep.forms.lock().unwrap().push(body);
    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
    ep.auth.lock().unwrap().push(auth);
    tokio::time::sleep(ep.delay).await;
    if ep.refuse.load(Ordering::SeqCst) {
        let body = serde_json::json!({"error": "invalid_client", "error_description": "bad secret"});
        return (axum::http::StatusCode::UNAUTHORIZED, body.to_string());
    }
    let mut body = serde_json::json!({"access_token": format!("tok-{n}"), "token_type": "bearer"});
    if let Some(e) = ep.expires_in {
        body["expires_in"] = e.into();
    }
    (axum::http::StatusCode::OK, body.to_string())
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

async fn endpoint(ep: Endpoint) -> (Arc<Endpoint>, String) {
    let ep = Arc::new(ep);
    let base = serve(Router::new().route("/token", post(token)).with_state(Arc::clone(&ep))).await;
    (ep, format!("{base}/token"))
}

fn oauth(token_url: &str, auth_method: ClientAuth) -> OAuthClient {
    OAuthClient {
        token_url: token_url.into(),
        client_id: "agent mux".into(),
        client_secret: Secret(SECRET.into()),
        scopes: vec!["mcp:read".into(), "mcp:call".into()],
        audience: Some("search-api".into()),
        resource: Some("http://127.0.0.1:9/mcp".into()),
        auth_method,
    }
}

fn credentials(token_url: &str, auth_method: ClientAuth) -> Credentials {
    Credentials::new("search", &oauth(token_url, auth_method), &Timeouts::DEFAULT).unwrap()
}

fn text(b: &Bearer) -> String {
    b.header().to_str().unwrap().to_string()
}

/// Moves the clock the credentials read forward by `by`, at once. The clock then runs on: the
/// token endpoint is a real socket, and a paused clock would jump to the next timer (a connect or
/// read timeout) whenever the socket is not ready yet.
async fn skip(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

#[tokio::test]
async fn cached_across_calls_with_basic_auth() {
    let (ep, url) = endpoint(Endpoint::default()).await;
    let c = credentials(&url, ClientAuth::Basic);
    let first = c.bearer().await.unwrap();
    let second = c.bearer().await.unwrap();
    assert_eq!(text(&first), "Bearer tok-1");
    assert!(first.same(&second));
    assert_eq!(ep.hits.load(Ordering::SeqCst), 1);

    let form = ep.forms.lock().unwrap()[0].clone();
    assert_eq!(
        form,
        "grant_type=client_credentials&scope=mcp%3Aread+mcp%3Acall&audience=search-api&resource=http%3A%2F%2F127.0.0.1%3A9%2Fmcp"
    );
    // RFC 6749 §2.3.1: id and secret are form-encoded before Base64.
    let basic = ep.auth.lock().unwrap()[0].clone().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), "agent+mux:s3cr%3At+with+space");
}

#[tokio::test]
async fn post_method_puts_the_credentials_in_the_form() {
    let (ep, url) = endpoint(Endpoint::default()).await;
    credentials(&url, ClientAuth::Post).bearer().await.unwrap();
    let form = ep.forms.lock().unwrap()[0].clone();
    assert!(
        form.ends_with("&client_id=agent+mux&client_secret=s3cr%3At+with+space"),
        "{form}"
    );
    assert_eq!(ep.auth.lock().unwrap()[0], None);
}

#[tokio::test]
async fn refetched_once_due_for_renewal() {
    let (ep, url) = endpoint(Endpoint {
        expires_in: Some(20),
        ..Endpoint::default()
    })
    .await;
    let c = credentials(&url, ClientAuth::Basic);
    assert_eq!(text(&c.bearer().await.unwrap()), "Bearer tok-1");
    skip(Duration::from_secs(17)).await;
    assert_eq!(text(&c.bearer().await.unwrap()), "Bearer tok-1");
    // Renewal is due at 90% of the lifetime (18 s), before the token expires.
    skip(Duration::from_secs(1)).await;
    assert_eq!(text(&c.bearer().await.unwrap()), "Bearer tok-2");
    assert_eq!(text(&c.bearer().await.unwrap()), "Bearer tok-2");
    assert_eq!(ep.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrent_requests_share_one_fetch() {
    let (ep, url) = endpoint(Endpoint {
        delay: Duration::from_millis(200),
        ..Endpoint::default()
    })
    .await;
    let c = credentials(&url, ClientAuth::Basic);
    let all = futures_util::future::join_all((0..8).map(|_| c.bearer())).await;
    assert!(all.iter().all(|b| text(b.as_ref().unwrap()) == "Bearer tok-1"));
    assert_eq!(ep.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refusal_names_the_upstream_and_the_oauth_error() {
    let (ep, url) = endpoint(Endpoint::default()).await;
    ep.refuse.store(true, Ordering::SeqCst);
    let c = credentials(&url, ClientAuth::Basic);
    let error = c.bearer().await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("upstream search: token endpoint {url} answered 401: invalid_client (bad secret)")
    );
    assert!(!error.contains(SECRET));
    // Within the cool-down the error is served without asking again (no socket is touched, so
    // the clock can stand still meanwhile).
    tokio::time::pause();
    assert!(c.bearer().await.is_err());
    tokio::time::resume();
    assert_eq!(ep.hits.load(Ordering::SeqCst), 1);
    skip(FAILURE_COOLDOWN).await;
    assert!(c.bearer().await.is_err());
    assert_eq!(ep.hits.load(Ordering::SeqCst), 2, "asked again after the cool-down");
}

#[tokio::test]
async fn unreachable_endpoint_is_a_credentials_error() {
    let c = credentials("http://127.0.0.1:1/token", ClientAuth::Basic);
    let error = c.bearer().await.unwrap_err();
    assert!(matches!(error, EgressError::Credentials(_)), "{error:?}");
    let error = error.to_string();
    assert!(
        error.starts_with("upstream search: token endpoint http://127.0.0.1:1/token unreachable"),
        "{error}"
    );
}

#[tokio::test]
async fn failed_renewal_keeps_the_token_until_it_expires() {
    let (ep, url) = endpoint(Endpoint {
        expires_in: Some(20),
        ..Endpoint::default()
    })
    .await;
    let c = credentials(&url, ClientAuth::Basic);
    let first = c.bearer().await.unwrap();
    // Due for renewal (18 s), not expired (20 s).
    skip(Duration::from_secs(18)).await;
    ep.refuse.store(true, Ordering::SeqCst);
    assert!(c.bearer().await.unwrap().same(&first), "still valid for 2 s");
    assert_eq!(ep.hits.load(Ordering::SeqCst), 2);
    skip(Duration::from_secs(2)).await;
    let error = c.bearer().await.unwrap_err().to_string();
    assert!(error.contains("invalid_client"), "{error}");
}

#[tokio::test]
async fn renewal_after_401_is_shared_and_not_repeated() {
    let (ep, url) = endpoint(Endpoint::default()).await;
    let c = credentials(&url, ClientAuth::Basic);
    let first = c.bearer().await.unwrap();
    // A token just issued is not replaced: the upstream would refuse the next one too.
    assert!(c.renew(&first).await.unwrap().same(&first));
    skip(MIN_AGE_TO_RENEW).await;
    let second = c.renew(&first).await.unwrap();
    assert_eq!(text(&second), "Bearer tok-2");
    // A request that saw the first token refused too gets the second, without a fetch.
    assert!(c.renew(&first).await.unwrap().same(&second));
    assert!(c.bearer().await.unwrap().same(&second));
    assert_eq!(ep.hits.load(Ordering::SeqCst), 2);
}

/// An upstream that accepts only `Bearer tok-2`, as if it had revoked the first token.
#[tokio::test]
async fn send_renews_and_resends_once_after_401() {
    let (ep, url) = endpoint(Endpoint::default()).await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let upstream = {
        let seen = Arc::clone(&seen);
        serve(Router::new().route(
            "/mcp",
            post(move |headers: HeaderMap| async move {
                let auth = headers.get("authorization").unwrap().to_str().unwrap().to_string();
                seen.lock().unwrap().push(auth.clone());
                if auth == "Bearer tok-2" {
                    axum::http::StatusCode::OK
                } else {
                    axum::http::StatusCode::UNAUTHORIZED
                }
            }),
        ))
        .await
    };
    let c = credentials(&url, ClientAuth::Basic);
    c.bearer().await.unwrap();
    skip(MIN_AGE_TO_RENEW).await;
    let http = reqwest::Client::new();
    let attempt = |auth: Option<HeaderValue>| {
        let request = http
            .post(format!("{upstream}/mcp"))
            .header("authorization", auth.unwrap());
        async move { request.send().await.map_err(|e| EgressError::Transport(e.to_string())) }
    };
    let response = send(Some(&c), attempt).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(*seen.lock().unwrap(), ["Bearer tok-1", "Bearer tok-2"]);
    assert_eq!(ep.hits.load(Ordering::SeqCst), 2);
}

#[test]
fn parses_token_answers() {
    let c = credentials("http://127.0.0.1:1/token", ClientAuth::Basic);
    let now = Instant::now();
    let t = c.parse(br#"{"access_token":"a","expires_in":"100"}"#, now).unwrap();
    assert_eq!(t.expires_at - now, Duration::from_secs(100));
    assert_eq!(t.renew_at - now, Duration::from_secs(90));
    let t = c.parse(br#"{"access_token":"a","token_type":"Bearer"}"#, now).unwrap();
    assert_eq!(t.expires_at - now, DEFAULT_LIFETIME);
    let t = c.parse(br#"{"access_token":"a","expires_in":0}"#, now).unwrap();
    assert_eq!(t.expires_at - now, MIN_LIFETIME);
    let e = c
        .parse(br#"{"access_token":"a","token_type":"DPoP"}"#, now)
        .err()
        .unwrap();
    assert!(e.to_string().contains("issued a `DPoP` token"), "{e}");
    assert!(c.parse(br#"{"token_type":"bearer"}"#, now).is_err());
    assert!(c.parse(b"{\"access_token\":\"a\\nb\"}", now).is_err());
}

#[test]
fn secrets_and_tokens_stay_out_of_debug_and_messages() {
    let c = credentials("http://user:pw@127.0.0.1:1/token?key=k", ClientAuth::Basic);
    let debug = format!("{c:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains("pw") && !debug.contains("key=k"),
        "{debug}"
    );
    let token = c.parse(br#"{"access_token":"tok-secret"}"#, Instant::now()).unwrap();
    let bearer = Bearer(Arc::new(token));
    assert_eq!(format!("{bearer:?}"), "Bearer(<redacted>)");
    assert!(!format!("{:?}", bearer.header()).contains("tok-secret"));
    assert_eq!(c.clean(&format!("bad {SECRET}\n")), "bad <redacted>");
}

#[test]
fn form_encoding() {
    assert_eq!(form_component("a-b_c.d*e"), "a-b_c.d*e");
    assert_eq!(form_component("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    assert_eq!(form_encode(&[("k", "v 1"), ("x", "")]), "k=v+1&x=");
}
