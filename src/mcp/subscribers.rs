//! Resource subscriptions as upstreams see them. One upstream connection serves every client
//! session, so a subscription upstream is shared: agentmux counts the sessions that hold each
//! one and unsubscribes upstream only when the last lets go, by `resources/unsubscribe` or by
//! ending (DELETE, idle expiry, eviction). One client's unsubscribe never silences another's.
//!
//! What agentmux sends an upstream about subscriptions goes one at a time per upstream, and an
//! unsubscribe is sent only if, by its turn, no session holds the subscription again: a
//! subscribe racing the last unsubscribe is not undone by it.
//!
//! A reconnected upstream knows no subscriptions, while the sessions still hold theirs: on
//! `Connected`, everything held is subscribed again. The counts themselves live as long as the
//! sessions that hold them, each under [`MAX_SUBSCRIPTIONS`](super::session::MAX_SUBSCRIPTIONS).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing::{debug, warn};

use crate::jsonrpc::to_raw;
use crate::mcp::upstream::Upstream;

/// A resource of one upstream, by the URI the upstream knows it by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscription {
    pub upstream: usize,
    pub uri: String,
}

pub struct Subscribers {
    upstreams: Vec<Arc<Upstream>>,
    /// Sessions holding each subscription; absent means none.
    holders: Mutex<HashMap<Subscription, usize>>,
    /// Per upstream: whose turn it is to send a subscription request.
    turns: Vec<tokio::sync::Mutex<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each critical section is one map operation; a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Subscribers {
    pub fn new(upstreams: &[Arc<Upstream>]) -> Arc<Self> {
        Arc::new(Self {
            upstreams: upstreams.to_vec(),
            holders: Mutex::default(),
            turns: upstreams.iter().map(|_| tokio::sync::Mutex::new(())).collect(),
        })
    }

    /// One more session holds `subscription`.
    pub fn hold(&self, subscription: &Subscription) {
        *lock(&self.holders).entry(subscription.clone()).or_default() += 1;
    }

    /// Waits for `upstream`'s turn to be sent a subscription request; the turn lasts as long
    /// as the guard.
    pub async fn turn(&self, upstream: usize) -> tokio::sync::MutexGuard<'_, ()> {
        self.turns[upstream].lock().await
    }

    /// Sessions let go of `released`: those nobody holds any more are unsubscribed upstream, in
    /// the background (a closing session does not wait for its upstreams).
    pub fn release(self: &Arc<Self>, released: impl IntoIterator<Item = Subscription>) {
        let unheld: Vec<Subscription> = released.into_iter().filter(|s| self.let_go(s)).collect();
        if unheld.is_empty() {
            return;
        }
        // Sessions end on the runtime; outside it (shutdown) the upstreams end with agentmux.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = Arc::clone(self);
        runtime.spawn(async move {
            for subscription in unheld {
                this.send_bounded("resources/unsubscribe", subscription).await;
            }
        });
    }

    /// After `upstream` (re)connected: subscribes it again, in the background, to everything
    /// sessions hold (its new connection knows nothing of the old one's subscriptions).
    pub fn resubscribe(self: &Arc<Self>, upstream: usize) {
        if !lock(&self.holders).keys().any(|s| s.upstream == upstream) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let held: Vec<Subscription> = lock(&this.holders)
                .keys()
                .filter(|s| s.upstream == upstream)
                .cloned()
                .collect();
            for subscription in held {
                this.send_bounded("resources/subscribe", subscription).await;
            }
        });
    }

    /// How many sessions hold `subscription`.
    pub fn holders(&self, subscription: &Subscription) -> usize {
        lock(&self.holders).get(subscription).copied().unwrap_or(0)
    }

    /// One session fewer holds `subscription`; true when that was the last.
    fn let_go(&self, subscription: &Subscription) -> bool {
        let mut holders = lock(&self.holders);
        let Some(count) = holders.get_mut(subscription) else {
            return false;
        };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        holders.remove(subscription);
        true
    }

    /// Sends `method` for `subscription` in the upstream's turn, if it is still what the
    /// holders want by then (held to subscribe, unheld to unsubscribe); failures are logged,
    /// and the whole is bounded by the upstream's request timeout.
    async fn send_bounded(&self, method: &'static str, subscription: Subscription) {
        let up = &self.upstreams[subscription.upstream];
        let limit = up.spec.timeouts.total;
        let sent = tokio::time::timeout(limit, async {
            let _turn = self.turn(subscription.upstream).await;
            let held = self.holders(&subscription) > 0;
            if held != (method == "resources/subscribe") {
                return Ok(false);
            }
            let link = match up.link() {
                Ok(link) if !link.is_stateless() => link,
                // No connection: the next one is subscribed to what is held then. Stateless:
                // agentmux alone keeps its subscriptions.
                _ => return Ok(false),
            };
            let params = to_raw(&json!({ "uri": subscription.uri }));
            link.request(up.next_id(), method, Some(&params), None)
                .await
                .map(|_| true)
        })
        .await;
        let (name, uri) = (up.name(), &subscription.uri);
        match sent {
            Ok(Ok(sent)) => debug!(upstream = %name, %uri, method, sent, "subscription request done"),
            Ok(Err(e)) => warn!(upstream = %name, %uri, method, error = %e, "subscription request failed"),
            Err(_) => {
                warn!(upstream = %name, %uri, method, after_s = limit.as_secs(), "subscription request timed out")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(upstream: usize, uri: &str) -> Subscription {
        Subscription {
            upstream,
            uri: uri.to_string(),
        }
    }

    #[test]
    fn the_last_holder_to_let_go_is_the_one_that_unsubscribes() {
        let subscribers = Subscribers::new(&[]);
        let doc = sub(0, "demo://doc");
        subscribers.hold(&doc);
        subscribers.hold(&doc);
        assert_eq!(subscribers.holders(&doc), 2);
        assert!(!subscribers.let_go(&doc), "another session still holds it");
        assert_eq!(subscribers.holders(&doc), 1);
        assert!(subscribers.let_go(&doc), "the last one out");
        assert_eq!(subscribers.holders(&doc), 0);
        assert!(lock(&subscribers.holders).is_empty(), "nothing is kept for unheld ones");
    }

    #[test]
    fn letting_go_of_what_nobody_holds_counts_nothing() {
        let subscribers = Subscribers::new(&[]);
        let doc = sub(0, "demo://doc");
        assert!(!subscribers.let_go(&doc));
        subscribers.hold(&doc);
        assert!(subscribers.let_go(&doc));
        assert!(!subscribers.let_go(&doc), "never below zero");
        subscribers.hold(&doc);
        assert_eq!(subscribers.holders(&doc), 1);
    }

    #[test]
    fn upstreams_and_uris_are_counted_apart() {
        let subscribers = Subscribers::new(&[]);
        let (a, b, other) = (sub(0, "demo://a"), sub(0, "demo://b"), sub(1, "demo://a"));
        for s in [&a, &b, &other, &a] {
            subscribers.hold(s);
        }
        assert!(subscribers.let_go(&b));
        assert!(
            subscribers.let_go(&other),
            "the same URI of another upstream is its own"
        );
        assert_eq!(subscribers.holders(&a), 2);
    }

    #[test]
    fn release_outside_a_runtime_still_counts() {
        let subscribers = Subscribers::new(&[]);
        let doc = sub(0, "demo://doc");
        subscribers.hold(&doc);
        subscribers.release([doc.clone()]);
        assert_eq!(subscribers.holders(&doc), 0);
    }
}
