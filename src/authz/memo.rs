//! Remembered decisions. A decision is a pure function of what the policies can see: the
//! principal's attributes, the action, the tool (upstream, name, hints), agent (skills) or model
//! (provider, model), the endpoint, era or A2A version and method, an LLM request's API, stream
//! flag and tool count, and the arguments, token counts, client address and time *if some
//! policy reads them*. Keyed by a SHA-256 of exactly those inputs, a repeated call is decided by
//! one lookup. Sets that read `context.now` are never remembered. Each loaded policy set has its
//! own memo, and the key names the tool declaration the arguments were typed by, so neither a
//! reload nor a changed tool ever serves an old decision.

use std::sync::Arc;

use super::keyed::{self, Key};
use super::request::Needs;
use super::{Ask, Verdict};

/// Decisions remembered, at most; old ones go first.
const CAPACITY: usize = 100_000;

pub struct Memo {
    cache: keyed::Cache<Verdict>,
}

impl Memo {
    pub fn new() -> Self {
        Self {
            cache: keyed::cache(CAPACITY),
        }
    }

    /// The key of an ask under `needs`; `None` when its decision must not be remembered.
    pub fn key(ask: &Ask<'_>, needs: &Needs) -> Option<[u8; 32]> {
        if needs.now {
            return None;
        }
        let mut key = Key::new();
        key.field(&ask.caller.principal.fingerprint());
        key.target(&ask.target);
        let mut field = |bytes: &[u8]| key.field(bytes);
        field(ask.caller.endpoint.as_bytes());
        field(ask.caller.version.as_bytes());
        field(ask.method.unwrap_or_default().as_bytes());
        match &ask.llm {
            None => field(&[0]),
            Some(call) => {
                field(&[1, u8::from(call.stream)]);
                field(call.api.as_bytes());
                field(&call.tools.to_le_bytes());
                if needs.tokens {
                    field(&call.estimated_tokens.to_le_bytes());
                    field(&call.max_tokens.to_le_bytes());
                }
            }
        }
        if needs.client_ip {
            field(
                ask.caller
                    .client_ip
                    .map(|ip| ip.to_string())
                    .unwrap_or_default()
                    .as_bytes(),
            );
        }
        if needs.arguments.any() {
            let arguments = ask.arguments.as_ref();
            // As sent: the same arguments written differently are only a miss. The declaration
            // they were typed by is part of what the policies see.
            field(arguments.and_then(|a| a.raw).map_or("", |a| a.get()).as_bytes());
            field(arguments.and_then(|a| a.declared).map_or(&[0; 32], |d| &d.id));
            field(&[u8::from(arguments.is_some())]);
        }
        Some(key.finish())
    }

    pub fn get(&self, key: &[u8; 32]) -> Option<Arc<Verdict>> {
        self.cache.get(key)
    }

    pub fn insert(&self, key: [u8; 32], verdict: Arc<Verdict>) {
        self.cache.insert(key, verdict);
    }
}
