//! Push-notification URLs a caller registers with an agent. The agent, not the caller, will
//! POST to them, from inside the network: a URL into loopback, private or link-local space
//! (cloud metadata at 169.254.169.254) would let any caller reach what only the agent can.
//! Such URLs are refused unless `a2a.push_allow` lists their range. A host name is resolved
//! and every address it has must pass (resolving again later could differ; this closes the
//! plain cases, not DNS rebinding).

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use crate::config::IpNet;

const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Every push URL in a request's params: `url` of a push config (v1.0 `params.url`, v0.3
/// `params.pushNotificationConfig.url`, a message's `configuration.pushNotificationConfig`).
pub fn urls(params: &Value, create: bool) -> Vec<String> {
    let mut out = Vec::new();
    if create && let Some(url) = params.get("url").and_then(Value::as_str) {
        out.push(url.to_string());
    }
    collect(params, 0, &mut out);
    out
}

fn collect(value: &Value, depth: usize, out: &mut Vec<String>) {
    let Some(map) = value.as_object() else { return };
    if depth > 4 {
        return;
    }
    for (key, inner) in map {
        let lower = key.to_ascii_lowercase();
        if lower.contains("pushnotificationconfig")
            && let Some(url) = inner.get("url").and_then(Value::as_str)
        {
            out.push(url.to_string());
        }
        collect(inner, depth + 1, out);
    }
}

/// `Ok` when the agent may be asked to call `url`; else why not.
pub async fn check(url: &str, allow: &[IpNet]) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("push URL `{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("push URL `{url}` must be http(s)"));
    }
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) if host == "localhost" || host.ends_with(".localhost") => {
            return Err(format!("push URL `{url}` points at this machine"));
        }
        Err(_) => tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
            .await
            .map_err(|_| format!("push URL `{url}`: resolving `{host}` timed out"))?
            .map_err(|e| format!("push URL `{url}`: cannot resolve `{host}`: {e}"))?
            .map(|a| a.ip())
            .collect(),
    };
    match addresses
        .iter()
        .find(|ip| internal(**ip) && !allow.iter().any(|net| net.contains(**ip)))
    {
        Some(ip) => Err(format!(
            "push URL `{url}` points into a private or local network ({ip}); refused (a2a.push_allow can allow a range)"
        )),
        None => Ok(()),
    }
}

/// Addresses that are not the public internet.
fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (18..20).contains(&b)) // benchmarking
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn internal_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/x",
            "http://[::1]/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://[fd00::1]/x",
            "http://localhost/x",
            "http://0.0.0.0/x",
            "ftp://example.com/x",
        ] {
            assert!(check(url, &[]).await.is_err(), "{url}");
        }
        assert!(check("https://203.0.113.7/hook", &[]).await.is_ok());
        let allow = [IpNet::parse("10.0.0.0/8").unwrap()];
        assert!(check("http://10.1.2.3/x", &allow).await.is_ok());
    }

    #[test]
    fn finds_urls_in_both_versions() {
        let v1 = json!({"taskId": "t", "url": "http://a/", "token": "x"});
        assert_eq!(urls(&v1, true), ["http://a/"]);
        let v03 = json!({"taskId": "t", "pushNotificationConfig": {"url": "http://b/"}});
        assert_eq!(urls(&v03, true), ["http://b/"]);
        let send = json!({"message": {}, "configuration": {"pushNotificationConfig": {"url": "http://c/"}}});
        assert_eq!(urls(&send, false), ["http://c/"]);
        let send_v1 = json!({"message": {}, "configuration": {"taskPushNotificationConfig": {"url": "http://d/"}}});
        assert_eq!(urls(&send_v1, false), ["http://d/"]);
    }
}
