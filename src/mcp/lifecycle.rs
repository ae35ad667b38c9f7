//! The hub's background work: upstream supervisors, catalog refreshes, and routing what upstreams
//! send unasked to the client sessions it concerns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::Outbox;
use super::catalog::{ListKind, UpstreamCatalog};
use super::hub::Hub;
use super::names;
use super::session::{Scope, log_level_rank};
use crate::config::PrefixMode;
use crate::jsonrpc::{RawObject, request_frame, to_raw};
use crate::upstream::{Inbound, UpstreamEvent, supervise};

/// How often the hub looks for catalogs to refetch (missing ones, or older than the TTL).
const REFRESH_TICK: Duration = Duration::from_secs(15);

impl Hub {
    /// Starts every upstream's supervisor and the hub's own loops, all owned by `tasks`.
    pub fn start(
        self: &Arc<Self>,
        inbox: mpsc::Receiver<UpstreamEvent>,
        tasks: &TaskTracker,
        shutdown: &CancellationToken,
    ) {
        for up in &self.upstreams {
            tasks.spawn(supervise(Arc::clone(up), self.events.clone(), shutdown.clone()));
        }
        tasks.spawn(Arc::clone(self).event_loop(inbox, shutdown.clone()));
        tasks.spawn(Arc::clone(self).refresh_loop(shutdown.clone()));
    }

    async fn event_loop(self: Arc<Self>, mut inbox: mpsc::Receiver<UpstreamEvent>, shutdown: CancellationToken) {
        loop {
            let event = tokio::select! {
                e = inbox.recv() => e,
                () = shutdown.cancelled() => None,
            };
            let Some(event) = event else { return };
            match event {
                UpstreamEvent::Connected { upstream, .. } => {
                    tokio::spawn(Arc::clone(&self).refresh(upstream, None));
                }
                UpstreamEvent::Disconnected { upstream, reason } => {
                    if self.catalog(upstream).is_some() {
                        debug!(upstream = %self.upstreams[upstream].name(), %reason, "catalog withdrawn");
                        self.set_catalog(upstream, None);
                        self.announce_list_changed(upstream, &ListKind::ALL);
                    }
                }
                UpstreamEvent::Notification { upstream, message } => self.route_inbound(upstream, message, None),
            }
        }
    }

    async fn refresh_loop(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(REFRESH_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut fetched_at = vec![Instant::now(); self.upstreams.len()];
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            for (i, up) in self.upstreams.iter().enumerate() {
                let stale = fetched_at[i].elapsed() >= self.settings.catalog_ttl;
                if up.link().is_ok() && (self.catalog(i).is_none() || stale) {
                    fetched_at[i] = Instant::now();
                    tokio::spawn(Arc::clone(&self).refresh(i, None));
                }
            }
        }
    }

    /// Fetches an upstream's lists (all, or one after `list_changed`) and swaps in new views.
    pub(super) async fn refresh(self: Arc<Self>, upstream: usize, kind: Option<ListKind>) {
        let _one_at_a_time = self.refreshing[upstream].lock().await;
        let up = &self.upstreams[upstream];
        let Some(init) = up.init() else { return };
        let fetched = match (kind, self.catalog(upstream)) {
            (Some(kind), Some(current)) if Arc::ptr_eq(&current.init, &init) => current.refetch(up, kind).await,
            _ => UpstreamCatalog::fetch(up, init).await,
        };
        match fetched {
            Ok(catalog) => {
                let counts: Vec<String> = catalog
                    .lists
                    .iter()
                    .map(|(k, items)| format!("{}={}", k.field(), items.len()))
                    .collect();
                info!(upstream = %up.name(), lists = %counts.join(" "), "catalog fetched");
                self.set_catalog(upstream, Some(Arc::new(catalog)));
                self.set_catalog_error(upstream, None);
                let kinds = kind.map_or(ListKind::ALL.to_vec(), |k| vec![k]);
                self.announce_list_changed(upstream, &kinds);
            }
            Err(e) => {
                // Its items stay absent (or stale) until a later refresh succeeds.
                warn!(upstream = %up.name(), error = %e, "could not fetch the catalog; retrying in the background");
                self.set_catalog_error(upstream, Some(e.to_string()));
            }
        }
        up.mark_tried();
    }

    /// Tells clients that can see `upstream` that its lists changed.
    fn announce_list_changed(&self, upstream: usize, kinds: &[ListKind]) {
        let frames: Vec<Vec<u8>> = kinds
            .iter()
            .filter_map(|k| k.list_changed_notification())
            .map(|method| request_frame(None, method, None))
            .collect();
        for session in self.sessions.all().filter(|s| s.scope.covers(upstream)) {
            match &session.listen {
                None => frames.iter().for_each(|frame| session.push(frame.clone())),
                // A listen stream gets only the kinds it asked for, tagged with its id.
                Some(listen) => kinds
                    .iter()
                    .filter(|k| listen.kinds.contains(k))
                    .filter_map(|k| k.list_changed_notification())
                    .for_each(|method| session.push(request_frame(None, method, Some(&listen.tagged_params(""))))),
            }
        }
    }

    /// Routes a notification from an upstream: to the request it belongs to (`outbox`), by its
    /// progress token, or to the sessions it concerns.
    pub(super) fn route_inbound(self: &Arc<Self>, upstream: usize, message: Inbound, outbox: Option<&Outbox>) {
        let name = self.upstreams[upstream].name();
        match message.method.as_str() {
            "notifications/progress" => {
                if !message.params.as_deref().is_some_and(|p| self.progress.deliver(p)) {
                    debug!(upstream = %name, "progress for no running call");
                }
            }
            "notifications/message" => self.route_log(upstream, message, outbox),
            "notifications/resources/updated" => self.route_resource_updated(upstream, message),
            method => match ListKind::from_list_changed(method) {
                Some(kind) => {
                    tokio::spawn(Arc::clone(self).refresh(upstream, Some(kind)));
                }
                None => debug!(upstream = %name, %method, "notification not forwarded"),
            },
        }
    }

    fn route_log(&self, upstream: usize, message: Inbound, outbox: Option<&Outbox>) {
        let Some(params) = message.params else { return };
        let Ok(mut fields) = RawObject::parse(&params) else {
            return;
        };
        let level = fields
            .str("level")
            .ok()
            .flatten()
            .and_then(|l| log_level_rank(&l))
            .unwrap_or(1);
        let name = self.upstreams[upstream].name();
        let original = fields.str("logger").ok().flatten();
        let plain = request_frame(None, "notifications/message", Some(&params));
        // Federated clients see which upstream logged it.
        fields.set_str(
            "logger",
            &original.map_or_else(|| name.to_string(), |l| format!("{name}/{l}")),
        );
        let tagged = request_frame(None, "notifications/message", Some(&fields.to_raw()));
        if let Some(outbox) = outbox {
            if outbox.wants_log(level) {
                outbox.send(tagged);
            }
            return;
        }
        // Not tied to a request: only to sessions that asked for logs, and whose caller may use
        // something of this upstream (a log line can carry another caller's arguments).
        let receivers = self.sessions.all().filter(|s| {
            s.listen.is_none()
                && s.scope.covers(upstream)
                && s.wants_log(level)
                && self.may_use(&s.caller, s.scope, upstream)
        });
        for session in receivers {
            session.push(if session.scope == Scope::Federated {
                tagged.clone()
            } else {
                plain.clone()
            });
        }
    }

    fn route_resource_updated(&self, upstream: usize, message: Inbound) {
        let Some(params) = message.params else { return };
        let Ok(mut fields) = RawObject::parse(&params) else {
            return;
        };
        let Some(uri) = fields.str("uri").ok().flatten() else {
            return;
        };
        let federated_uri = self.exposed_uri(upstream, &uri);
        for session in self.sessions.all().filter(|s| s.scope.covers(upstream)) {
            let exposed = if session.scope == Scope::Federated {
                federated_uri.as_str()
            } else {
                uri.as_str()
            };
            // A policy reload may have taken away what the subscription was allowed for.
            if session.is_subscribed(exposed) && self.may_use(&session.caller, session.scope, upstream) {
                fields.set("uri", to_raw(&exposed));
                session.push(request_frame(
                    None,
                    "notifications/resources/updated",
                    Some(&fields.to_raw()),
                ));
            }
        }
    }

    /// The URI federated clients know an upstream's resource by.
    pub(super) fn exposed_uri(&self, upstream: usize, uri: &str) -> String {
        let views = self.views();
        let listed = views
            .federated
            .listing(ListKind::Resources)
            .and_then(|l| l.entries.iter().find(|e| e.upstream == upstream && e.original == uri))
            .map(|e| e.exposed.clone());
        match listed {
            Some(exposed) => exposed,
            None if self.settings.prefix == PrefixMode::Always => {
                names::prefixed_uri(self.upstreams[upstream].name(), uri)
            }
            None => uri.to_string(),
        }
    }
}
