//! Who is calling: the principal that authentication establishes, authorization decides about,
//! audit records and a session is bound to. A leaf type every layer may use.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// What kind of credential established a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A JWT bearer token: `User::"<sub>"` in policies.
    User,
    /// An API key from config: `ApiKey::"<name>"`.
    ApiKey,
    /// No credential, where config allows it (or no `auth:` at all): `Anonymous::"anonymous"`.
    Anonymous,
}

/// An authenticated caller. Holds no token or key: only what was verified from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// `sub` for users, the key's name for API keys, `anonymous` otherwise.
    pub id: String,
    /// The token's `iss` (users only).
    pub issuer: Option<String>,
    pub groups: Vec<String>,
    /// OAuth scopes granted by the token (`scope` / `scp`).
    pub scopes: Vec<String>,
    /// Claims selected for policies (`auth.claims`), as JSON.
    pub claims: Map<String, Value>,
    /// [`Principal::fingerprint`], computed on first use: once per authentication, since
    /// verified principals are cached and shared.
    pub fingerprint: Fingerprint,
}

/// A principal's fingerprint, computed once. Not part of its identity: two principals compare
/// equal whether or not either has computed it yet.
#[derive(Clone, Default)]
pub struct Fingerprint(std::sync::OnceLock<[u8; 32]>);

impl PartialEq for Fingerprint {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Fingerprint {}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint")
    }
}

impl Principal {
    /// The one anonymous principal, shared (so its fingerprint is computed once).
    pub fn anonymous() -> Arc<Self> {
        static ANONYMOUS: std::sync::OnceLock<Arc<Principal>> = std::sync::OnceLock::new();
        Arc::clone(ANONYMOUS.get_or_init(Self::new_anonymous))
    }

    fn new_anonymous() -> Arc<Self> {
        Arc::new(Self {
            kind: PrincipalKind::Anonymous,
            id: "anonymous".into(),
            issuer: None,
            groups: Vec::new(),
            scopes: Vec::new(),
            claims: Map::new(),
            fingerprint: Fingerprint::default(),
        })
    }

    /// The Cedar entity type of this principal.
    pub fn entity_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::User => "User",
            PrincipalKind::ApiKey => "ApiKey",
            PrincipalKind::Anonymous => "Anonymous",
        }
    }

    /// Whether `other` is the same caller, for binding a session to who opened it. Users are the
    /// same when issuer and subject are; groups and scopes may change with a refreshed token.
    pub fn same_caller(&self, other: &Self) -> bool {
        self.kind == other.kind && self.id == other.id && self.issuer == other.issuer
    }
}

impl Principal {
    /// SHA-256 of everything policies can see of this principal: equal fingerprints, equal
    /// decisions. Keys remembered decisions and filtered lists.
    pub fn fingerprint(&self) -> [u8; 32] {
        *self.fingerprint.0.get_or_init(|| self.compute_fingerprint())
    }

    fn compute_fingerprint(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        // Every field length-prefixed, so no two different principals write the same bytes.
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(self.entity_type().as_bytes());
        field(self.id.as_bytes());
        field(self.issuer.as_deref().unwrap_or("").as_bytes());
        for list in [&self.groups, &self.scopes] {
            field(&(list.len() as u64).to_le_bytes());
            list.iter().for_each(|v| field(v.as_bytes()));
        }
        field(serde_json::to_string(&self.claims).unwrap_or_default().as_bytes());
        h.finalize().into()
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{:?}", self.entity_type(), self.id)
    }
}

/// Who sends one HTTP request: the principal authentication established and the client's
/// address, gathered once by the edge (`http`) and read by every protocol's handlers.
#[derive(Debug, Clone)]
pub struct Requester {
    pub principal: Arc<Principal>,
    /// The TCP peer (a proxy, when one is in front), for logs.
    pub client: Option<std::net::SocketAddr>,
    /// The client's address as policies see it: the peer, or what trusted proxies report.
    pub client_ip: Option<std::net::IpAddr>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Requester {
    type Rejection = (axum::http::StatusCode, &'static str);

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The edge authenticates every protocol route first. A route it did not cover is
        // agentmux's mistake, and is refused rather than served as anybody.
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "a protocol route was reached without authentication; refused");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "agentmux: this route was reached without authentication\n",
            )
        })
    }
}
