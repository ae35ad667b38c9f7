//! An agent's card as fetched, what agentmux reads of it (skills, where each binding is
//! served), and the card agentmux serves in its place: every interface pointing at agentmux,
//! agentmux's own security schemes, and signatures stripped (or the card served unchanged).

use serde_json::{Map, Value};

/// The largest card agentmux reads; real cards are a few KB.
pub const MAX_CARD_BYTES: usize = 1024 * 1024;

/// A binding agentmux forwards: `JSONRPC` or `HTTP+JSON` (gRPC interfaces are not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    JsonRpc,
    HttpJson,
}

impl Binding {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "JSONRPC" => Some(Self::JsonRpc),
            "HTTP+JSON" => Some(Self::HttpJson),
            _ => None,
        }
    }
}

/// One interface of the agent: where it serves a binding in an A2A version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub binding: Binding,
    /// `1.0`, `0.3` …
    pub version: String,
    pub url: String,
}

#[derive(Debug)]
pub struct Card {
    /// The card as the agent sent it.
    pub raw: Map<String, Value>,
    pub name: String,
    pub description: String,
    /// Skill ids, as policies see them (`resource.skills`).
    pub skills: Vec<String>,
    pub interfaces: Vec<Interface>,
}

impl Card {
    /// Reads a card; what agentmux needs of it must be there and well-typed.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let raw: Map<String, Value> =
            serde_json::from_slice(body).map_err(|e| format!("the agent card is not a JSON object: {e}"))?;
        let text = |key: &str| raw.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        let name = text("name");
        if name.is_empty() {
            return Err("the agent card has no `name`".into());
        }
        let skills = raw
            .get("skills")
            .and_then(Value::as_array)
            .map(|skills| {
                skills
                    .iter()
                    .filter_map(|s| s.get("id").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let interfaces = interfaces(&raw);
        if interfaces.is_empty() {
            return Err("the agent card names no JSON-RPC or HTTP+JSON interface".into());
        }
        Ok(Self {
            description: text("description"),
            name,
            skills,
            interfaces,
            raw,
        })
    }

    /// Where the agent serves `binding` for a request in `version`: the interface of that
    /// version, else any of that binding (agents serve older versions at one URL).
    pub fn interface(&self, binding: Binding, version: &str) -> Option<&Interface> {
        let of_binding = || self.interfaces.iter().filter(|i| i.binding == binding);
        of_binding()
            .find(|i| i.version == version)
            .or_else(|| of_binding().next())
    }

    /// The card agentmux serves: every JSON-RPC and HTTP+JSON interface at `url` (agentmux's own
    /// URL for this agent), other bindings dropped, `securitySchemes` and security requirements
    /// replaced by `security` (agentmux's own, `None` for no authentication), and signatures
    /// stripped unless `keep_signatures`, which serves the card unchanged but for nothing.
    pub fn served(&self, url: &str, security: Option<&Value>, keep_signatures: bool) -> Map<String, Value> {
        if keep_signatures && self.raw.contains_key("signatures") {
            // A signed card is only valid unchanged: it is served as the agent signed it.
            return self.raw.clone();
        }
        let mut card = self.raw.clone();
        card.remove("signatures");
        if let Some(Value::Array(list)) = card.get_mut("supportedInterfaces") {
            list.retain(|i| {
                i.get("protocolBinding")
                    .and_then(Value::as_str)
                    .and_then(Binding::parse)
                    .is_some()
            });
            for interface in list.iter_mut().filter_map(Value::as_object_mut) {
                interface.insert("url".into(), Value::String(url.to_string()));
            }
            // agentmux translates between the bindings in v1.0: an agent that serves one is
            // offered in both.
            let serves = |list: &[Value], binding: &str| {
                list.iter().any(|i| {
                    i.get("protocolBinding").and_then(Value::as_str) == Some(binding)
                        && i.get("protocolVersion").and_then(Value::as_str).unwrap_or("1.0") == "1.0"
                })
            };
            for (binding, other) in [("JSONRPC", "HTTP+JSON"), ("HTTP+JSON", "JSONRPC")] {
                if serves(list, binding) && !serves(list, other) {
                    list.push(serde_json::json!({"url": url, "protocolBinding": other, "protocolVersion": "1.0"}));
                }
            }
        }
        // v0.3 cards: the preferred transport at `url`, the others in `additionalInterfaces`.
        if card.contains_key("url") {
            card.insert("url".into(), Value::String(url.to_string()));
        }
        if let Some(Value::Array(list)) = card.get_mut("additionalInterfaces") {
            list.retain(|i| {
                i.get("transport")
                    .and_then(Value::as_str)
                    .and_then(Binding::parse)
                    .is_some()
            });
            for interface in list.iter_mut().filter_map(Value::as_object_mut) {
                interface.insert("url".into(), Value::String(url.to_string()));
            }
        }
        for key in ["securitySchemes", "securityRequirements", "security"] {
            card.remove(key);
        }
        if let Some(Value::Object(security)) = security {
            for (k, v) in security {
                card.insert(k.clone(), v.clone());
            }
        }
        card
    }
}

/// The interfaces a card names: v1.0 `supportedInterfaces`, and v0.3 `url` (its
/// `preferredTransport`, JSON-RPC by default) with `additionalInterfaces`.
fn interfaces(raw: &Map<String, Value>) -> Vec<Interface> {
    let mut out = Vec::new();
    let mut push = |binding: Option<&str>, version: &str, url: Option<&str>| {
        if let (Some(binding), Some(url)) = (binding.and_then(Binding::parse), url)
            && url.starts_with("http")
        {
            let interface = Interface {
                binding,
                version: version.to_string(),
                url: url.trim_end_matches('/').to_string(),
            };
            if !out.contains(&interface) {
                out.push(interface);
            }
        }
    };
    for i in raw
        .get("supportedInterfaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let version = i.get("protocolVersion").and_then(Value::as_str).unwrap_or("1.0");
        push(
            i.get("protocolBinding").and_then(Value::as_str),
            version,
            i.get("url").and_then(Value::as_str),
        );
    }
    let v03 = raw.get("protocolVersion").and_then(Value::as_str).unwrap_or("0.3");
    push(
        Some(
            raw.get("preferredTransport")
                .and_then(Value::as_str)
                .unwrap_or("JSONRPC"),
        ),
        v03,
        raw.get("url").and_then(Value::as_str),
    );
    for i in raw
        .get("additionalInterfaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push(
            i.get("transport").and_then(Value::as_str),
            v03,
            i.get("url").and_then(Value::as_str),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn card() -> Card {
        let body = json!({
            "name": "planner", "description": "plans trips",
            "supportedInterfaces": [
                {"url": "http://10.0.0.5:9999", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
                {"url": "http://10.0.0.5:9999/", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
                {"url": "http://10.0.0.5:9998", "protocolBinding": "GRPC", "protocolVersion": "1.0"}
            ],
            "capabilities": {"streaming": true, "extensions": [{"uri": "urn:x"}]},
            "skills": [{"id": "trip-planning", "name": "Trips"}, {"id": "visa"}],
            "securitySchemes": {"internal": {"httpAuthSecurityScheme": {"scheme": "bearer"}}},
            "securityRequirements": [{"schemes": {"internal": {"list": []}}}],
            "signatures": [{"protected": "x", "signature": "y"}],
            "url": "http://10.0.0.5:9999", "preferredTransport": "JSONRPC", "protocolVersion": "0.3",
            "additionalInterfaces": [{"transport": "HTTP+JSON", "url": "http://10.0.0.5:9999"}, {"transport": "GRPC", "url": "http://10.0.0.5:9998"}],
            "x-vendor": {"kept": 1}
        });
        Card::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn reads_skills_and_interfaces_of_both_versions() {
        let card = card();
        assert_eq!(card.skills, ["trip-planning", "visa"]);
        assert_eq!(
            card.interface(Binding::JsonRpc, "1.0").unwrap().url,
            "http://10.0.0.5:9999"
        );
        assert_eq!(card.interface(Binding::JsonRpc, "0.3").unwrap().version, "0.3");
        assert_eq!(
            card.interface(Binding::HttpJson, "1.0").unwrap().url,
            "http://10.0.0.5:9999"
        );
        assert!(
            Card::parse(br#"{"name":"x"}"#).is_err(),
            "a card without interfaces is refused"
        );
        assert!(Card::parse(b"[]").is_err());
    }

    #[test]
    fn a_binding_agentmux_translates_to_is_offered() {
        let body = json!({"name": "x", "supportedInterfaces": [{"url": "http://a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}]});
        let served = Card::parse(body.to_string().as_bytes())
            .unwrap()
            .served("http://gw/a2a/x", None, false);
        let bindings: Vec<&str> = served["supportedInterfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["protocolBinding"].as_str().unwrap())
            .collect();
        assert_eq!(bindings, ["JSONRPC", "HTTP+JSON"]);
    }

    #[test]
    fn served_card_points_at_agentmux_and_keeps_the_rest() {
        let served = card().served("http://gw/a2a/planner", None, false);
        let urls: Vec<&str> = served["supportedInterfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["url"].as_str().unwrap())
            .collect();
        assert_eq!(urls, ["http://gw/a2a/planner", "http://gw/a2a/planner"], "gRPC dropped");
        assert_eq!(served["url"], "http://gw/a2a/planner");
        assert_eq!(served["additionalInterfaces"].as_array().unwrap().len(), 1);
        assert_eq!(
            served["capabilities"],
            json!({"streaming": true, "extensions": [{"uri": "urn:x"}]})
        );
        assert_eq!(served["x-vendor"], json!({"kept": 1}));
        for gone in ["signatures", "securitySchemes", "securityRequirements"] {
            assert!(!served.contains_key(gone), "{gone}");
        }
        let kept = card().served("http://gw/a2a/planner", None, true);
        assert_eq!(
            kept["url"], "http://10.0.0.5:9999",
            "a signed card kept is served unchanged"
        );
    }
}
