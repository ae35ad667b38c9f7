//! Who is calling: turns a request's credentials (a JWT bearer token, an API key, or none) into
//! a [`Principal`], or refuses. Transport-neutral: `http` calls it with the request headers.

mod api_key;
mod jwks;
mod jwt;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use sha2::{Digest, Sha256};
use tracing::{debug, info};

pub use api_key::{PREFIX as API_KEY_PREFIX, generate as generate_api_key, hash as hash_api_key};

use crate::config::AuthSettings;
use crate::identity::Principal;

/// Verified tokens remembered, so repeat calls skip signature verification.
const VERIFIED_CAPACITY: u64 = 10_000;
/// The longest a verified token is remembered, even if it is valid for longer; bounds how long
/// a key the IdP withdrew goes on being honoured through the cache.
const VERIFIED_TTL: Duration = Duration::from_secs(5 * 60);
const API_KEY_HEADER: &str = "x-api-key";

/// Why a caller was refused. Every message is safe to log and to return: none holds a token.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no credentials: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("invalid credentials: {0}")]
    Invalid(String),
    #[error("the token lacks a required scope (needs: {})", required.join(" "))]
    InsufficientScope { required: Vec<String> },
}

/// The `auth:` config cannot be put to use (a JWKS file unreadable, a key malformed).
#[derive(Debug, thiserror::Error)]
#[error("auth: {0}")]
pub struct SetupError(String);

/// Authenticates requests against one `auth:` config.
pub struct Authenticator {
    /// `None`: no `auth:` block, every caller is anonymous.
    inner: Option<Inner>,
    anonymous: Arc<Principal>,
}

struct Inner {
    issuers: Vec<jwt::Issuer>,
    api_keys: Vec<api_key::ApiKey>,
    anonymous: bool,
    required_scopes: Vec<String>,
    resource: Option<String>,
    authorization_servers: Vec<String>,
    claims: Vec<String>,
    /// SHA-256 of a token → the principal it verified as.
    verified: moka::sync::Cache<[u8; 32], Verified>,
}

#[derive(Clone)]
struct Verified {
    principal: Arc<Principal>,
    ttl: Duration,
}

struct VerifiedExpiry;

impl moka::Expiry<[u8; 32], Verified> for VerifiedExpiry {
    fn expire_after_create(&self, _: &[u8; 32], value: &Verified, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// What the request presented.
enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

impl Authenticator {
    /// Reads JWKS files and inline keys now (URL keys are fetched on first use).
    pub fn new(settings: Option<&AuthSettings>) -> Result<Self, SetupError> {
        let anonymous = Principal::anonymous();
        let Some(settings) = settings else {
            return Ok(Self { inner: None, anonymous });
        };
        let issuers = settings
            .issuers
            .iter()
            .map(|spec| {
                jwt::Issuer::new(spec, settings).map_err(|e| SetupError(format!("issuer {}: {e}", spec.issuer)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let api_keys = settings
            .api_keys
            .iter()
            .map(|spec| api_key::ApiKey::new(spec).map_err(SetupError))
            .collect::<Result<Vec<_>, _>>()?;
        let mut authorization_servers: Vec<String> = Vec::new();
        for server in settings.issuers.iter().flat_map(|i| &i.authorization_servers) {
            if !authorization_servers.contains(server) {
                authorization_servers.push(server.clone());
            }
        }
        Ok(Self {
            inner: Some(Inner {
                issuers,
                api_keys,
                anonymous: settings.anonymous,
                required_scopes: settings.required_scopes.clone(),
                resource: settings.resource.clone(),
                authorization_servers,
                claims: settings.claims.clone(),
                verified: moka::sync::Cache::builder()
                    .max_capacity(VERIFIED_CAPACITY)
                    .expire_after(VerifiedExpiry)
                    .build(),
            }),
            anonymous,
        })
    }

    /// Whether an `auth:` block is configured (and so protected-resource metadata is served).
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// `auth.resource`, when configured.
    pub fn resource(&self) -> Option<&str> {
        self.inner.as_ref().and_then(|i| i.resource.as_deref())
    }

    /// The authorization servers of all issuers, for protected-resource metadata.
    pub fn authorization_servers(&self) -> &[String] {
        self.inner.as_ref().map_or(&[], |i| &i.authorization_servers)
    }

    /// `auth.required_scopes`.
    pub fn required_scopes(&self) -> &[String] {
        self.inner.as_ref().map_or(&[], |i| &i.required_scopes)
    }

    /// Who the request's credentials say is calling. Failures are logged here, with the reason
    /// and never the credential.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Principal>, AuthError> {
        let Some(inner) = &self.inner else {
            return Ok(Arc::clone(&self.anonymous));
        };
        let result = match credential(headers) {
            Ok(None) if inner.anonymous => Ok(Arc::clone(&self.anonymous)),
            Ok(None) => Err(AuthError::Missing),
            Ok(Some(Credential::Bearer(token))) if looks_like_jwt(token) => inner.user(token).await,
            Ok(Some(Credential::Bearer(key) | Credential::ApiKey(key))) => api_key::find(&inner.api_keys, key)
                .ok_or_else(|| AuthError::Invalid("not a JWT, and no configured API key matches".into())),
            Err(e) => Err(e),
        };
        match &result {
            Ok(p) => debug!(principal = %p, "authenticated"),
            Err(AuthError::Missing) => debug!("refused: no credentials"),
            Err(e) => info!(reason = %e, "refused credentials"),
        }
        result
    }
}

impl Inner {
    async fn user(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let principal = match self.verified.get(&digest) {
            Some(hit) => hit.principal,
            None => {
                let (principal, exp) = self.verify(token).await.map_err(AuthError::Invalid)?;
                let principal = Arc::new(principal);
                let ttl = exp.saturating_sub(unix_now()).min(VERIFIED_TTL.as_secs());
                if ttl > 0 {
                    self.verified.insert(
                        digest,
                        Verified {
                            principal: Arc::clone(&principal),
                            ttl: Duration::from_secs(ttl),
                        },
                    );
                }
                principal
            }
        };
        // Checked on every call, cache hit or not, so a config reload that adds a scope applies.
        if self.required_scopes.iter().any(|s| !principal.scopes.contains(s)) {
            return Err(AuthError::InsufficientScope {
                required: self.required_scopes.clone(),
            });
        }
        Ok(principal)
    }

    /// Picks the issuer by the (not yet verified) `iss` claim, then verifies fully against it.
    /// Returns the principal and the token's `exp`.
    async fn verify(&self, token: &str) -> Result<(Principal, u64), String> {
        #[derive(serde::Deserialize)]
        struct Unverified {
            iss: Option<String>,
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| "the token is malformed".to_string())?;
        let unverified: Unverified = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| "the token's claims are malformed".to_string())?;
        let iss = unverified.iss.ok_or("the token lacks the `iss` claim")?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.issuer == iss)
            .ok_or("the token's issuer (`iss`) is not one agentmux trusts")?;
        let claims = issuer.verify(token, &header).await?;
        let exp = claims.get("exp").and_then(|v| v.as_u64()).unwrap_or(0);
        Ok((issuer.principal(&claims, &self.claims)?, exp))
    }
}

/// The credential a request carries: `Authorization: Bearer …` first, else `X-API-Key`.
fn credential(headers: &HeaderMap) -> Result<Option<Credential<'_>>, AuthError> {
    let mut authorization = headers.get_all(http::header::AUTHORIZATION).iter();
    if let Some(value) = authorization.next() {
        if authorization.next().is_some() {
            return Err(AuthError::Invalid("more than one Authorization header".into()));
        }
        // The scheme is not echoed: a client that forgot `Bearer ` would have its token logged.
        let text = value.to_str().map_err(|_| not_bearer())?;
        let (scheme, token) = text.trim().split_once(' ').ok_or_else(not_bearer)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(not_bearer());
        }
        return Ok(Some(Credential::Bearer(token)));
    }
    match headers.get(API_KEY_HEADER) {
        Some(value) => {
            let key = value
                .to_str()
                .map_err(|_| AuthError::Invalid("the X-API-Key header is not text".into()))?;
            Ok(Some(Credential::ApiKey(key.trim())))
        }
        None => Ok(None),
    }
}

fn not_bearer() -> AuthError {
    AuthError::Invalid("the Authorization header is not `Bearer <token>`".into())
}

/// Three dot-separated parts: a JWS compact serialization (an unsigned `alg: none` token has an
/// empty third part, and must be refused as a JWT). API keys never contain dots.
fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
