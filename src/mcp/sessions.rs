//! The live client sessions, and the limits on them: how many one caller may hold, how fast it
//! may open them, and how many there are in all. A caller that opens sessions in a loop evicts
//! its own least recently used ones and is then slowed down; it never evicts another caller's.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::session::Session;
use crate::identity::PrincipalKind;

/// The limits, from `mcp:` in the config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub idle: Duration,
    /// Sessions in all; past it, new ones are refused (503), never someone else's evicted.
    pub max: u64,
    /// Sessions one caller may hold; a new one beyond evicts its least recently used.
    pub per_caller: usize,
    /// Sessions one caller may open per second, with bursts of ten times that.
    pub opens_per_second: u32,
}

/// Why a session was not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this caller opens sessions too fast; retry in {retry_after_secs} s")]
    TooFast { retry_after_secs: u64 },
    #[error("agentmux holds the most sessions it may ({0}); retry later")]
    Full(u64),
}

/// Who a session counts against: the principal, and for anonymous callers their address.
type Owner = String;

fn owner(session: &Session) -> Owner {
    let p = &session.caller.principal;
    let ip = match p.kind {
        PrincipalKind::Anonymous => session.caller.client_ip.map(|ip| ip.to_string()),
        _ => None,
    };
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        p.entity_type(),
        p.issuer.as_deref().unwrap_or(""),
        p.id,
        ip.unwrap_or_default()
    )
}

/// A token bucket: `rate` per second, up to `burst`.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Live sessions, expired after an idle timeout.
#[derive(Clone)]
pub struct Sessions {
    cache: moka::sync::Cache<String, Arc<Session>>,
    /// Each owner's sessions, to count and to pick which of its own to evict.
    owners: Arc<Mutex<HashMap<Owner, Vec<Arc<Session>>>>>,
    opens: moka::sync::Cache<Owner, Arc<Mutex<Bucket>>>,
    limits: Limits,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each critical section is a few vector operations; a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sessions {
    /// Sessions within `limits`; `on_end` is told of each session that ends, however it does
    /// (DELETE, idle expiry, eviction, its stream closing, shutdown), once.
    pub fn new(limits: Limits, on_end: impl Fn(&Session) + Send + Sync + 'static) -> Self {
        let owners: Arc<Mutex<HashMap<Owner, Vec<Arc<Session>>>>> = Arc::default();
        let index = Arc::clone(&owners);
        let cache = moka::sync::Cache::builder()
            // A backstop only: `open` refuses before this is reached.
            .max_capacity(limits.max.saturating_add(limits.per_caller as u64))
            .time_to_idle(limits.idle)
            .eviction_listener(move |_id, session: Arc<Session>, _cause| {
                forget(&index, &session);
                on_end(&session);
            })
            .build();
        Self {
            cache,
            owners,
            opens: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(60))
                .build(),
            limits,
        }
    }

    /// Adds a new session within the limits.
    pub fn open(&self, session: Arc<Session>) -> Result<(), Refused> {
        let owner = owner(&session);
        self.take_token(&owner)?;
        let evicted = {
            let mut owners = lock(&self.owners);
            let total: usize = owners.values().map(Vec::len).sum();
            let mine = owners.entry(owner).or_default();
            let evict = (mine.len() >= self.limits.per_caller.max(1)).then(|| {
                let oldest = (0..mine.len())
                    .min_by_key(|&i| mine[i].last_seen.load(Ordering::Relaxed))
                    .unwrap_or(0);
                mine.swap_remove(oldest)
            });
            if evict.is_none() && total as u64 >= self.limits.max {
                return Err(Refused::Full(self.limits.max));
            }
            mine.push(Arc::clone(&session));
            evict
        };
        if let Some(old) = evicted {
            tracing::info!(session = %super::short_id(&old.id), principal = %old.principal, "session evicted: its caller opened more than mcp.max_sessions_per_caller");
            old.close_stream();
            self.cache.invalidate(&old.id);
        }
        self.cache.insert(session.id.clone(), session);
        Ok(())
    }

    fn take_token(&self, owner: &Owner) -> Result<(), Refused> {
        let rate = f64::from(self.limits.opens_per_second.max(1));
        let burst = rate * 10.0;
        let bucket = self.opens.get_with(owner.clone(), || {
            Arc::new(Mutex::new(Bucket {
                tokens: burst,
                at: Instant::now(),
            }))
        });
        let mut b = lock(&bucket);
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens < 1.0 {
            return Err(Refused::TooFast {
                retry_after_secs: ((1.0 - b.tokens) / rate).ceil().max(1.0) as u64,
            });
        }
        b.tokens -= 1.0;
        Ok(())
    }

    /// Keeps `session` while the returned guard lives (the life of its stream).
    pub fn open_while(&self, session: Arc<Session>) -> Result<SessionGuard, Refused> {
        let id = session.id.clone();
        self.open(session)?;
        Ok(SessionGuard {
            sessions: self.clone(),
            id,
        })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = self.cache.get(id)?;
        session.touch();
        Some(session)
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Session>> {
        self.cache.remove(id)
    }

    pub fn count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// Ends every session and its stream (shutdown).
    pub fn close_all(&self) {
        for (_, session) in self.cache.iter() {
            session.close_stream();
        }
        self.cache.invalidate_all();
    }

    /// Every live session (for notifications that concern many).
    pub fn all(&self) -> impl Iterator<Item = Arc<Session>> + '_ {
        self.cache.iter().map(|(_, s)| s)
    }
}

fn forget(owners: &Mutex<HashMap<Owner, Vec<Arc<Session>>>>, session: &Session) {
    let mut owners = lock(owners);
    let key = owner(session);
    if let Some(mine) = owners.get_mut(&key) {
        mine.retain(|s| s.id != session.id);
        if mine.is_empty() {
            owners.remove(&key);
        }
    }
}

/// Forgets a session when dropped: for sessions that exist only as long as one stream
/// (`subscriptions/listen`, the legacy `/sse` endpoint).
pub struct SessionGuard {
    sessions: Sessions,
    id: String,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.sessions.remove(&self.id);
    }
}

#[cfg(test)]
mod tests;
