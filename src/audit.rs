//! The audit log: one JSON line per authorization decision, tool-call outcome and tool-pinning
//! event, for security teams to ship to their SIEM. Never tokens or secrets; tool arguments are
//! written, hashed or left out as configured.
//!
//! Lines are gathered and written in batches by one writer thread ([`crate::batched`]), so a
//! slow disk never stalls a request; when the buffer is full a line is dropped and counted
//! (`agentmux_audit_dropped_total`), never blocked on. Denials have a share of their own within
//! the buffer, so a flood of denied requests (which anyone can send) cannot push allowed calls
//! out of the log.
//!
//! Argument hashes are keyed (HMAC-SHA256): a plain hash of `{"amount":5}` could be reversed by
//! hashing every small value.

use std::fs::OpenOptions;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::batched::{self, Guard, Lines, Sink};
use crate::config::{AuditArguments, AuditSettings, AuditSink};

/// Bytes of lines waiting for the sink before new ones are dropped.
const LIMIT: usize = 8 << 20;

/// Of those, at most this many bytes of denials: the rest is kept for what was allowed.
const DENIED_LIMIT: usize = LIMIT / 4;

/// Shortest `audit.hash_key` accepted.
const MIN_KEY_BYTES: usize = 16;

pub struct Audit {
    /// The writer is stopped, and what waits written, when the audit is dropped.
    lines: Option<(Lines, Guard)>,
    arguments: AuditArguments,
    hash_key: Vec<u8>,
}

/// Whether a record is a denial (which may take only its share of the buffer).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied,
}

impl Audit {
    /// Opens the sink (creating or appending to a file) and starts its writer thread.
    pub fn open(settings: &AuditSettings) -> std::io::Result<Self> {
        let out: Box<dyn std::io::Write + Send> = match &settings.sink {
            AuditSink::Off => return Ok(Self::off()),
            AuditSink::Stderr => Box::new(std::io::stderr()),
            AuditSink::File(path) => Box::new(OpenOptions::new().create(true).append(true).open(path)?),
        };
        let hash_key = match &settings.hash_key {
            Some(key) if key.0.len() < MIN_KEY_BYTES => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "audit.hash_key: use at least {MIN_KEY_BYTES} bytes (32 random bytes, e.g. `openssl rand -hex 32`)"
                    ),
                ));
            }
            Some(key) => key.0.as_bytes().to_vec(),
            None => random_key(),
        };
        let lines = batched::start(Sink {
            name: "agentmux-audit",
            out,
            limit: LIMIT,
            bulk_limit: DENIED_LIMIT,
            lost: Box::new(|n| crate::metrics::metrics().audit_dropped(n)),
        })?;
        Ok(Self {
            lines: Some(lines),
            arguments: settings.arguments,
            hash_key,
        })
    }

    pub fn off() -> Self {
        Self {
            lines: None,
            arguments: AuditArguments::Omit,
            hash_key: Vec::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.lines.is_some()
    }

    /// Writes what is waiting and stops the writer, when agentmux stops.
    pub fn close(&self) {
        if let Some((_, guard)) = &self.lines {
            guard.stop();
        }
    }

    /// Writes one event given as a map; `time` is added here.
    pub fn write(&self, event: Map<String, Value>) {
        let decision = if event.get("decision").is_some_and(|d| d == "deny") {
            Decision::Denied
        } else {
            Decision::Allowed
        };
        self.record(&event, decision);
    }

    /// Writes one event, serialized straight into its line (an object's fields after `time`,
    /// which is added here).
    pub fn record(&self, event: &impl Serialize, decision: Decision) {
        let Some((lines, _)) = &self.lines else {
            return;
        };
        #[derive(Serialize)]
        struct Stamped<'a, E> {
            time: String,
            #[serde(flatten)]
            event: &'a E,
        }
        let mut line = Vec::with_capacity(512);
        if serde_json::to_writer(
            &mut line,
            &Stamped {
                time: now_rfc3339(),
                event,
            },
        )
        .is_err()
        {
            crate::metrics::metrics().audit_dropped(1);
            return;
        }
        line.push(b'\n');
        match decision {
            Decision::Allowed => lines.push(&line),
            Decision::Denied => lines.push_bulk(&line),
        }
    }

    /// Tool arguments as configured: the JSON itself, `hmac-sha256:<hex>` of its text under the
    /// install's key, or nothing.
    pub fn arguments(&self, arguments: Option<&RawValue>) -> Option<Value> {
        let arguments = arguments?;
        match self.arguments {
            AuditArguments::Omit => None,
            AuditArguments::Hash => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mac = hmac_sha256(&self.hash_key, arguments.get().as_bytes());
                let mut text = String::with_capacity(12 + 64);
                text.push_str("hmac-sha256:");
                for b in mac {
                    text.push(HEX[usize::from(b >> 4)] as char);
                    text.push(HEX[usize::from(b & 15)] as char);
                }
                Some(Value::String(text))
            }
            AuditArguments::Log => serde_json::from_str(arguments.get()).ok(),
        }
    }
}

/// HMAC-SHA256 (RFC 2104): ten lines over `sha2`, checked against RFC 4231 below.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// A key for this run only, when none is configured.
fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    if getrandom::fill(&mut key).is_err() {
        // No OS randomness: fall back to two v4 UUIDs (themselves from the OS RNG, or time).
        key = [uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat();
    }
    key
}

/// UTC now as `2026-11-27T22:20:58.123Z`.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_millis())
}

/// Civil time from Unix seconds (Howard Hinnant's days-from-civil inverse), in UTC.
pub fn rfc3339(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Who a line is about: `{"type": "User", "id": "alice", "issuer": "…"}`, the same in every
/// protocol's lines.
#[derive(Serialize)]
pub struct Who<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    issuer: Option<&'a str>,
}

impl<'a> Who<'a> {
    pub fn of(principal: &'a crate::identity::Principal) -> Self {
        Self {
            kind: principal.entity_type(),
            id: &principal.id,
            issuer: principal.issuer.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn civil_time() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_213_258, 5), "2026-11-20T22:20:58.005Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn arguments_hashed_logged_or_omitted() {
        let args = serde_json::value::RawValue::from_string(r#"{"amount":5}"#.into()).unwrap();
        let mut audit = Audit::off();
        assert_eq!(audit.arguments(Some(&args)), None);
        audit.arguments = AuditArguments::Log;
        assert_eq!(audit.arguments(Some(&args)), Some(json!({"amount": 5})));
        audit.arguments = AuditArguments::Hash;
        audit.hash_key = b"an install's own key, 32 bytes!!".to_vec();
        let hashed = audit.arguments(Some(&args)).unwrap();
        let text = hashed.as_str().unwrap();
        assert!(text.starts_with("hmac-sha256:") && text.len() == 12 + 64, "{text}");
        // Not the plain SHA-256 anyone could recompute from a guessed value.
        assert!(!text.contains(&format!("{:x}", Sha256::digest(args.get().as_bytes()))));
        audit.hash_key = b"another install's key, 32 bytes!".to_vec();
        assert_ne!(audit.arguments(Some(&args)).unwrap(), hashed);
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        let hex = |b: [u8; 32]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
        // Test case 2.
        assert_eq!(
            hex(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_record_is_one_line_with_time_first_and_is_written_when_the_audit_closes() {
        #[derive(Serialize)]
        struct Record {
            event: &'static str,
            decision: &'static str,
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let audit = Audit::open(&AuditSettings {
            sink: AuditSink::File(path.clone()),
            arguments: AuditArguments::Omit,
            hash_key: None,
        })
        .unwrap();
        audit.record(
            &Record {
                event: "call",
                decision: "allow",
            },
            Decision::Allowed,
        );
        let mut map = Map::new();
        map.insert("event".into(), json!("tool_pin"));
        audit.write(map);
        audit.close();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with(r#"{"time":""#), "{}", lines[0]);
        assert!(
            lines[0].ends_with(r#"Z","event":"call","decision":"allow"}"#),
            "{}",
            lines[0]
        );
        assert!(lines[1].ends_with(r#"Z","event":"tool_pin"}"#), "{}", lines[1]);
    }
}
