//! The audit log: one JSON line per authorization decision, tool-call outcome and tool-pinning
//! event, for security teams to ship to their SIEM. Never tokens or secrets; tool arguments are
//! written, hashed or left out as configured.
//!
//! Lines go through a bounded queue to one writer thread, so a slow disk never stalls a request;
//! when the queue is full a line is dropped and counted (`agentmux_audit_dropped_total`), never
//! blocked on.

use std::fs::OpenOptions;
use std::io::{LineWriter, Write};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::{AuditArguments, AuditSettings, AuditSink};

/// Lines queued for the writer before new ones are dropped.
const QUEUE: usize = 8192;

pub struct Audit {
    tx: Option<SyncSender<String>>,
    arguments: AuditArguments,
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
        let (tx, rx) = sync_channel::<String>(QUEUE);
        std::thread::Builder::new()
            .name("agentmux-audit".into())
            .spawn(move || {
                for line in rx {
                    if out.write_all(line.as_bytes()).is_err() {
                        crate::metrics::metrics().audit_dropped();
                    }
                }
                let _ = out.flush();
            })?;
        Ok(Self {
            tx: Some(tx),
            arguments: settings.arguments,
        })
    }

    pub fn off() -> Self {
        Self {
            tx: None,
            arguments: AuditArguments::Omit,
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
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(text) {
            crate::metrics::metrics().audit_dropped();
        }
    }

    /// Tool arguments as configured: the JSON itself, `sha256:<hex>` of its text, or nothing.
    pub fn arguments(&self, arguments: Option<&RawValue>) -> Option<Value> {
        let arguments = arguments?;
        match self.arguments {
            AuditArguments::Omit => None,
            AuditArguments::Hash => Some(json!(format!(
                "sha256:{:x}",
                Sha256::digest(arguments.get().as_bytes())
            ))),
            AuditArguments::Log => serde_json::from_str(arguments.get()).ok(),
        }
    }
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
        let hashed = audit.arguments(Some(&args)).unwrap();
        assert!(hashed.as_str().unwrap().starts_with("sha256:"));
        assert_eq!(hashed.as_str().unwrap().len(), 7 + 64);
    }
}
