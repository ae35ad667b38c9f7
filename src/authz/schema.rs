//! The Cedar schema policies are validated against: agentmux's fixed vocabulary (DESIGN.md §1,
//! docs/policies.md) plus a `context.arguments` record generated from the catalog.
//!
//! Cedar's strict validator treats an attribute a record type does not declare as impossible,
//! so `context.arguments.amount` validates only if `amount` is declared. Every argument name any
//! tool declares is therefore listed, optional, with its JSON Schema type mapped to Cedar; a name
//! that two tools declare with different types is left out (a policy naming it is reported).

use std::collections::BTreeMap;

use serde_json::Value;

/// A Cedar type for an argument value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgType {
    Long,
    Decimal,
    String,
    Bool,
    Set(Box<ArgType>),
    Record(BTreeMap<String, ArgType>),
}

impl ArgType {
    /// From a JSON Schema; `None` for what Cedar cannot say (unions, null, untyped).
    pub fn from_json_schema(schema: &Value, depth: usize) -> Option<Self> {
        if depth > 8 {
            return None;
        }
        match schema.get("type")?.as_str()? {
            "integer" => Some(Self::Long),
            "number" => Some(Self::Decimal),
            "string" => Some(Self::String),
            "boolean" => Some(Self::Bool),
            "array" => Some(Self::Set(Box::new(Self::from_json_schema(
                schema.get("items")?,
                depth + 1,
            )?))),
            "object" => Some(Self::Record(properties(schema, depth + 1))),
            _ => None,
        }
    }

    fn merge(&mut self, other: &Self) -> bool {
        match (self, other) {
            (Self::Record(mine), Self::Record(theirs)) => {
                merge_fields(mine, theirs);
                true
            }
            (a, b) => a == b,
        }
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Self::Long => out.push_str("Long"),
            Self::Decimal => out.push_str("decimal"),
            Self::String => out.push_str("String"),
            Self::Bool => out.push_str("Bool"),
            Self::Set(item) => {
                out.push_str("Set<");
                item.write(out, indent);
                out.push('>');
            }
            Self::Record(fields) => write_record(fields, out, indent),
        }
    }
}

fn properties(schema: &Value, depth: usize) -> BTreeMap<String, ArgType> {
    let mut fields = BTreeMap::new();
    if let Some(Value::Object(props)) = schema.get("properties") {
        for (name, prop) in props {
            if let Some(t) = ArgType::from_json_schema(prop, depth) {
                fields.insert(name.clone(), t);
            }
        }
    }
    fields
}

/// Merges `theirs` into `mine`; a name with two different types is dropped from both.
fn merge_fields(mine: &mut BTreeMap<String, ArgType>, theirs: &BTreeMap<String, ArgType>) {
    let mut conflicts = Vec::new();
    for (name, t) in theirs {
        match mine.get_mut(name) {
            None => {
                mine.insert(name.clone(), t.clone());
            }
            Some(existing) => {
                if !existing.merge(t) {
                    conflicts.push(name.clone());
                }
            }
        }
    }
    for name in conflicts {
        mine.remove(&name);
    }
}

/// The argument names and types of every tool, from their `inputSchema`s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arguments {
    pub fields: BTreeMap<String, ArgType>,
    /// Names dropped because tools disagree on their type (kept, so a name is dropped for good).
    conflicting: std::collections::BTreeSet<String>,
    /// Distinct for every set of types built, so remembered decisions can name the types used.
    pub id: u64,
}

impl Arguments {
    pub fn from_input_schemas<'a>(schemas: impl IntoIterator<Item = &'a Value>) -> Self {
        static BUILT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let mut out = Self {
            id: BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..Self::default()
        };
        for schema in schemas {
            let theirs = properties(schema, 0);
            for name in theirs.keys() {
                if out.conflicting.contains(name) {
                    continue;
                }
                let before = out.fields.contains_key(name);
                merge_fields(&mut out.fields, &BTreeMap::from([(name.clone(), theirs[name].clone())]));
                if before && !out.fields.contains_key(name) {
                    out.conflicting.insert(name.clone());
                }
            }
        }
        out
    }

    /// The declared type of a top-level argument, used to read numbers as the schema says.
    pub fn get(&self, name: &str) -> Option<&ArgType> {
        self.fields.get(name)
    }
}

fn write_record(fields: &BTreeMap<String, ArgType>, out: &mut String, indent: usize) {
    if fields.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    for (name, t) in fields {
        out.push_str(&"  ".repeat(indent + 1));
        out.push_str(&serde_json::to_string(name).unwrap_or_default());
        out.push_str("?: ");
        t.write(out, indent + 1);
        out.push_str(",\n");
    }
    out.push_str(&"  ".repeat(indent));
    out.push('}');
}

/// The whole schema, in Cedar's schema syntax.
pub fn cedar_schema(arguments: &Arguments, claims: &[String]) -> String {
    let mut args = String::new();
    write_record(&arguments.fields, &mut args, 0);
    let claims: BTreeMap<String, ArgType> = claims.iter().map(|c| (c.clone(), ArgType::String)).collect();
    let mut claims_text = String::new();
    write_record(&claims, &mut claims_text, 1);
    format!(
        r#"// The agentmux policy vocabulary. Generated by `agentmux policy schema`; the
// `Arguments` type lists every argument the catalog's tools declare.

entity Group;
entity Upstream;

// A caller with a verified JWT: User::"<sub>".
entity User in [Group] {{
  issuer: String,
  groups: Set<String>,
  scopes: Set<String>,
  claims: {claims_text},
}};

// A machine client with an API key from agentmux.yaml: ApiKey::"<name>".
entity ApiKey in [Group] {{
  groups: Set<String>,
}};

// A caller without credentials, where `auth.anonymous: true` (or without `auth:`).
entity Anonymous;

// Tool::"<upstream>/<tool>", by the upstream's own (unprefixed) name.
entity Tool in [Upstream] {{
  name: String,
  upstream: String,
  read_only: Bool,
  destructive: Bool,
  idempotent: Bool,
  open_world: Bool,
}};

entity Prompt in [Upstream] {{
  name: String,
  upstream: String,
}};

entity Resource in [Upstream] {{
  uri: String,
  upstream: String,
}};

type Arguments = {args};

type Request = {{
  arguments: Arguments,
  endpoint: String,
  era: String,
  client_ip?: ipaddr,
  now: datetime,
}};

action call_tool appliesTo {{
  principal: [User, ApiKey, Anonymous],
  resource: [Tool],
  context: Request,
}};

action get_prompt appliesTo {{
  principal: [User, ApiKey, Anonymous],
  resource: [Prompt],
  context: Request,
}};

action read_resource appliesTo {{
  principal: [User, ApiKey, Anonymous],
  resource: [Resource],
  context: Request,
}};
"#
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn arguments_merge_and_drop_conflicts() {
        let a = json!({"type":"object","properties":{"amount":{"type":"number"},"currency":{"type":"string"},"n":{"type":"integer"}}});
        let b = json!({"type":"object","properties":{"amount":{"type":"number"},"n":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}}});
        let c = json!({"type":"object","properties":{"n":{"type":"integer"},"any":{}}});
        let args = Arguments::from_input_schemas([&a, &b, &c]);
        assert_eq!(args.get("amount"), Some(&ArgType::Decimal));
        assert_eq!(args.get("tags"), Some(&ArgType::Set(Box::new(ArgType::String))));
        assert_eq!(
            args.get("n"),
            None,
            "conflicting types are left out, even if a third tool agrees with one"
        );
        assert_eq!(args.get("any"), None);
    }

    #[test]
    fn schema_parses_and_validates_policies() {
        let schema_json =
            json!({"type":"object","properties":{"amount":{"type":"number"},"first-name":{"type":"string"}}});
        let text = cedar_schema(&Arguments::from_input_schemas([&schema_json]), &["dept".into()]);
        let (schema, _) = cedar_policy::Schema::from_cedarschema_str(&text).unwrap();
        let policies: cedar_policy::PolicySet = r#"
            permit(principal in Group::"payments", action == Action::"call_tool", resource in Upstream::"stripe")
            when { context.arguments has amount && context.arguments.amount.lessThanOrEqual(decimal("100.0")) };
            permit(principal is User, action, resource is Tool) when { principal.claims has dept && resource.read_only };
            forbid(principal, action, resource) when { context has client_ip && !context.client_ip.isLoopback() };
        "#
        .parse()
        .unwrap();
        let result =
            cedar_policy::Validator::new(schema.clone()).validate(&policies, cedar_policy::ValidationMode::Strict);
        assert!(result.validation_passed(), "{result}");
        let typo: cedar_policy::PolicySet =
            r#"permit(principal, action, resource) when { context.arguments.amuont == 1 };"#
                .parse()
                .unwrap();
        let result = cedar_policy::Validator::new(schema.clone()).validate(&typo, cedar_policy::ValidationMode::Strict);
        assert!(!result.validation_passed());
        // A `has` test of an undeclared argument is not an error but can never be true: a warning.
        let typo: cedar_policy::PolicySet =
            r#"permit(principal, action, resource) when { context.arguments has amuont };"#
                .parse()
                .unwrap();
        let result = cedar_policy::Validator::new(schema).validate(&typo, cedar_policy::ValidationMode::Strict);
        assert!(result.validation_warnings().next().is_some(), "{result}");
    }
}
