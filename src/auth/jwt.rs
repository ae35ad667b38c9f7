//! JWT bearer tokens: one verifier per configured issuer, and the mapping from verified claims to
//! a [`Principal`].

use std::str::FromStr;
use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::{Map, Value};

use super::jwks::{Key, KeyStore, Refresh};
use crate::config::{AuthSettings, IssuerSpec};
use crate::identity::{Principal, PrincipalKind};

/// One trusted issuer: its pinned algorithms, the checks its tokens must pass, and its keys.
pub(super) struct Issuer {
    pub issuer: String,
    /// Namespace of its subjects and groups (`<name>/<sub>`); `None`: unprefixed.
    name: Option<String>,
    /// Other issuers' namespaces, which an unprefixed issuer's ids may not enter.
    reserved: Vec<String>,
    /// Accepted `typ` headers (normalized); empty: none, `jwt` or `at+jwt`.
    token_types: Vec<String>,
    algorithms: Vec<Algorithm>,
    validation: Validation,
    groups_claim: String,
    scopes_claim: Option<String>,
    keys: KeyStore,
}

impl Issuer {
    pub fn new(spec: &IssuerSpec, settings: &AuthSettings) -> Result<Self, String> {
        let algorithms = spec
            .algorithms
            .iter()
            .map(|a| Algorithm::from_str(a).map_err(|_| format!("unknown algorithm `{a}`")))
            .collect::<Result<Vec<_>, _>>()?;
        // Config refuses these already; checked again because accepting an HMAC algorithm
        // would let anyone holding the public key forge tokens.
        if let Some(a) = algorithms
            .iter()
            .find(|a| a.family() == jsonwebtoken::AlgorithmFamily::Hmac)
        {
            return Err(format!("algorithm {a:?} is not allowed"));
        }
        if let crate::config::JwksSource::Url(url) = &spec.jwks
            && url.starts_with("http://")
        {
            tracing::warn!(issuer = %spec.issuer, jwks = %url, "JWKS over plain http (allowed on loopback only)");
        }
        let Some(&first) = algorithms.first() else {
            return Err("no algorithms".into());
        };
        let mut validation = Validation::new(first);
        validation.algorithms = algorithms.clone();
        validation.leeway = settings.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_audience(&spec.audiences);
        validation.set_issuer(&[&spec.issuer]);
        // A token without `exp` would be valid forever; without `aud` it could be meant for
        // any service the IdP issues tokens for.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Self {
            issuer: spec.issuer.clone(),
            name: spec.name.clone(),
            reserved: spec.reserved.clone(),
            token_types: spec.token_types.clone(),
            algorithms,
            validation,
            groups_claim: spec.groups_claim.clone(),
            scopes_claim: spec.scopes_claim.clone(),
            keys: KeyStore::new(&spec.jwks)?,
        })
    }

    #[cfg(test)]
    pub fn key_store(&self) -> &KeyStore {
        &self.keys
    }

    /// Verifies signature and claims; returns the claims.
    pub async fn verify(&self, token: &str, header: &Header) -> Result<Map<String, Value>, String> {
        self.check_type(header.typ.as_deref())?;
        if !self.algorithms.contains(&header.alg) {
            return Err(format!(
                "algorithm {:?} is not one this issuer is pinned to",
                header.alg
            ));
        }
        self.keys.refresh(&self.issuer, Refresh::IfStale).await;
        let mut keys = self.keys.keys();
        let key = match pick(&keys, header)? {
            Some(i) => i,
            None => {
                if self.keys.refresh(&self.issuer, Refresh::UnknownKey).await {
                    keys = self.keys.keys();
                }
                pick(&keys, header)?.ok_or_else(|| match &header.kid {
                    Some(_) => "no key with the token's `kid` in the issuer's JWKS".to_string(),
                    None => "no key in the issuer's JWKS fits the token's algorithm".to_string(),
                })?
            }
        };
        jsonwebtoken::decode::<Map<String, Value>>(token, &keys[key].key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| describe(e.kind()))
    }

    /// An access token, not another kind of JWT the same issuer signs (RFC 9068 `at+jwt`; ID,
    /// logout and DPoP proof tokens carry other types).
    fn check_type(&self, typ: Option<&str>) -> Result<(), String> {
        let typ = typ.map(crate::config::token_type);
        let accepted = match (&typ, self.token_types.is_empty()) {
            (None, true) => true,
            (Some(t), true) => t == "jwt" || t == "at+jwt",
            (t, false) => t.as_ref().is_some_and(|t| self.token_types.contains(t)),
        };
        if accepted {
            Ok(())
        } else {
            Err(format!(
                "the token's type (`typ` {}) is not an access token type this issuer accepts",
                typ.as_deref().unwrap_or("absent")
            ))
        }
    }

    /// An id as policies see it: namespaced by this issuer's `name`; an unprefixed issuer may
    /// not name ids inside another issuer's namespace.
    fn scoped(&self, id: &str, what: &str) -> Result<String, String> {
        if let Some(name) = &self.name {
            return Ok(format!("{name}/{id}"));
        }
        match self
            .reserved
            .iter()
            .find(|ns| id.split_once('/').is_some_and(|(head, _)| head == ns.as_str()))
        {
            Some(ns) => Err(format!(
                "the token's {what} lies in the namespace of issuer `{ns}`, which this issuer may not use"
            )),
            None => Ok(id.to_string()),
        }
    }

    /// Builds the principal from verified claims.
    pub fn principal(&self, claims: &Map<String, Value>, selected: &[String]) -> Result<Principal, String> {
        let Some(Value::String(sub)) = claims.get("sub") else {
            return Err("`sub` is not a string".into());
        };
        let groups = strings(claims.get(&self.groups_claim))
            .iter()
            .map(|g| self.scoped(g, "group"))
            .collect::<Result<Vec<_>, _>>()?;
        let scopes = match &self.scopes_claim {
            Some(name) => strings(claims.get(name)),
            None => match claims.get("scope") {
                Some(v) => strings(Some(v)),
                None => strings(claims.get("scp")),
            },
        };
        Ok(Principal {
            fingerprint: Default::default(),
            kind: PrincipalKind::User,
            id: self.scoped(sub, "subject")?,
            issuer: Some(self.issuer.clone()),
            groups,
            scopes,
            claims: selected
                .iter()
                .filter_map(|name| claims.get(name).map(|v| (name.clone(), v.clone())))
                .collect(),
        })
    }
}

/// The index of the key to verify with: the one named by `kid`, or — for a token without
/// `kid` — the only key that fits the algorithm. `Ok(None)`: no key known (yet).
fn pick(keys: &Arc<Vec<Key>>, header: &Header) -> Result<Option<usize>, String> {
    let mut fitting = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.fits(header.alg))
        .filter(|(_, k)| header.kid.is_none() || k.kid == header.kid);
    let Some((first, _)) = fitting.next() else {
        return Ok(None);
    };
    if header.kid.is_none() && fitting.next().is_some() {
        return Err("the token names no key (`kid`) and several of the issuer's keys fit".into());
    }
    Ok(Some(first))
}

/// A JSON array of strings, or one space-separated string (the OAuth `scope` form).
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// Why verification failed, in words safe to log and to return (nothing from the token itself
/// beyond claim names).
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (`nbf`)".into(),
        ErrorKind::InvalidAudience => "the token's audience (`aud`) is not accepted".into(),
        ErrorKind::InvalidIssuer => "the token's issuer (`iss`) is not accepted".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match the key".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("the token lacks the `{c}` claim"),
        ErrorKind::InvalidClaimFormat(c) => format!("the token's `{c}` claim is malformed"),
        _ => "the token is malformed".into(),
    }
}
