//! One Cedar request from one ask: the principal with its groups, the target with its
//! upstream, and the context (arguments, endpoint, era, the LLM request, client address, time).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use cedar_policy::{Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use serde_json::{Map, Value};

use super::{Action, Attrs, Caller, ModelCall, Target};
use crate::arguments::ArgType;
use crate::identity::{Principal, PrincipalKind};

/// The entity types agentmux builds, parsed once: Cedar parses a type name with its full
/// grammar, which cost more than evaluating a policy.
const TYPES: [&str; 11] = [
    "User",
    "ApiKey",
    "Anonymous",
    "Group",
    "Upstream",
    "Tool",
    "Prompt",
    "Resource",
    "Agent",
    "Model",
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
    match t.attrs {
        // An agent is its registry entry: `Agent::"planner"`.
        Attrs::Agent { .. } => uid("Agent", t.upstream),
        // A virtual model has no entry: `Model::"fast"`.
        Attrs::Model { .. } if t.upstream.is_empty() => uid("Model", t.name),
        _ => uid(t.action.resource_type(), &format!("{}/{}", t.upstream, t.name)),
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
        // Always empty: anonymous callers belong to no group.
        PrincipalKind::Anonymous => {
            attrs.insert("groups".into(), strings(&[]));
        }
    }
    out.extend(groups.iter().map(|g| Entity::new_no_attrs(g.clone(), HashSet::new())));
    let uids = groups.iter().cloned().collect();
    out.push(Entity::new(principal_uid(p), attrs, groups).map_err(|e| e.to_string())?);
    Ok(uids)
}

/// The target, and its upstream unless `with_upstream` is false (it is already there). A virtual
/// model has no upstream. A target whose attributes are not those of its action's resource type
/// is an error (the request is denied), never an entity policies would misread.
pub fn target_entities(t: &Target<'_>, with_upstream: bool, out: &mut Vec<Entity>) -> Result<(), String> {
    let kind = t.action.resource_type();
    let fits = match t.attrs {
        Attrs::Agent { .. } => kind == "Agent",
        Attrs::Model { .. } => kind == "Model",
        Attrs::Tool(_) | Attrs::None => !matches!(kind, "Agent" | "Model"),
    };
    if !fits {
        return Err(format!(
            "{} on {}/{}: not a {kind} (agentmux asked with the wrong attributes)",
            t.action.id(),
            t.upstream,
            t.name
        ));
    }
    let mut attrs = HashMap::with_capacity(6);
    match t.attrs {
        Attrs::Model { provider, model } => {
            attrs.insert(
                "provider".into(),
                RestrictedExpression::new_string(provider.to_string()),
            );
            attrs.insert("model".into(), RestrictedExpression::new_string(model.to_string()));
        }
        Attrs::Agent { skills } => {
            attrs.insert("name".into(), RestrictedExpression::new_string(t.name.to_string()));
            attrs.insert("skills".into(), strings(skills));
        }
        Attrs::Tool(_) | Attrs::None => {
            attrs.insert(
                t.action.name_attribute().into(),
                RestrictedExpression::new_string(t.name.to_string()),
            );
            attrs.insert(
                "upstream".into(),
                RestrictedExpression::new_string(t.upstream.to_string()),
            );
        }
    }
    if let Attrs::Tool(h) = t.attrs {
        for (k, v) in [
            ("read_only", h.read_only),
            ("destructive", h.destructive),
            ("idempotent", h.idempotent),
            ("open_world", h.open_world),
        ] {
            attrs.insert(k.into(), RestrictedExpression::new_bool(v));
        }
    }
    let upstream = (!t.is_virtual_model()).then(|| uid("Upstream", t.upstream));
    let parents = upstream.iter().cloned().collect();
    out.push(Entity::new(target_uid(t), attrs, parents).map_err(|e| e.to_string())?);
    if let Some(upstream) = upstream.filter(|_| with_upstream) {
        out.push(Entity::new_no_attrs(upstream, HashSet::new()));
    }
    Ok(())
}

pub fn entities(list: Vec<Entity>) -> Result<Entities, String> {
    Entities::from_entities(list, None).map_err(|e| e.to_string())
}

/// Which costly context values any policy reads; the others are left out of requests (a value
/// no policy reads cannot change a decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    pub now: bool,
    pub client_ip: bool,
    /// `context.estimated_tokens` or `context.max_tokens`: different in nearly every LLM request,
    /// so remembered decisions are keyed by them only when some policy reads them.
    pub tokens: bool,
    pub arguments: Reads,
}

/// Which of a call's arguments some policy reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    Nothing,
    /// `context.arguments.x` and `context.arguments has x`, by top-level name.
    Names(BTreeSet<String>),
    /// `context.arguments` used whole (compared, say): every argument.
    All,
}

impl Reads {
    pub fn reads(&self, name: &str) -> bool {
        match self {
            Self::Nothing => false,
            Self::Names(names) => names.contains(name),
            Self::All => true,
        }
    }

    pub fn any(&self) -> bool {
        *self != Self::Nothing
    }

    fn add(&mut self, name: &str) {
        match self {
            Self::Nothing => *self = Self::Names(BTreeSet::from([name.to_string()])),
            Self::Names(names) => {
                names.insert(name.to_string());
            }
            Self::All => {}
        }
    }
}

impl Needs {
    pub const ALL: Self = Self {
        now: true,
        client_ip: true,
        tokens: true,
        arguments: Reads::All,
    };
    const NONE: Self = Self {
        now: false,
        client_ip: false,
        tokens: false,
        arguments: Reads::Nothing,
    };

    /// What the policies read of the context, from Cedar's JSON form of each: `context.x` and
    /// `context has x` read `x`, `context.arguments.y` reads argument `y`; `context` or
    /// `context.arguments` used any other way (compared whole, say) reads all of it.
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
        let context = serde_json::json!({ "Var": "context" });
        let arguments = serde_json::json!({ ".": { "left": { "Var": "context" }, "attr": "arguments" } });
        match expr {
            Value::Object(map) => {
                for op in [".", "has"] {
                    let Some(Value::Object(access)) = map.get(op) else {
                        continue;
                    };
                    let attr = access.get("attr").and_then(Value::as_str);
                    if access.get("left") == Some(&arguments) {
                        match attr {
                            Some(name) => self.arguments.add(name),
                            None => self.arguments = Reads::All,
                        }
                        return;
                    }
                    if access.get("left") == Some(&context) {
                        match attr {
                            Some("now") => self.now = true,
                            Some("client_ip") => self.client_ip = true,
                            Some("estimated_tokens" | "max_tokens") => self.tokens = true,
                            // `context has arguments` is always true and reads nothing.
                            Some("arguments") if op == "has" => {}
                            Some("arguments") => self.arguments = Reads::All,
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

/// The context of one request: the same fields for every action, so that a policy written
/// without an action scope validates for all of them. MCP actions read `arguments` and `era`;
/// A2A actions `method` and `version` (their `arguments` are empty, their `era` is the A2A
/// version); `call_model` reads `api`, `stream`, `estimated_tokens`, `max_tokens` and `tools`
/// from `llm` (its `arguments` are empty, its `method` is `""` unless one is given). Other
/// actions get `api: ""`, `stream: false` and zeros. An MCP action's `method` is the one it
/// stands for (`tools/call` …). A value not known yet (the arguments of a list being filtered,
/// the method of a directory, an LLM request's fields when `llm` is `None`) is left unknown for
/// partial evaluation.
pub fn context(
    caller: &Caller,
    action: Action,
    method: Option<&str>,
    arguments: Option<RestrictedExpression>,
    llm: Option<&ModelCall<'_>>,
    now: Option<&str>,
    needs: &Needs,
) -> Result<Context, String> {
    let mut pairs = Vec::with_capacity(12);
    let arguments = match arguments {
        Some(arguments) => arguments,
        None if action.is_a2a() || action.is_llm() => {
            RestrictedExpression::new_record([]).map_err(|e| e.to_string())?
        }
        None => RestrictedExpression::new_unknown("arguments"),
    };
    pairs.push(("arguments".to_string(), arguments));
    let method = match method.or_else(|| action.mcp_method()) {
        Some(m) => RestrictedExpression::new_string(m.to_string()),
        None if action.is_llm() && llm.is_some() => RestrictedExpression::new_string(String::new()),
        None => RestrictedExpression::new_unknown("method"),
    };
    pairs.push(("method".into(), method));
    let version = RestrictedExpression::new_string(caller.version.to_string());
    pairs.push(("era".into(), version.clone()));
    pairs.push(("version".into(), version));
    pairs.push((
        "endpoint".into(),
        RestrictedExpression::new_string(caller.endpoint.to_string()),
    ));
    llm_context(action, llm, &mut pairs);
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

/// The names of the LLM request's fields in the context.
const LLM_FIELDS: [&str; 5] = ["api", "stream", "estimated_tokens", "max_tokens", "tools"];

/// `api`, `stream`, `estimated_tokens`, `max_tokens`, `tools`: the LLM request's for
/// `call_model`, unknown for `call_model` without one (a list), empty for other actions.
fn llm_context(action: Action, llm: Option<&ModelCall<'_>>, pairs: &mut Vec<(String, RestrictedExpression)>) {
    // Cedar's Long is signed: a count beyond it is as large as a policy can compare.
    let long = |n: u64| RestrictedExpression::new_long(i64::try_from(n).unwrap_or(i64::MAX));
    let values = match (action.is_llm(), llm) {
        (true, None) => {
            pairs.extend(LLM_FIELDS.map(|f| (f.to_string(), RestrictedExpression::new_unknown(f))));
            return;
        }
        (true, Some(call)) => [
            RestrictedExpression::new_string(call.api.to_string()),
            RestrictedExpression::new_bool(call.stream),
            long(call.estimated_tokens),
            long(call.max_tokens),
            long(call.tools),
        ],
        (false, _) => [
            RestrictedExpression::new_string(String::new()),
            RestrictedExpression::new_bool(false),
            long(0),
            long(0),
            long(0),
        ],
    };
    pairs.extend(LLM_FIELDS.into_iter().map(str::to_string).zip(values));
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
    static IPS: OnceLock<quick_cache::sync::Cache<IpAddr, RestrictedExpression>> = OnceLock::new();
    let ips = IPS.get_or_init(|| quick_cache::sync::Cache::new(10_000));
    if let Some(expr) = ips.get(&ip) {
        return expr;
    }
    let expr = RestrictedExpression::new_ip(ip.to_string());
    ips.insert(ip, expr.clone());
    expr
}

/// The call's arguments as a Cedar record: only those some policy reads (`reads`), each typed as
/// the tool declared it (`declared`), else by its JSON form (integers as Long, other numbers as
/// decimal). `null` members are left out. A value a policy reads but Cedar cannot hold exactly
/// (more than four decimal places, beyond the 64-bit range, a fraction where the tool declared
/// an integer) is an error, never a dropped attribute: a `has`-guarded forbid must not be
/// sidestepped by a value that vanishes.
pub fn arguments(
    value: &Value,
    declared: Option<&BTreeMap<String, ArgType>>,
    reads: &Reads,
) -> Result<RestrictedExpression, String> {
    let Value::Object(members) = value else {
        return Err("arguments: must be a JSON object".into());
    };
    let mut fields = Vec::with_capacity(members.len());
    let mut path = String::from("arguments");
    for (name, v) in members {
        if !reads.reads(name) {
            continue;
        }
        path.truncate("arguments".len());
        path.push('/');
        path.push_str(name);
        if let Some(expr) = cedar_value(v, declared.and_then(|d| d.get(name)), &mut path)? {
            fields.push((name.clone(), expr));
        }
    }
    RestrictedExpression::new_record(fields).map_err(|e| e.to_string())
}

fn cedar_value(
    value: &Value,
    declared: Option<&ArgType>,
    path: &mut String,
) -> Result<Option<RestrictedExpression>, String> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::Number(n) => number(n, declared, path)?,
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Array(items) => {
            let item = match declared {
                Some(ArgType::Set(item)) => Some(&**item),
                _ => None,
            };
            let len = path.len();
            let mut set = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                path.push('/');
                path.push_str(&i.to_string());
                set.extend(cedar_value(v, item, path)?);
                path.truncate(len);
            }
            RestrictedExpression::new_set(set)
        }
        Value::Object(members) => {
            let fields = match declared {
                Some(ArgType::Record(fields)) => Some(fields),
                _ => None,
            };
            let len = path.len();
            let mut record = Vec::with_capacity(members.len());
            for (name, v) in members {
                path.push('/');
                path.push_str(name);
                if let Some(expr) = cedar_value(v, fields.and_then(|f| f.get(name)), path)? {
                    record.push((name.clone(), expr));
                }
                path.truncate(len);
            }
            RestrictedExpression::new_record(record).map_err(|e| format!("{path}: {e}"))?
        }
    }))
}

/// Cedar decimals hold four fractional digits within the 64-bit range (±922337203685477.5807).
const DECIMAL_PLACES: usize = 4;

fn number(n: &serde_json::Number, declared: Option<&ArgType>, path: &str) -> Result<RestrictedExpression, String> {
    if let Some(i) = n.as_i64() {
        return match declared {
            Some(ArgType::Decimal) => decimal(&i.to_string(), "0", n, path),
            _ => Ok(RestrictedExpression::new_long(i)),
        };
    }
    if n.is_u64() {
        return Err(format!(
            "{path}: {n} is beyond the 64-bit integer range policies compare"
        ));
    }
    if declared == Some(&ArgType::Long) {
        return Err(format!("{path}: {n} is not an integer"));
    }
    // The shortest text that reads back as the same float: what the upstream's parser sees.
    let text = n.as_f64().map(|f| f.to_string()).unwrap_or_default();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "0"));
    decimal(whole, fraction, n, path)
}

fn decimal(whole: &str, fraction: &str, n: &serde_json::Number, path: &str) -> Result<RestrictedExpression, String> {
    if fraction.len() > DECIMAL_PLACES {
        return Err(format!(
            "{path}: {n} has more than {DECIMAL_PLACES} decimal places, which policies cannot compare exactly"
        ));
    }
    let scaled = whole
        .parse::<i128>()
        .ok()
        .and_then(|w| {
            let f: i128 = format!("{fraction:0<4}").parse().ok()?;
            // Checked: a whole part of 35+ digits parses as i128 but does not scale.
            w.checked_mul(10_000)?
                .checked_add(if whole.starts_with('-') { -f } else { f })
        })
        .filter(|v| i64::try_from(*v).is_ok());
    match scaled {
        Some(_) => Ok(RestrictedExpression::new_decimal(format!("{whole}.{fraction}"))),
        None => Err(format!(
            "{path}: {n} is beyond the range of the decimals policies compare"
        )),
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
        fingerprint: Default::default(),
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
