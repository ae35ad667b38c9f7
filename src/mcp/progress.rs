//! Progress notifications across the hub.
//!
//! Clients pick their own progress tokens, and many clients share one upstream connection, so
//! their tokens could clash there. agentmux gives each call a token of its own upstream-side and
//! maps the upstream's `notifications/progress` back to the client's token and stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;

use super::Outbox;
use crate::jsonrpc::{Raw, RawObject, to_raw};

struct Route {
    client_token: Raw,
    outbox: Outbox,
}

#[derive(Default)]
pub struct ProgressRoutes {
    next: AtomicU64,
    routes: Mutex<HashMap<String, Route>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ProgressRoutes {
    /// Registers a call's token; the returned guard unregisters it when the call ends.
    pub fn register(self: &Arc<Self>, client_token: Raw, outbox: Outbox) -> ProgressGuard {
        let token = format!("agentmux-{}", self.next.fetch_add(1, Ordering::Relaxed));
        lock(&self.routes).insert(token.clone(), Route { client_token, outbox });
        ProgressGuard {
            routes: Arc::clone(self),
            token,
        }
    }

    /// Delivers an upstream `notifications/progress`; false if no call owns its token.
    pub fn deliver(&self, params: &RawValue) -> bool {
        let Ok(mut fields) = RawObject::parse(params) else {
            return false;
        };
        let Some(token) = fields
            .get("progressToken")
            .and_then(|t| serde_json::from_str::<String>(t.get()).ok())
        else {
            return false;
        };
        let routes = lock(&self.routes);
        let Some(route) = routes.get(&token) else {
            return false;
        };
        fields.set("progressToken", route.client_token.clone());
        let frame = crate::jsonrpc::request_frame(None, "notifications/progress", Some(&fields.to_raw()));
        route.outbox.send(frame);
        true
    }
}

/// Keeps a progress route alive for the duration of one call.
pub struct ProgressGuard {
    routes: Arc<ProgressRoutes>,
    pub token: String,
}

impl ProgressGuard {
    pub fn token_raw(&self) -> Raw {
        to_raw(&self.token)
    }
}

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        lock(&self.routes.routes).remove(&self.token);
    }
}
