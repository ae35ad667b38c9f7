//! `auth:`: who may connect — JWT issuers and API keys, checked here so a bad trust setting
//! fails at load, not at the first request. Reads `raw`; imports only leaves besides.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::Problem;
use super::names::valid_name;
use super::raw::RawAuth;
use super::secret::Secret;

/// Who may connect. Absent (`Config::auth == None`): everyone, as `Anonymous`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub issuers: Vec<IssuerSpec>,
    pub api_keys: Vec<ApiKeySpec>,
    pub anonymous: bool,
    pub resource: Option<String>,
    pub required_scopes: Vec<String>,
    pub leeway: Duration,
    pub claims: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct IssuerSpec {
    /// The namespace of this issuer's subjects and groups; `None`: unprefixed.
    pub name: Option<String>,
    /// Names of the other issuers: an unprefixed issuer may not mint ids in their namespaces.
    pub reserved: Vec<String>,
    pub issuer: String,
    /// Accepted `typ` headers, lower-case, without `application/`.
    pub token_types: Vec<String>,
    pub audiences: Vec<String>,
    pub jwks: JwksSource,
    /// Pinned algorithm names as JWT `alg` values (`RS256`, `ES256`, `EdDSA` …).
    pub algorithms: Vec<String>,
    pub groups_claim: String,
    pub scopes_claim: Option<String>,
    pub authorization_servers: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum JwksSource {
    Url(String),
    File(PathBuf),
    Inline(serde_json::Value),
}

#[derive(Debug, Clone)]
pub struct ApiKeySpec {
    pub name: String,
    /// `sha256:<hex>` of the key.
    pub hash: Secret,
    pub groups: Vec<String>,
}

/// Several trusted issuers must not be able to mint each other's `User::"alice"` or
/// `Group::"payments"`: each gets a namespace (`name`), and at most one may go without.
fn namespace_issuers(issuers: &mut [IssuerSpec], file: &Path, problems: &mut Vec<Problem>) {
    let unnamed: Vec<&str> = issuers
        .iter()
        .filter(|i| i.name.is_none())
        .map(|i| i.issuer.as_str())
        .collect();
    if unnamed.len() > 1 {
        problems.push(Problem::new(
            file,
            None,
            format!(
                "auth.issuers: {} have no `name`; with several issuers at most one may be unprefixed, or each could mint the others' users and groups (give the others `name: <namespace>`)",
                unnamed.join(" and ")
            ),
        ));
    }
    let names: Vec<String> = issuers.iter().filter_map(|i| i.name.clone()).collect();
    for (n, name) in names.iter().enumerate() {
        if names[..n].contains(name) {
            problems.push(Problem::new(
                file,
                None,
                format!("auth.issuers: the name `{name}` is used twice"),
            ));
        }
    }
    for issuer in issuers.iter_mut().filter(|i| i.name.is_none()) {
        issuer.reserved.clone_from(&names);
    }
}

/// A `typ` header as compared: lower-case, without the `application/` media-type prefix.
pub fn token_type(typ: &str) -> String {
    let typ = typ.to_ascii_lowercase();
    typ.strip_prefix("application/").map(str::to_string).unwrap_or(typ)
}

/// Whether an `http://` URL names a loopback host (plain http is tolerated there).
fn is_loopback_url(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Algorithms an issuer may pin. `none` and HMAC are refused: a verifier that holds only a
/// public key must never accept a token signed with it as a shared secret.
const ASYMMETRIC: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// `auth:` with its defaults; `jwks` file paths are relative to `base`.
pub(super) fn resolve(raw: RawAuth, base: &Path, file: &Path, problems: &mut Vec<Problem>) -> AuthSettings {
    let mut issuers = Vec::new();
    for (n, i) in raw.issuers.into_iter().enumerate() {
        let at = format!("auth.issuers[{n}]");
        let jwks = match (i.jwks, i.keys) {
            (Some(j), None) if j.0.starts_with("http://") && !is_loopback_url(&j.0) => {
                problems.push(Problem::new(
                    file,
                    None,
                    format!(
                        "{at}.jwks: `{}` is plain http; keys that decide who a caller is must come over https (http is allowed for loopback only)",
                        j.0
                    ),
                ));
                continue;
            }
            (Some(j), None) if j.0.starts_with("http://") || j.0.starts_with("https://") => JwksSource::Url(j.0),
            (Some(j), None) => JwksSource::File(base.join(j.0)),
            (None, Some(keys)) => JwksSource::Inline(keys),
            _ => {
                problems.push(Problem::new(
                    file,
                    None,
                    format!("{at}: give exactly one of `jwks` (URL or file) or `keys` (inline JWKS)"),
                ));
                continue;
            }
        };
        let algorithms: Vec<String> = if i.algorithms.is_empty() {
            vec!["RS256".into()]
        } else {
            i.algorithms.into_iter().map(|a| a.0).collect()
        };
        for alg in algorithms.iter().filter(|a| !ASYMMETRIC.contains(&a.as_str())) {
            problems.push(Problem::new(
                file,
                None,
                format!(
                    "{at}.algorithms: `{alg}` is not allowed; use one of {}",
                    ASYMMETRIC.join(", ")
                ),
            ));
        }
        if i.audiences.is_empty() {
            problems.push(Problem::new(
                file,
                None,
                format!("{at}.audiences: name at least one audience (the `aud` agentmux accepts)"),
            ));
        }
        let name = i.name.map(|t| t.0);
        if let Some(name) = name.as_deref().filter(|n| !valid_name(n)) {
            problems.push(Problem::new(
                file,
                None,
                format!("{at}.name: `{name}` must match [a-z0-9][a-z0-9-]*"),
            ));
        }
        let issuer = i.issuer.0;
        issuers.push(IssuerSpec {
            name,
            reserved: Vec::new(),
            token_types: i.token_types.into_iter().map(|t| token_type(&t.0)).collect(),
            authorization_servers: if i.authorization_servers.is_empty() {
                vec![issuer.clone()]
            } else {
                i.authorization_servers.into_iter().map(|t| t.0).collect()
            },
            issuer,
            audiences: i.audiences.into_iter().map(|t| t.0).collect(),
            jwks,
            algorithms,
            groups_claim: i.groups_claim.map_or_else(|| "groups".into(), |t| t.0),
            scopes_claim: i.scopes_claim.map(|t| t.0),
        });
    }
    namespace_issuers(&mut issuers, file, problems);
    let mut api_keys: Vec<ApiKeySpec> = Vec::new();
    for (n, k) in raw.api_keys.into_iter().enumerate() {
        let hash = k.hash.0;
        let valid = hash
            .strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if !valid {
            problems.push(Problem::new(
                file,
                None,
                format!(
                    "auth.api_keys[{n}] ({}): `hash` must be `sha256:` and 64 hex digits, as `agentmux key new` prints",
                    k.name.0
                ),
            ));
        }
        if api_keys.iter().any(|a| a.name == k.name.0) {
            problems.push(Problem::new(
                file,
                None,
                format!("auth.api_keys: the name `{}` is used twice", k.name.0),
            ));
        }
        api_keys.push(ApiKeySpec {
            name: k.name.0,
            hash: Secret(hash.to_ascii_lowercase()),
            groups: k.groups.into_iter().map(|t| t.0).collect(),
        });
    }
    AuthSettings {
        issuers,
        api_keys,
        anonymous: raw.anonymous.unwrap_or(false),
        resource: raw.resource.map(|t| t.0),
        required_scopes: raw.required_scopes.into_iter().map(|t| t.0).collect(),
        leeway: raw.leeway.map_or(Duration::from_secs(60), |d| d.0),
        claims: raw.claims.into_iter().map(|t| t.0).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(yaml: &str) -> (AuthSettings, Vec<String>) {
        let raw: RawAuth = serde_yaml_ng::from_str(yaml).unwrap();
        let mut problems = Vec::new();
        let file = Path::new("agentmux.yaml");
        let settings = resolve(raw, Path::new("."), file, &mut problems);
        (settings, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn several_issuers_need_namespaces() {
        let two = |second_name: &str| {
            format!(
                "issuers:\n  - {{ issuer: https://a.test, audiences: [x], jwks: a.json }}\n  - {{ {second_name} issuer: https://b.test, audiences: [x], jwks: b.json }}\n"
            )
        };
        let (_, problems) = problems_of(&two(""));
        assert!(
            problems.iter().any(|p| p.contains("at most one may be unprefixed")),
            "{problems:?}"
        );
        let (settings, problems) = problems_of(&two("name: partner,"));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.issuers[0].reserved, ["partner"]);
        assert_eq!(settings.issuers[1].name.as_deref(), Some("partner"));
        let (_, problems) = problems_of(&two("name: Partner_1,"));
        assert!(problems.iter().any(|p| p.contains("must match")), "{problems:?}");
    }

    #[test]
    fn jwks_over_plain_http_only_on_loopback() {
        let with = |url: &str| {
            problems_of(&format!(
                "issuers: [{{ issuer: https://a.test, audiences: [x], jwks: \"{url}\" }}]"
            ))
        };
        let (_, problems) = with("http://idp.example.com/jwks.json");
        assert!(
            problems.iter().any(|p| p.contains("must come over https")),
            "{problems:?}"
        );
        for ok in [
            "http://127.0.0.1:9/jwks.json",
            "http://localhost/jwks",
            "http://[::1]:8/j",
            "https://idp.example.com/j",
        ] {
            assert!(with(ok).1.is_empty(), "{ok}: {:?}", with(ok).1);
        }
    }
}
