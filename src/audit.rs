//! The audit log: one JSON line per authorization decision, tool-call outcome and tool-pinning
//! event, for security teams to ship to their SIEM. Never tokens or secrets; tool arguments are
//! written, hashed or left out as configured.
//!
//! Lines go through a bounded queue to one writer thread, so a slow disk never stalls a request;
//! when the queue is full a line is dropped and counted (`agentmux_audit_dropped_total`), never
//! blocked on. Denials have a budget of their own within the queue, so a flood of denied
//! requests (which anyone can send) cannot push allowed calls out of the log.
//!
//! Argument hashes are keyed (HMAC-SHA256): a plain hash of `{"amount":5}` could be reversed by
//! hashing every small value.

use std::fs::OpenOptions;
use std::io::{LineWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::{AuditArguments, AuditSettings, AuditSink};

/// Lines queued for the writer before new ones are dropped.
const QUEUE: usize = 8192;

/// Of those, at most this many denials: the rest of the queue is kept for what was allowed.
const DENIED_BUDGET: usize = QUEUE / 4;

/// Shortest `audit.hash_key` accepted.
const MIN_KEY_BYTES: usize = 16;

pub struct Audit {
    tx: Option<SyncSender<(String, bool)>>,
    /// Denials queued and not yet written.
    denied_queued: Arc<AtomicUsize>,
    arguments: AuditArguments,
    hash_key: Vec<u8>,
}

impl Audit {
    /// Opens the sink (creating or appending to a file) and starts its writer thread.
    pub fn open(settings: &AuditSettings) -> std::io::Result<Self> {
        let mut out: Box<dyn Write + Send> = match &settings.sink {
            AuditSink::Off => return Ok(Self::off()),
            AuditSink::Stderr => Box::new(std::io::stderr()),
            AuditSink::File(path) => Box::new(LineWriter::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
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
        let (tx, rx) = sync_channel::<(String, bool)>(QUEUE);
        let denied_queued = Arc::new(AtomicUsize::new(0));
        let queued = Arc::clone(&denied_queued);
        std::thread::Builder::new()
            .name("agentmux-audit".into())
            .spawn(move || {
                for (line, denied) in rx {
                    if denied {
                        queued.fetch_sub(1, Ordering::Relaxed);
                    }
                    if out.write_all(line.as_bytes()).is_err() {
                        crate::metrics::metrics().audit_dropped();
                    }
                }
                let _ = out.flush();
            })?;
        Ok(Self {
            tx: Some(tx),
            denied_queued,
            arguments: settings.arguments,
            hash_key,
        })
    }

    pub fn off() -> Self {
        Self {
            tx: None,
            denied_queued: Arc::default(),
            arguments: AuditArguments::Omit,
            hash_key: Vec::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Writes one event; `time` is added here.
    pub fn write(&self, mut event: Map<String, Value>) {
        let Some(tx) = &self.tx else {
            return;
        };
        let mut line = Map::with_capacity(event.len() + 1);
        line.insert("time".into(), Value::String(now_rfc3339()));
        line.append(&mut event);
        let denied = line.get("decision").is_some_and(|d| d == "deny");
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        if denied && self.denied_queued.fetch_add(1, Ordering::Relaxed) >= DENIED_BUDGET {
            self.denied_queued.fetch_sub(1, Ordering::Relaxed);
            crate::metrics::metrics().audit_dropped();
            return;
        }
        if tx.try_send((text, denied)).is_err() {
            if denied {
                self.denied_queued.fetch_sub(1, Ordering::Relaxed);
            }
            crate::metrics::metrics().audit_dropped();
        }
    }

    /// Tool arguments as configured: the JSON itself, `hmac-sha256:<hex>` of its text under the
    /// install's key, or nothing.
    pub fn arguments(&self, arguments: Option<&RawValue>) -> Option<Value> {
        let arguments = arguments?;
        match self.arguments {
            AuditArguments::Omit => None,
            AuditArguments::Hash => {
                let mac = hmac_sha256(&self.hash_key, arguments.get().as_bytes());
                let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
                Some(json!(format!("hmac-sha256:{hex}")))
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn denials_cannot_crowd_out_allowed_events() {
        let (tx, rx) = sync_channel::<(String, bool)>(QUEUE);
        let audit = Audit {
            tx: Some(tx),
            denied_queued: Arc::default(),
            arguments: AuditArguments::Omit,
            hash_key: Vec::new(),
        };
        let event = |decision: &str| {
            let mut e = Map::new();
            e.insert("decision".into(), json!(decision));
            e
        };
        // Nobody is writing: a flood of denials fills only its budget.
        for _ in 0..QUEUE * 2 {
            audit.write(event("deny"));
        }
        for _ in 0..QUEUE - DENIED_BUDGET {
            audit.write(event("allow"));
        }
        let queued: Vec<bool> = rx.try_iter().map(|(_, denied)| denied).collect();
        assert_eq!(queued.iter().filter(|d| **d).count(), DENIED_BUDGET);
        assert_eq!(queued.iter().filter(|d| !**d).count(), QUEUE - DENIED_BUDGET);
    }
}
