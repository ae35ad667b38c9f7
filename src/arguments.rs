//! A call's arguments, checked against what the upstream declared before anything decides on
//! them. A leaf that every protocol module and `authz` may use.
//!
//! Policies compare typed values, and upstreams coerce loosely (Python and JS servers read
//! `150.0` and `"150"` as 150). So a call's arguments are parsed once ([`parse`]: one JSON
//! object, no duplicate keys, bounded depth), validated against the tool's declared
//! `inputSchema` with a real JSON Schema validator, and integers must be exact 64-bit integers
//! where the schema says `integer` ([`Declared::check`]). What the policy decided on is then
//! exactly the value the upstream receives, with the type the upstream declared.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Deepest argument nesting agentmux reads; deeper calls are refused, not half-read.
pub const MAX_DEPTH: usize = 32;

/// Compiled schemas kept, at most (one per distinct `inputSchema` text).
const CACHE_CAPACITY: u64 = 20_000;

/// The type a JSON Schema declares for a value, as far as a policy can compare it.
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
    /// From a JSON Schema; `None` for what a policy cannot compare (unions, null, untyped).
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
}

/// The declared types of an object schema's properties (those a policy can compare).
pub fn properties(schema: &Value, depth: usize) -> BTreeMap<String, ArgType> {
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

/// What one tool declared of its arguments: its compiled `inputSchema` and the argument types.
pub struct Declared {
    /// `Err` when the schema does not compile: such a tool's calls are refused (fail closed).
    validator: Result<jsonschema::Validator, String>,
    pub types: BTreeMap<String, ArgType>,
    /// SHA-256 of the schema text: equal ids, equal declarations (keys remembered decisions).
    pub id: [u8; 32],
}

impl std::fmt::Debug for Declared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Declared")
            .field("compiles", &self.validator.is_ok())
            .field("types", &self.types)
            .finish()
    }
}

impl Declared {
    /// Compiles `schema` (a tool's `inputSchema`), or finds it compiled: validators are cached
    /// by the schema's text, so a catalog refresh that changes nothing compiles nothing.
    pub fn of(schema: &RawValue) -> Arc<Self> {
        static CACHE: OnceLock<moka::sync::Cache<[u8; 32], Arc<Declared>>> = OnceLock::new();
        let id: [u8; 32] = Sha256::digest(schema.get().as_bytes()).into();
        CACHE
            .get_or_init(|| moka::sync::Cache::new(CACHE_CAPACITY))
            .get_with(id, || Arc::new(Self::compile(schema, id)))
    }

    fn compile(schema: &RawValue, id: [u8; 32]) -> Self {
        let value: Value = match serde_json::from_str(schema.get()) {
            Ok(v) => v,
            Err(e) => {
                return Self {
                    validator: Err(format!("inputSchema is not JSON: {e}")),
                    types: BTreeMap::new(),
                    id,
                };
            }
        };
        // The draft comes from `$schema`; 2020-12 (the validator's default) where none is named,
        // as MCP specifies.
        let validator = jsonschema::options()
            // A schema never makes agentmux fetch anything: remote `$ref`s do not compile.
            .with_retriever(NoRetrieval)
            .build(&value)
            .map_err(|e| format!("inputSchema does not compile: {e}"));
        Self {
            validator,
            types: properties(&value, 0),
            id,
        }
    }

    /// Whether `arguments` (already [`parse`]d) are what the tool declared: the JSON Schema,
    /// and integers exact where it says `integer`. The error names the first problem and where.
    pub fn check(&self, arguments: &Value) -> Result<(), String> {
        let validator = self.validator.as_ref().map_err(Clone::clone)?;
        if let Some(error) = validator.iter_errors(arguments).next() {
            let at = error.instance_path().to_string();
            return Err(format!("arguments{at}: {error}"));
        }
        let mut path = String::from("arguments");
        exact_integers(arguments, &ArgType::Record(self.types.clone()), &mut path)
    }

    /// Whether the schema compiled (tools whose schema does not are refused when validating).
    pub fn compiles(&self) -> bool {
        self.validator.is_ok()
    }
}

/// JSON Schema counts `150.0` as an integer; policies and many upstreams do not agree on what
/// it means. Where the schema says `integer`, only an exact 64-bit integer written as one is
/// accepted.
fn exact_integers(value: &Value, declared: &ArgType, path: &mut String) -> Result<(), String> {
    match (declared, value) {
        (ArgType::Long, Value::Number(n)) if n.as_i64().is_none() => {
            let whole = n.as_f64().is_some_and(|f| f.fract() == 0.0);
            Err(
                if n.is_u64() || (whole && n.as_f64().is_some_and(|f| f.abs() >= 9.2e18)) {
                    format!("{path}: {n} is beyond the 64-bit integer range")
                } else {
                    format!("{path}: {n} is not an integer; send it without a fraction or exponent")
                },
            )
        }
        (ArgType::Set(item), Value::Array(items)) => {
            let len = path.len();
            for (i, v) in items.iter().enumerate() {
                let _ = write!(path, "/{i}");
                exact_integers(v, item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        (ArgType::Record(fields), Value::Object(members)) => {
            let len = path.len();
            for (name, t) in fields {
                if let Some(v) = members.get(name) {
                    let _ = write!(path, "/{name}");
                    exact_integers(v, t, path)?;
                    path.truncate(len);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

struct NoRetrieval;

impl jsonschema::Retrieve for NoRetrieval {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("agentmux does not fetch schemas (`{uri}`)").into())
    }
}

/// Reads a call's arguments (a JSON object, or absent: `{}`) in one pass. Duplicate keys at any
/// depth and nesting past [`MAX_DEPTH`] are errors: what is checked and decided on must be
/// exactly what the upstream receives, and parsers disagree on which duplicate wins.
pub fn parse(raw: Option<&RawValue>) -> Result<Value, String> {
    match raw {
        None => Ok(Value::Object(Map::new())),
        Some(raw) => read_object(raw.get(), "arguments"),
    }
}

/// Reads a JSON object the way [`parse`] reads arguments (no duplicate keys, bounded depth);
/// `what` names it in errors (`params`, `the body`).
pub fn read_object(text: &str, what: &str) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed(0).deserialize(&mut de).map_err(|e| format!("{what}: {e}"))?;
    de.end().map_err(|e| format!("{what}: {e}"))?;
    if !value.is_object() {
        return Err(format!("{what}: must be a JSON object"));
    }
    Ok(value)
}

/// Deserializes one value at a depth.
struct Seed(usize);

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // serde_json never yields a non-finite float from JSON text.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.0 >= MAX_DEPTH {
            return Err(de::Error::custom(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed(self.0 + 1))? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.0 >= MAX_DEPTH {
            return Err(de::Error::custom(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value_seed(Seed(self.0 + 1))?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests;
