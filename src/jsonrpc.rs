//! JSON-RPC 2.0 frames kept raw.
//!
//! agentmux forwards frames between clients and upstreams without round-tripping them through
//! typed models: fields stay [`RawValue`]s and only the few that must change (ids, names, cursors,
//! progress tokens) are rewritten. Anything a peer adds, known or not, survives.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use std::borrow::Cow;

pub type Raw = Box<RawValue>;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP: the resource does not exist.
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// agentmux: the upstream that owns the item cannot be reached or failed.
pub const UPSTREAM_ERROR: i64 = -32010;

/// One JSON-RPC message as received, borrowing from the bytes it was read from: every field is
/// a slice of them (a `method` with escapes is the one exception, unescaped). Which kind it is
/// follows from the fields present.
#[derive(Debug, Deserialize)]
pub struct Message<'a> {
    #[serde(borrow)]
    pub jsonrpc: Option<&'a RawValue>,
    #[serde(borrow)]
    pub id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub params: Option<&'a RawValue>,
    /// Present even when `null` (a method may answer `null`).
    #[serde(borrow, default, deserialize_with = "present")]
    pub result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    pub error: Option<&'a RawValue>,
}

/// A member that is there, whatever its value: `null` too (serde reads `null` as absent).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(deserializer).map(Some)
}

self_cell::self_cell!(
    /// A request body together with the message read from it: parsed once, and movable as one
    /// value into the task that answers it (a streamed answer outlives its handler).
    pub struct Received {
        owner: bytes::Bytes,
        #[covariant]
        dependent: Message,
    }
    impl {Debug}
);

impl Received {
    pub fn parse(body: bytes::Bytes) -> Result<Self, RpcError> {
        Self::try_new(body, |bytes| Message::parse(bytes))
    }

    pub fn message(&self) -> &Message<'_> {
        self.borrow_dependent()
    }
}

/// What a [`Message`] is.
pub enum Kind<'a> {
    Request { id: &'a RawValue, method: &'a str },
    Notification { method: &'a str },
    Response { id: &'a RawValue },
}

impl<'a> Message<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, RpcError> {
        // A JSON array is a batch, which MCP removed in 2025-06-18.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(RpcError::new(
                INVALID_REQUEST,
                "JSON-RPC batches are not supported: send one message per request",
            ));
        }
        serde_json::from_slice::<Message<'a>>(bytes).map_err(|e| {
            if e.is_data() {
                RpcError::new(INVALID_REQUEST, format!("invalid JSON-RPC message: {e}"))
            } else {
                RpcError::new(PARSE_ERROR, format!("malformed JSON: {e}"))
            }
        })
    }

    /// Classifies the message, rejecting what JSON-RPC 2.0 does not allow.
    pub fn kind(&self) -> Result<Kind<'_>, RpcError> {
        if self.jsonrpc.map(RawValue::get) != Some("\"2.0\"") {
            return Err(RpcError::new(INVALID_REQUEST, "`jsonrpc` must be \"2.0\""));
        }
        match (
            self.id,
            self.method.as_deref(),
            self.result.is_some() || self.error.is_some(),
        ) {
            (Some(id), Some(method), false) => {
                if !valid_id(id) {
                    return Err(RpcError::new(INVALID_REQUEST, "`id` must be a string or an integer"));
                }
                Ok(Kind::Request { id, method })
            }
            (None, Some(method), false) => Ok(Kind::Notification { method }),
            (Some(id), None, true) => Ok(Kind::Response { id }),
            _ => Err(RpcError::new(
                INVALID_REQUEST,
                "not a JSON-RPC request, notification or response",
            )),
        }
    }
}

fn valid_id(id: &RawValue) -> bool {
    let text = id.get();
    text.starts_with('"') || (!text.is_empty() && text.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()))
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

// === frames agentmux writes ===

pub fn result_frame(id: &RawValue, result: &RawValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + id.get().len() + result.get().len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id.get().as_bytes());
    out.extend_from_slice(b",\"result\":");
    out.extend_from_slice(result.get().as_bytes());
    out.push(b'}');
    out
}

pub fn error_frame(id: Option<&RawValue>, error: &RpcError) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + error.message.len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id.map_or("null", RawValue::get).as_bytes());
    out.extend_from_slice(b",\"error\":");
    // Serializing a struct of plain fields into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, error);
    out.push(b'}');
    out
}

/// A request or notification frame (`id: None` → notification).
pub fn request_frame(id: Option<&str>, method: &str, params: Option<&RawValue>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + params.map_or(0, |p| p.get().len()));
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",");
    if let Some(id) = id {
        out.extend_from_slice(b"\"id\":");
        out.extend_from_slice(id.as_bytes());
        out.push(b',');
    }
    out.extend_from_slice(b"\"method\":");
    let _ = serde_json::to_writer(&mut out, method);
    if let Some(params) = params {
        out.extend_from_slice(b",\"params\":");
        out.extend_from_slice(params.get().as_bytes());
    }
    out.push(b'}');
    out
}

/// Wraps serialized JSON that agentmux produced itself.
#[allow(clippy::expect_used)]
pub fn raw(json: String) -> Raw {
    // Only called with the output of serde_json or of the frame writers above: always valid JSON.
    RawValue::from_string(json).expect("agentmux wrote invalid JSON")
}

/// A `null` id, for errors about requests whose id could not be read.
pub fn null_ref() -> &'static RawValue {
    static NULL: std::sync::OnceLock<Raw> = std::sync::OnceLock::new();
    NULL.get_or_init(|| raw("null".to_string()))
}

pub fn empty_object() -> Raw {
    raw("{}".to_string())
}

pub fn to_raw<T: Serialize>(value: &T) -> Raw {
    raw(serde_json::to_string(value).unwrap_or_else(|_| "null".into()))
}

// === objects whose members stay raw ===

/// A JSON object whose member values stay raw, in their original order. Read from text, names and
/// values borrow from it (nothing is copied); what agentmux replaces is held owned. Duplicate
/// keys are rejected: what agentmux checks must be exactly what the upstream receives.
#[derive(Debug, Default, Clone)]
pub struct RawObject<'a>(pub Vec<(Cow<'a, str>, Cow<'a, RawValue>)>);

impl<'a> RawObject<'a> {
    pub fn parse(raw: &'a RawValue) -> Result<Self, RpcError> {
        serde_json::from_str(raw.get()).map_err(|e| RpcError::new(INVALID_PARAMS, format!("params: {e}")))
    }

    /// The same object, holding its own copies (to be kept beyond the text it was read from).
    pub fn into_owned(self) -> RawObject<'static> {
        RawObject(
            self.0
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }

    /// A member that must be a string, when present.
    pub fn str(&self, key: &str) -> Result<Option<String>, RpcError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => serde_json::from_str::<String>(v.get())
                .map(Some)
                .map_err(|_| RpcError::new(INVALID_PARAMS, format!("`{key}` must be a string"))),
        }
    }

    pub fn set(&mut self, key: &str, value: Raw) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = Cow::Owned(value),
            None => self.0.push((Cow::Owned(key.to_string()), Cow::Owned(value))),
        }
    }

    pub fn set_str(&mut self, key: &str, value: &str) {
        self.set(key, to_raw(&value));
    }

    pub fn remove(&mut self, key: &str) -> Option<Cow<'a, RawValue>> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    /// The object as JSON text, written once into a buffer of its size.
    pub fn to_raw(&self) -> Raw {
        let size = self.0.iter().map(|(k, v)| k.len() + v.get().len() + 4).sum::<usize>() + 2;
        let mut out = Vec::with_capacity(size);
        // Writing strings and raw values into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, self);
        raw(String::from_utf8(out).unwrap_or_else(|_| "{}".into()))
    }
}

impl Serialize for RawObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, &**v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject<'de>, A::Error> {
                let mut members: Vec<(Cow<'de, str>, Cow<'de, RawValue>)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format!("duplicate key `{key}`")));
                    }
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, Cow::Borrowed(value)));
                }
                Ok(RawObject(members))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// A member name: borrowed from the text unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_messages() {
        let m = Message::parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#).unwrap();
        assert!(matches!(
            m.kind(),
            Ok(Kind::Request {
                method: "tools/list",
                ..
            })
        ));
        let m = Message::parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(matches!(m.kind(), Ok(Kind::Notification { .. })));
        let m = Message::parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap();
        assert!(matches!(m.kind(), Ok(Kind::Response { .. })));
        let m = Message::parse(br#"{"jsonrpc":"2.0"}"#).unwrap();
        assert_eq!(m.kind().err().unwrap().code, INVALID_REQUEST);
        let m = Message::parse(br#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#).unwrap();
        assert_eq!(m.kind().err().unwrap().code, INVALID_REQUEST);
    }

    #[test]
    fn parse_errors_and_batches() {
        assert_eq!(Message::parse(b"{nope").unwrap_err().code, PARSE_ERROR);
        let batch = Message::parse(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).unwrap_err();
        assert_eq!(batch.code, INVALID_REQUEST);
        assert!(batch.message.contains("batch"));
        assert_eq!(Message::parse(br#"{"id":1,"id":2}"#).unwrap_err().code, INVALID_REQUEST);
    }

    #[test]
    fn raw_object_keeps_order_and_rejects_duplicates() {
        let raw = RawValue::from_string(r#"{"name":"a","arguments":{"x":[1,2]},"_meta":{"k":1}}"#.into()).unwrap();
        let mut obj = RawObject::parse(&raw).unwrap();
        obj.set_str("name", "b");
        assert_eq!(
            obj.to_raw().get(),
            r#"{"name":"b","arguments":{"x":[1,2]},"_meta":{"k":1}}"#
        );
        let dup = RawValue::from_string(r#"{"name":"allowed","name":"denied"}"#.into()).unwrap();
        assert!(
            RawObject::parse(&dup)
                .unwrap_err()
                .message
                .contains("duplicate key `name`")
        );
    }

    #[test]
    fn frames() {
        let id = RawValue::from_string("\"x\"".into()).unwrap();
        let res = RawValue::from_string("{}".into()).unwrap();
        assert_eq!(result_frame(&id, &res), br#"{"jsonrpc":"2.0","id":"x","result":{}}"#);
        let err = error_frame(None, &RpcError::new(-1, "m"));
        assert_eq!(err, br#"{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"m"}}"#);
        assert_eq!(
            request_frame(Some("3"), "ping", None),
            br#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#
        );
    }
}
