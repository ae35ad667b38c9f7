//! One Cedar request from one ask: the principal with its groups, the target with its
//! upstream, and the context (arguments, endpoint, era, client address, time).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use cedar_policy::{Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::schema::{ArgType, Arguments};
use crate::identity::{Principal, PrincipalKind};
use crate::mcp::{Action, Caller, Target};

/// Deepest argument nesting a policy decides on; deeper calls are refused, not half-read.
const MAX_DEPTH: usize = 32;

/// The entity types agentmux builds, parsed once: Cedar parses a type name with its full
/// grammar, which cost more than evaluating a policy.
const TYPES: [&str; 9] = [
    "User",
    "ApiKey",
    "Anonymous",
    "Group",
    "Upstream",
    "Tool",
    "Prompt",
    "Resource",
    "Action",
];

fn type_name(kind: &str) -> EntityTypeName {
    static PARSED: OnceLock<Vec<EntityTypeName>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| TYPES.iter().filter_map(|t| EntityTypeName::from_str(t).ok()).collect());
    match TYPES.iter().position(|t| *t == kind).and_then(|i| parsed.get(i)) {
        Some(name) => name.clone(),
        // Not one of agentmux's types (a policy-test file may name any): parse it.
        None => EntityTypeName::from_str(kind).unwrap_or_else(|_| type_name("Anonymous")),
    }
}

pub fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(kind), EntityId::new(id))
}

pub fn principal_uid(p: &Principal) -> EntityUid {
    uid(p.entity_type(), &p.id)
}

pub fn action_uid(action: Action) -> EntityUid {
    uid("Action", action.id())
}

pub fn target_uid(t: &Target<'_>) -> EntityUid {
    uid(target_type(t.action), &format!("{}/{}", t.upstream, t.name))
}

fn target_type(action: Action) -> &'static str {
    match action {
        Action::CallTool => "Tool",
        Action::GetPrompt => "Prompt",
        Action::ReadResource => "Resource",
    }
}

fn strings(values: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(values.iter().map(|v| RestrictedExpression::new_string(v.clone())))
}

/// The principal and its groups; returns the groups' uids.
pub fn principal_entities(p: &Principal, out: &mut Vec<Entity>) -> Result<Vec<EntityUid>, String> {
    let groups: HashSet<EntityUid> = p.groups.iter().map(|g| uid("Group", g)).collect();
    let mut attrs = HashMap::new();
    match p.kind {
        PrincipalKind::User => {
            attrs.insert(
                "issuer".into(),
                RestrictedExpression::new_string(p.issuer.clone().unwrap_or_default()),
            );
            attrs.insert("groups".into(), strings(&p.groups));
            attrs.insert("scopes".into(), strings(&p.scopes));
            let claims = p.claims.iter().map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), RestrictedExpression::new_string(text))
            });
            let claims = RestrictedExpression::new_record(claims).map_err(|e| e.to_string())?;
            attrs.insert("claims".into(), claims);
        }
        PrincipalKind::ApiKey => {
            attrs.insert("groups".into(), strings(&p.groups));
        }
        PrincipalKind::Anonymous => {}
    }
    out.extend(groups.iter().map(|g| Entity::new_no_attrs(g.clone(), HashSet::new())));
    let uids = groups.iter().cloned().collect();
    out.push(Entity::new(principal_uid(p), attrs, groups).map_err(|e| e.to_string())?);
    Ok(uids)
}

/// The target, and its upstream unless `with_upstream` is false (it is already there).
pub fn target_entities(t: &Target<'_>, with_upstream: bool, out: &mut Vec<Entity>) -> Result<(), String> {
    let upstream = uid("Upstream", t.upstream);
    let mut attrs = HashMap::with_capacity(6);
    attrs.insert(
        "upstream".into(),
        RestrictedExpression::new_string(t.upstream.to_string()),
    );
    let key = if t.action == Action::ReadResource {
        "uri"
    } else {
        "name"
    };
    attrs.insert(key.into(), RestrictedExpression::new_string(t.name.to_string()));
    if t.action == Action::CallTool {
        let h = t.hints;
        for (k, v) in [
            ("read_only", h.read_only),
            ("destructive", h.destructive),
            ("idempotent", h.idempotent),
            ("open_world", h.open_world),
        ] {
            attrs.insert(k.into(), RestrictedExpression::new_bool(v));
        }
    }
    out.push(Entity::new(target_uid(t), attrs, HashSet::from([upstream.clone()])).map_err(|e| e.to_string())?);
    if with_upstream {
        out.push(Entity::new_no_attrs(upstream, HashSet::new()));
    }
    Ok(())
}

pub fn entities(list: Vec<Entity>) -> Result<Entities, String> {
    Entities::from_entities(list, None).map_err(|e| e.to_string())
}

/// The context; `arguments: None` leaves them unknown (partial evaluation, for lists).
/// Which costly context values any policy reads; the others are left out of requests (a value
/// no policy reads cannot change a decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub now: bool,
    pub client_ip: bool,
    pub arguments: bool,
}

impl Needs {
    pub const ALL: Self = Self {
        now: true,
        client_ip: true,
        arguments: true,
    };
    const NONE: Self = Self {
        now: false,
        client_ip: false,
        arguments: false,
    };

    /// What the policies read of the context, from Cedar's JSON form of each: `context.x` and
    /// `context has x` read `x`; `context` used any other way (compared whole, say) reads all.
    pub fn of(set: &cedar_policy::PolicySet) -> Self {
        let mut needs = Self::NONE;
        for policy in set.policies() {
            match policy.to_json() {
                Ok(json) => needs.visit(&json),
                Err(_) => return Self::ALL,
            }
        }
        needs
    }

    fn visit(&mut self, expr: &Value) {
        match expr {
            Value::Object(map) => {
                for op in [".", "has"] {
                    if let Some(Value::Object(access)) = map.get(op)
                        && access.get("left") == Some(&serde_json::json!({ "Var": "context" }))
                    {
                        match access.get("attr").and_then(Value::as_str) {
                            Some("now") => self.now = true,
                            Some("client_ip") => self.client_ip = true,
                            Some("arguments") => self.arguments = true,
                            Some(_) => {}
                            None => *self = Self::ALL,
                        }
                        return;
                    }
                }
                if map.get("Var").is_some_and(|v| v == "context") {
                    *self = Self::ALL;
                    return;
                }
                map.values().for_each(|v| self.visit(v));
            }
            Value::Array(items) => items.iter().for_each(|v| self.visit(v)),
            _ => {}
        }
    }
}

pub fn context(
    caller: &Caller,
    arguments: Option<RestrictedExpression>,
    now: Option<&str>,
    needs: Needs,
) -> Result<Context, String> {
    let mut pairs = Vec::with_capacity(5);
    pairs.push((
        "arguments".to_string(),
        arguments.unwrap_or_else(|| RestrictedExpression::new_unknown("arguments")),
    ));
    pairs.push((
        "endpoint".into(),
        RestrictedExpression::new_string(caller.endpoint.to_string()),
    ));
    pairs.push(("era".into(), RestrictedExpression::new_string(caller.era.to_string())));
    if let Some(ip) = caller.client_ip.filter(|_| needs.client_ip) {
        pairs.push(("client_ip".into(), ip_expression(ip)));
    }
    if needs.now {
        pairs.push((
            "now".into(),
            now.map_or_else(now_expression, RestrictedExpression::new_datetime),
        ));
    }
    Context::from_pairs(pairs).map_err(|e| e.to_string())
}

/// Building an extension value (`datetime`, `ip`) parses the extension's name each time; the
/// current second and recent client addresses are built once.
fn now_expression() -> RestrictedExpression {
    static NOW: Mutex<Option<(u64, RestrictedExpression)>> = Mutex::new(None);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut now = NOW.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*now {
        Some((at, expr)) if *at == secs => expr.clone(),
        _ => {
            let expr = RestrictedExpression::new_datetime(crate::audit::rfc3339(secs as i64, 0));
            *now = Some((secs, expr.clone()));
            expr
        }
    }
}

fn ip_expression(ip: IpAddr) -> RestrictedExpression {
    static IPS: OnceLock<moka::sync::Cache<IpAddr, RestrictedExpression>> = OnceLock::new();
    IPS.get_or_init(|| moka::sync::Cache::new(10_000))
        .get_with(ip, || RestrictedExpression::new_ip(ip.to_string()))
}

/// Reads a call's arguments (a JSON object, or absent) into a Cedar record in one pass: integers
/// as Long, other numbers as decimal (and integers too where the schema declares `number`),
/// `null` members left out. Duplicate keys and nesting past [`MAX_DEPTH`] are errors: the policy
/// must decide on exactly what the upstream receives.
pub fn arguments(raw: Option<&RawValue>, declared: &Arguments) -> Result<RestrictedExpression, String> {
    let Some(raw) = raw else {
        return RestrictedExpression::new_record([]).map_err(|e| e.to_string());
    };
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let value = Seed {
        depth: 0,
        declared: None,
        top: Some(declared),
    }
    .deserialize(&mut de)
    .map_err(|e| format!("arguments: {e}"))?;
    match value {
        Some(Cedar::Record(fields)) => RestrictedExpression::new_record(fields).map_err(|e| e.to_string()),
        _ => Err("arguments: must be a JSON object".into()),
    }
}

enum Cedar {
    Expr(RestrictedExpression),
    Record(Vec<(String, RestrictedExpression)>),
}

impl Cedar {
    fn expr(self) -> Result<RestrictedExpression, String> {
        match self {
            Self::Expr(e) => Ok(e),
            Self::Record(fields) => RestrictedExpression::new_record(fields).map_err(|e| e.to_string()),
        }
    }
}

struct Seed<'a> {
    depth: usize,
    /// The declared type of this value, when known.
    declared: Option<&'a ArgType>,
    /// At the top: the declared arguments.
    top: Option<&'a Arguments>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Option<Cedar>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn decimal(text: String) -> Option<Cedar> {
    Some(Cedar::Expr(RestrictedExpression::new_decimal(text)))
}

/// Cedar decimals have four fractional digits and an i64 range; others are left out.
fn float_decimal(v: f64) -> Option<Cedar> {
    (v.is_finite() && v.abs() < 9.2e14)
        .then(|| format!("{v:.4}"))
        .and_then(decimal)
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Option<Cedar>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E>
    where
        E: de::Error,
    {
        Ok(Some(Cedar::Expr(RestrictedExpression::new_bool(v))))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E>
    where
        E: de::Error,
    {
        Ok(match self.declared {
            Some(ArgType::Decimal) => float_decimal(v as f64),
            _ => Some(Cedar::Expr(RestrictedExpression::new_long(v))),
        })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E>
    where
        E: de::Error,
    {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Ok(float_decimal(v as f64)),
        }
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E>
    where
        E: de::Error,
    {
        Ok(float_decimal(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E>
    where
        E: de::Error,
    {
        Ok(Some(Cedar::Expr(RestrictedExpression::new_string(v.to_string()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E>
    where
        E: de::Error,
    {
        Ok(Some(Cedar::Expr(RestrictedExpression::new_string(v))))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E>
    where
        E: de::Error,
    {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let item = match self.declared {
            Some(ArgType::Set(item)) => Some(&**item),
            _ => None,
        };
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed {
            depth: self.depth + 1,
            declared: item,
            top: None,
        })? {
            if let Some(v) = v {
                items.push(v.expr().map_err(de::Error::custom)?);
            }
        }
        Ok(Some(Cedar::Expr(RestrictedExpression::new_set(items))))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let mut fields: Vec<(String, RestrictedExpression)> = Vec::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let declared = match (self.top, self.declared) {
                (Some(top), _) => top.get(&key),
                (None, Some(ArgType::Record(f))) => f.get(&key),
                _ => None,
            };
            let value = map.next_value_seed(Seed {
                depth: self.depth + 1,
                declared,
                top: None,
            })?;
            if let Some(value) = value {
                fields.push((key, value.expr().map_err(de::Error::custom)?));
            }
        }
        Ok(Some(Cedar::Record(fields)))
    }
}

/// A principal for `policy test` / `policy explain` cases, from token-like claims.
pub fn principal_from_case(kind: &str, id: &str, fields: &Map<String, Value>) -> Result<Principal, String> {
    let list = |key: &str| -> Vec<String> {
        match fields.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
            _ => Vec::new(),
        }
    };
    let kind = match kind {
        "User" => PrincipalKind::User,
        "ApiKey" => PrincipalKind::ApiKey,
        "Anonymous" => PrincipalKind::Anonymous,
        other => return Err(format!("principal type `{other}`: use User, ApiKey or Anonymous")),
    };
    Ok(Principal {
        kind,
        id: id.to_string(),
        issuer: fields.get("issuer").and_then(Value::as_str).map(str::to_string),
        groups: list("groups"),
        scopes: list("scopes"),
        claims: match fields.get("claims") {
            Some(Value::Object(c)) => c.clone(),
            _ => Map::new(),
        },
    })
}
