//! The hub's background work: upstream supervisors, catalog refresh tasks (`refresh.rs`), and
//! routing what upstreams send unasked to the client sessions it concerns.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::Outbox;
use super::catalog::ListKind;
use super::hub::Hub;
use super::names;
use super::session::{Scope, log_level_rank};
use crate::config::PrefixMode;
use crate::jsonrpc::{RawObject, request_frame, to_raw};
use crate::mcp::upstream::{Inbound, UpstreamEvent, supervise};

impl Hub {
    /// Starts every upstream's supervisor and the hub's own loops, all owned by `tasks`.
    pub fn start(
        self: &Arc<Self>,
        inbox: mpsc::Receiver<UpstreamEvent>,
        tasks: &TaskTracker,
        shutdown: &CancellationToken,
    ) {
        for up in self.upstreams() {
            tasks.spawn(supervise(Arc::clone(up), self.events().clone(), shutdown.clone()));
            tasks.spawn(Arc::clone(self).refresher(up.index, shutdown.clone()));
        }
        tasks.spawn(Arc::clone(self).event_loop(inbox, shutdown.clone()));
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
                    self.request_refresh(upstream, None);
                    self.subscribers().resubscribe(upstream);
                }
                UpstreamEvent::Disconnected { upstream, reason } => {
                    if self.catalog(upstream).is_some() {
                        debug!(upstream = %self.upstream(upstream).name(), %reason, "catalog withdrawn");
                        self.set_catalog(upstream, None);
                        self.announce_list_changed(upstream, &ListKind::ALL);
                    }
                }
                UpstreamEvent::Notification { upstream, message } => self.route_inbound(upstream, message, None),
            }
        }
    }

    /// Tells clients that can see `upstream` that its lists changed.
    pub(super) fn announce_list_changed(&self, upstream: usize, kinds: &[ListKind]) {
        let frames: Vec<Vec<u8>> = kinds
            .iter()
            .filter_map(|k| k.list_changed_notification())
            .map(|method| request_frame(None, method, None))
            .collect();
        for session in self.sessions().all().filter(|s| s.scope.covers(upstream)) {
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
        let name = self.upstream(upstream).name();
        match message.method.as_str() {
            "notifications/progress" => {
                if !message.params.as_deref().is_some_and(|p| self.progress().deliver(p)) {
                    debug!(upstream = %name, "progress for no running call");
                }
            }
            "notifications/message" => self.route_log(upstream, message, outbox),
            "notifications/resources/updated" => self.route_resource_updated(upstream, message),
            method => match ListKind::from_list_changed(method) {
                // Coalesced: a storm of these costs a few fetches, not a task each.
                Some(kind) => self.request_refresh(upstream, Some(kind)),
                None => debug!(upstream = %name, ?method, "notification not forwarded"),
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
        let name = self.upstream(upstream).name();
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
        let receivers = self.sessions().all().filter(|s| {
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
        for session in self.sessions().all().filter(|s| s.scope.covers(upstream)) {
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
            None if self.settings().prefix == PrefixMode::Always => {
                names::prefixed_uri(self.upstream(upstream).name(), uri)
            }
            None => uri.to_string(),
        }
    }
}
