//! An issuer's signing keys: read once from a file or inline JWKS, or fetched from a URL and
//! refreshed — on an unknown `kid`, at most once per [`REFETCH_INTERVAL`], so a flood of tokens
//! naming made-up keys cannot turn agentmux into a load generator against the IdP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures_util::StreamExt;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tracing::{info, warn};

use crate::config::JwksSource;

/// The least time between two fetches of one issuer's JWKS.
pub(super) const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Keys fetched longer ago than this are refreshed on the next token, so that a key the IdP
/// withdrew stops being accepted.
const MAX_AGE: Duration = Duration::from_secs(15 * 60);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWKS is a few kilobytes; anything far larger is not one.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// One verification key.
pub(super) struct Key {
    pub kid: Option<String>,
    /// The JWK's `alg`, when it names one: the key is then good for that algorithm only.
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
}

impl Key {
    /// Whether a token signed with `alg` may be verified with this key.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.alg.is_none_or(|a| a == alg) && self.key.family() == alg.family()
    }
}

/// Parses a JWKS document. Keys agentmux cannot use (symmetric `oct` keys, encryption keys,
/// unknown types) are skipped rather than failing the whole set, as IdPs publish mixed sets.
pub(super) fn parse(doc: &serde_json::Value) -> Result<Vec<Key>, String> {
    let Some(keys) = doc.get("keys").and_then(|k| k.as_array()) else {
        return Err("a JWKS is a JSON object with a `keys` array".into());
    };
    let mut out = Vec::new();
    for value in keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else {
            continue;
        };
        // An HMAC key in a public JWKS would let anyone who reads it sign tokens.
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
            continue;
        }
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(a) => match Algorithm::try_from(a) {
                Ok(a) => Some(a),
                Err(_) => continue,
            },
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        out.push(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    Ok(out)
}

/// Where one issuer's keys come from, and the keys last read.
pub(super) struct KeyStore {
    url: Option<String>,
    keys: ArcSwap<Vec<Key>>,
    /// When the last fetch was tried (URL sources only); `None` before the first. The async
    /// mutex also makes concurrent callers wait for one fetch instead of each starting their own.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    client: Option<reqwest::Client>,
}

/// What to do when a token's key is not among the known ones.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Refresh {
    /// Fetch only if the keys were never fetched or have grown old.
    IfStale,
    /// The token names a key we lack: fetch unless we did so within [`REFETCH_INTERVAL`].
    UnknownKey,
}

impl KeyStore {
    /// Reads file and inline sources now; URL sources are fetched on first use.
    pub fn new(source: &JwksSource) -> Result<Self, String> {
        let (url, keys) = match source {
            JwksSource::Url(url) => (Some(url.clone()), Vec::new()),
            JwksSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let doc: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
                (None, parse(&doc).map_err(|e| format!("{}: {e}", path.display()))?)
            }
            JwksSource::Inline(doc) => (None, parse(doc).map_err(|e| format!("`keys`: {e}"))?),
        };
        if url.is_none() && keys.is_empty() {
            return Err("the JWKS holds no usable public signing key".into());
        }
        let client = match &url {
            Some(_) => Some(
                reqwest::Client::builder()
                    .connect_timeout(FETCH_TIMEOUT)
                    .timeout(FETCH_TIMEOUT)
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client for the JWKS: {e}"))?,
            ),
            None => None,
        };
        Ok(Self {
            url,
            keys: ArcSwap::from_pointee(keys),
            last_fetch: tokio::sync::Mutex::new(None),
            client,
        })
    }

    /// Pretends the last fetch happened `by` earlier, to test the rate limit without waiting.
    #[cfg(test)]
    pub async fn backdate(&self, by: Duration) {
        let mut last = self.last_fetch.lock().await;
        *last = last.and_then(|at| at.checked_sub(by));
    }

    pub fn keys(&self) -> Arc<Vec<Key>> {
        self.keys.load_full()
    }

    /// Fetches the JWKS again if `why` and the rate limit allow; returns whether the keys were
    /// replaced. A failed fetch keeps the keys we had.
    pub async fn refresh(&self, issuer: &str, why: Refresh) -> bool {
        let (Some(url), Some(client)) = (&self.url, &self.client) else {
            return false;
        };
        let mut last = match why {
            // Stale keys still verify: while another request is fetching, use them, not wait.
            Refresh::IfStale if !self.keys.load().is_empty() => match self.last_fetch.try_lock() {
                Ok(guard) => guard,
                Err(_) => return false,
            },
            _ => self.last_fetch.lock().await,
        };
        let due = match (*last, why) {
            (None, _) => true,
            (Some(at), Refresh::IfStale) => at.elapsed() >= MAX_AGE,
            (Some(at), Refresh::UnknownKey) => at.elapsed() >= REFETCH_INTERVAL,
        };
        if !due {
            return false;
        }
        *last = Some(Instant::now());
        match fetch(client, url).await.and_then(|doc| parse(&doc)) {
            Ok(keys) => {
                info!(issuer, url = %url, keys = keys.len(), "fetched JWKS");
                self.keys.store(Arc::new(keys));
                true
            }
            Err(reason) => {
                warn!(issuer, url = %url, %reason, "cannot fetch JWKS; keeping the keys we had");
                false
            }
        }
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<serde_json::Value, String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if response.content_length().is_some_and(|n| n > MAX_JWKS_BYTES as u64) {
        return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))
}
