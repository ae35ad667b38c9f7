use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use crate::config::{ApiKeySpec, IssuerSpec, JwksSource, Secret};
use crate::identity::PrincipalKind;

const ISS: &str = "https://idp.test";
const AUD: &str = "agentmux";
const PRIVATE_PEM: &[u8] = include_bytes!("../../tests/keys/test-rsa-private.pem");
const PUBLIC_PEM: &[u8] = include_bytes!("../../tests/keys/test-rsa-public.pem");
const API_KEY: &str = "amx_test-key-for-unit-tests-only-0000000000000";

fn rsa() -> EncodingKey {
    EncodingKey::from_rsa_pem(PRIVATE_PEM).unwrap()
}

fn jwk(kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(&rsa(), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(kid.into());
    serde_json::to_value(jwk).unwrap()
}

fn now() -> u64 {
    unix_now()
}

fn claims() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "alice", "exp": now() + 600,
        "groups": ["payments", "eng"], "scope": "mcp:tools mcp:read", "tenant": "acme", "ignored": 1,
    })
}

fn sign(claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &rsa()).unwrap()
}

fn issuer(jwks: JwksSource) -> IssuerSpec {
    IssuerSpec {
        name: None,
        reserved: Vec::new(),
        token_types: Vec::new(),
        issuer: ISS.into(),
        audiences: vec![AUD.into()],
        jwks,
        algorithms: vec!["RS256".into()],
        groups_claim: "groups".into(),
        scopes_claim: None,
        authorization_servers: vec![ISS.into()],
    }
}

fn settings(jwks: JwksSource) -> AuthSettings {
    AuthSettings {
        issuers: vec![issuer(jwks)],
        api_keys: vec![ApiKeySpec {
            name: "ci-bot".into(),
            hash: Secret(hash_api_key(API_KEY)),
            groups: vec!["ci".into()],
        }],
        anonymous: false,
        resource: None,
        required_scopes: Vec::new(),
        leeway: Duration::from_secs(60),
        claims: vec!["tenant".into()],
    }
}

fn inline() -> AuthSettings {
    settings(JwksSource::Inline(json!({ "keys": [jwk("k1")] })))
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    headers
}

async fn check(settings: &AuthSettings, headers: &HeaderMap) -> Result<Arc<Principal>, AuthError> {
    Authenticator::new(Some(settings)).unwrap().authenticate(headers).await
}

fn invalid_because(result: Result<Arc<Principal>, AuthError>, words: &str) {
    match result {
        Err(AuthError::Invalid(reason)) => assert!(reason.contains(words), "{reason:?} lacks {words:?}"),
        other => panic!("expected Invalid({words}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_token_yields_its_principal() {
    let p = check(&inline(), &bearer(&sign(&claims(), Some("k1")))).await.unwrap();
    assert_eq!(p.kind, PrincipalKind::User);
    assert_eq!(p.id, "alice");
    assert_eq!(p.issuer.as_deref(), Some(ISS));
    assert_eq!(p.groups, ["payments", "eng"]);
    assert_eq!(p.scopes, ["mcp:tools", "mcp:read"]);
    assert_eq!(Value::Object(p.claims.clone()), json!({ "tenant": "acme" }));
}

#[tokio::test]
async fn groups_and_scopes_come_in_either_shape() {
    let mut c = claims();
    c["groups"] = json!("payments eng");
    c.as_object_mut().unwrap().remove("scope");
    c["scp"] = json!(["a", "b"]);
    let p = check(&inline(), &bearer(&sign(&c, Some("k1")))).await.unwrap();
    assert_eq!(p.groups, ["payments", "eng"]);
    assert_eq!(p.scopes, ["a", "b"]);
}

#[tokio::test]
async fn a_token_without_kid_uses_the_only_fitting_key() {
    check(&inline(), &bearer(&sign(&claims(), None))).await.unwrap();
    let two = settings(JwksSource::Inline(json!({ "keys": [jwk("k1"), jwk("k2")] })));
    invalid_because(check(&two, &bearer(&sign(&claims(), None))).await, "several");
}

#[tokio::test]
async fn time_audience_and_issuer_are_checked() {
    let mut expired = claims();
    expired["exp"] = json!(now() - 120);
    invalid_because(check(&inline(), &bearer(&sign(&expired, Some("k1")))).await, "expired");

    let mut within_leeway = claims();
    within_leeway["exp"] = json!(now() - 10);
    check(&inline(), &bearer(&sign(&within_leeway, Some("k1"))))
        .await
        .unwrap();

    let mut early = claims();
    early["nbf"] = json!(now() + 600);
    invalid_because(
        check(&inline(), &bearer(&sign(&early, Some("k1")))).await,
        "not valid yet",
    );

    let mut aud = claims();
    aud["aud"] = json!("someone-else");
    invalid_because(check(&inline(), &bearer(&sign(&aud, Some("k1")))).await, "audience");

    let mut iss = claims();
    iss["iss"] = json!("https://evil.test");
    invalid_because(check(&inline(), &bearer(&sign(&iss, Some("k1")))).await, "issuer");

    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    invalid_because(check(&inline(), &bearer(&sign(&no_exp, Some("k1")))).await, "exp");
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT", "kid": "k1"})),
        b64(claims())
    );
    invalid_because(check(&inline(), &bearer(&none)).await, "malformed");

    // The classic key-confusion attack: HMAC keyed with the issuer's public key.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let hs = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(PUBLIC_PEM)).unwrap();
    invalid_because(check(&inline(), &bearer(&hs)).await, "algorithm");

    let genuine = sign(&claims(), Some("k1"));
    let (head, _) = genuine.rsplit_once('.').unwrap();
    let mut tampered_claims = claims();
    tampered_claims["sub"] = json!("root");
    let (_, sig) = genuine.rsplit_once('.').unwrap();
    let tampered = format!("{}.{}.{sig}", head.split('.').next().unwrap(), b64(tampered_claims));
    invalid_because(check(&inline(), &bearer(&tampered)).await, "signature");

    invalid_because(check(&inline(), &bearer("abc.def.ghi")).await, "malformed");
    invalid_because(check(&inline(), &bearer("garbage")).await, "no configured API key");
    invalid_because(check(&inline(), &bearer(&sign(&claims(), Some("nope")))).await, "kid");
}

#[tokio::test]
async fn eddsa_keys_work_when_pinned() {
    // PKCS#8 v1 wrapping of an Ed25519 seed: fixed prefix, then the 32 seed bytes.
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    der.extend_from_slice(&[7u8; 32]);
    let key = EncodingKey::from_ed_der(&der);
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).unwrap();
    jwk.common.key_id = Some("ed".into());
    let mut s = settings(JwksSource::Inline(json!({ "keys": [jwk] })));
    s.issuers[0].algorithms = vec!["EdDSA".into()];
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("ed".into());
    let token = jsonwebtoken::encode(&header, &claims(), &key).unwrap();
    assert_eq!(check(&s, &bearer(&token)).await.unwrap().id, "alice");
    // An RS256 token is refused by an issuer pinned to EdDSA, whatever its signature.
    invalid_because(check(&s, &bearer(&sign(&claims(), Some("ed")))).await, "pinned");
}

#[tokio::test]
async fn api_keys_match_by_hash() {
    let p = check(&inline(), &bearer(API_KEY)).await.unwrap();
    assert_eq!(
        (p.kind, p.id.as_str(), p.groups.as_slice()),
        (PrincipalKind::ApiKey, "ci-bot", &["ci".to_string()][..])
    );
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_static(API_KEY));
    assert_eq!(check(&inline(), &headers).await.unwrap().id, "ci-bot");
    headers.insert("x-api-key", HeaderValue::from_static("amx_wrong"));
    invalid_because(check(&inline(), &headers).await, "API key");
}

#[test]
fn generated_keys_have_the_documented_shape() {
    let key = generate_api_key().unwrap();
    assert!(key.starts_with("amx_") && key.len() == 4 + 43, "{key}");
    assert_ne!(key, generate_api_key().unwrap());
    assert!(hash_api_key(&key).starts_with("sha256:") && hash_api_key(&key).len() == 7 + 64);
}

#[tokio::test]
async fn missing_credentials_depend_on_anonymous() {
    assert_eq!(check(&inline(), &HeaderMap::new()).await, Err(AuthError::Missing));
    let mut open = inline();
    open.anonymous = true;
    let p = check(&open, &HeaderMap::new()).await.unwrap();
    assert_eq!(p.kind, PrincipalKind::Anonymous);
    // Presented and wrong is refused even where anonymous callers are let in.
    invalid_because(check(&open, &bearer("garbage")).await, "API key");
    // No `auth:` at all: everyone is anonymous.
    let none = Authenticator::new(None).unwrap();
    assert_eq!(
        none.authenticate(&bearer("x")).await.unwrap().kind,
        PrincipalKind::Anonymous
    );
}

#[tokio::test]
async fn required_scopes_are_enforced_on_tokens() {
    let mut s = inline();
    s.required_scopes = vec!["mcp:tools".into(), "mcp:admin".into()];
    let result = check(&s, &bearer(&sign(&claims(), Some("k1")))).await;
    assert_eq!(
        result,
        Err(AuthError::InsufficientScope {
            required: s.required_scopes.clone()
        })
    );
    s.required_scopes.pop();
    check(&s, &bearer(&sign(&claims(), Some("k1")))).await.unwrap();
}

#[tokio::test]
async fn verified_tokens_are_cached() {
    let auth = Authenticator::new(Some(&inline())).unwrap();
    let headers = bearer(&sign(&claims(), Some("k1")));
    let first = auth.authenticate(&headers).await.unwrap();
    let second = auth.authenticate(&headers).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
}

#[tokio::test]
async fn file_jwks_is_read_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, json!({ "keys": [jwk("k1")] }).to_string()).unwrap();
    let s = settings(JwksSource::File(path.clone()));
    check(&s, &bearer(&sign(&claims(), Some("k1")))).await.unwrap();
    let missing = settings(JwksSource::File(dir.path().join("absent.json")));
    assert!(Authenticator::new(Some(&missing)).is_err());
}

/// A JWKS endpoint on loopback that counts fetches and can rotate its keys.
async fn jwks_server(keys: Arc<std::sync::Mutex<Value>>, fetches: Arc<AtomicUsize>) -> String {
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            fetches.fetch_add(1, Ordering::SeqCst);
            let body = keys.lock().unwrap().clone();
            async move { body.to_string() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/jwks")
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_interval() {
    let keys = Arc::new(std::sync::Mutex::new(json!({ "keys": [jwk("k1")] })));
    let fetches = Arc::new(AtomicUsize::new(0));
    let url = jwks_server(Arc::clone(&keys), Arc::clone(&fetches)).await;
    let auth = Authenticator::new(Some(&settings(JwksSource::Url(url)))).unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 0, "fetched lazily");

    auth.authenticate(&bearer(&sign(&claims(), Some("k1")))).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // The IdP rotates in k2; right after a fetch, a token naming it cannot trigger another.
    *keys.lock().unwrap() = json!({ "keys": [jwk("k1"), jwk("k2")] });
    let k2 = bearer(&sign(&claims(), Some("k2")));
    invalid_because(auth.authenticate(&k2).await, "kid");
    for n in 0..50 {
        let garbage = bearer(&sign(&claims(), Some(&format!("garbage-{n}"))));
        invalid_because(auth.authenticate(&garbage).await, "kid");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // Once the interval has passed, an unknown kid fetches again, and then verifies.
    let store = auth.inner.as_ref().unwrap().issuers[0].key_store();
    store.backdate(jwks::REFETCH_INTERVAL).await;
    auth.authenticate(&k2).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    invalid_because(auth.authenticate(&bearer(&sign(&claims(), Some("other")))).await, "kid");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

// === several issuers, token types ===

const PARTNER: &str = "https://partner.test";

fn two_issuers() -> AuthSettings {
    let mut s = inline();
    s.issuers[0].reserved = vec!["partner".into()];
    let mut partner = issuer(JwksSource::Inline(json!({ "keys": [jwk("k1")] })));
    partner.issuer = PARTNER.into();
    partner.name = Some("partner".into());
    s.issuers.push(partner);
    s
}

#[tokio::test]
async fn a_second_issuer_cannot_mint_the_first_ones_users_or_groups() {
    let s = two_issuers();
    let mut c = claims();
    c["iss"] = json!(PARTNER);
    let p = check(&s, &bearer(&sign(&c, Some("k1")))).await.unwrap();
    assert_eq!(p.id, "partner/alice");
    assert_eq!(p.groups, ["partner/payments", "partner/eng"]);
    // The unprefixed issuer may not reach into the partner's namespace either.
    let mut c = claims();
    c["sub"] = json!("partner/alice");
    invalid_because(
        check(&s, &bearer(&sign(&c, Some("k1")))).await,
        "namespace of issuer `partner`",
    );
    let mut c = claims();
    c["groups"] = json!(["partner/payments"]);
    invalid_because(
        check(&s, &bearer(&sign(&c, Some("k1")))).await,
        "namespace of issuer `partner`",
    );
    // Its own users keep their plain names.
    assert_eq!(
        check(&s, &bearer(&sign(&claims(), Some("k1")))).await.unwrap().id,
        "alice"
    );
}

#[tokio::test]
async fn only_access_token_types_are_accepted() {
    let typed = |typ: Option<&str>| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("k1".into());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, &claims(), &rsa()).unwrap()
    };
    let s = inline();
    for ok in [None, Some("JWT"), Some("at+jwt"), Some("application/at+JWT")] {
        assert!(check(&s, &bearer(&typed(ok))).await.is_ok(), "{ok:?}");
    }
    for refused in ["logout+jwt", "dpop+jwt", "secevent+jwt"] {
        invalid_because(
            check(&s, &bearer(&typed(Some(refused)))).await,
            "not an access token type",
        );
    }
    let mut strict = inline();
    strict.issuers[0].token_types = vec!["at+jwt".into()];
    assert!(check(&strict, &bearer(&typed(Some("at+jwt")))).await.is_ok());
    for refused in [None, Some("JWT")] {
        invalid_because(
            check(&strict, &bearer(&typed(refused))).await,
            "not an access token type",
        );
    }
}
