//! Client requests, method by method.

use std::sync::Arc;

use serde_json::{Value, json};

use super::catalog::{self, ListKind, View};
use super::hub::Hub;
use super::request::Request;
use super::session::{Scope, Subscribed, log_level_rank};
use super::subscribers::Subscription;
use super::versions::{MODERN_VERSIONS, SUPPORTED_VERSIONS};
use super::{Outbox, cursor, names};
use crate::authz::{Action, Args, ToolHints};
use crate::config::ArgumentValidation;
use crate::jsonrpc::{
    INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, RESOURCE_NOT_FOUND, Raw, RawObject, RpcError, empty_object, raw,
    to_raw,
};

impl Hub {
    /// Answers one request. Notifications that belong to it go to `outbox` meanwhile.
    pub async fn handle(self: &Arc<Self>, req: &Request<'_>, outbox: &Outbox) -> Result<Raw, RpcError> {
        let started = std::time::Instant::now();
        let outcome = self.dispatch(req, outbox).await;
        let code = outcome.as_ref().err().map(|e| e.code);
        crate::metrics::metrics().request(req.method, code, started.elapsed());
        outcome
    }

    async fn dispatch(self: &Arc<Self>, req: &Request<'_>, outbox: &Outbox) -> Result<Raw, RpcError> {
        match req.method {
            "ping" => Ok(empty_object()),
            "tools/list" => self.list(req, ListKind::Tools),
            "prompts/list" => self.list(req, ListKind::Prompts),
            "resources/list" => self.list(req, ListKind::Resources),
            "resources/templates/list" => self.list(req, ListKind::Templates),
            "tools/call" => self.call_named(req, ListKind::Tools, "tool", outbox).await,
            "prompts/get" => self.call_named(req, ListKind::Prompts, "prompt", outbox).await,
            "resources/read" => self.call_uri(req, outbox).await,
            "resources/subscribe" | "resources/unsubscribe" => self.subscription(req, outbox).await,
            "completion/complete" => self.complete(req, outbox).await,
            "logging/setLevel" => self.set_level(req),
            "initialize" => Err(RpcError::new(INVALID_REQUEST, "already initialized")),
            other => Err(RpcError::new(
                METHOD_NOT_FOUND,
                format!("method `{other}` is not supported"),
            )),
        }
    }

    /// The `initialize` result for a new client session of `scope`.
    pub fn initialize_result(&self, scope: Scope, version: &str) -> Raw {
        let mut result = match scope {
            Scope::Single(i) => match self.upstream(i).init() {
                Some(init) => json!({
                    "protocolVersion": version,
                    "capabilities": init.capabilities,
                    "serverInfo": init.server_info,
                }),
                None => json!({ "protocolVersion": version, "capabilities": hub_capabilities() }),
            },
            Scope::Federated => json!({
                "protocolVersion": version,
                "capabilities": hub_capabilities(),
                "serverInfo": { "name": "agentmux", "title": "agentmux MCP hub", "version": env!("CARGO_PKG_VERSION") },
            }),
        };
        if let Some(instructions) = self.instructions(scope) {
            result["instructions"] = Value::String(instructions);
        }
        if result.get("serverInfo").is_none() {
            result["serverInfo"] = json!({ "name": "agentmux", "version": env!("CARGO_PKG_VERSION") });
        }
        to_raw(&result)
    }

    /// The 2026-07-28 `server/discover` result for `scope`.
    pub fn discover_result(&self, scope: Scope) -> Raw {
        let (capabilities, server_info) = match scope.single().and_then(|i| self.upstream(i).init()) {
            Some(init) => (init.capabilities.clone(), init.server_info.clone()),
            None => (
                hub_capabilities(),
                json!({ "name": "agentmux", "version": env!("CARGO_PKG_VERSION") }),
            ),
        };
        let mut supported: Vec<&str> = MODERN_VERSIONS.to_vec();
        supported.extend(SUPPORTED_VERSIONS);
        let mut result = json!({
            "resultType": "complete",
            "supportedVersions": supported,
            "capabilities": stateless_capabilities(capabilities),
            "_meta": { "io.modelcontextprotocol/serverInfo": server_info },
            "ttlMs": 0,
            "cacheScope": "private",
        });
        if let Some(instructions) = self.instructions(scope) {
            result["instructions"] = Value::String(instructions);
        }
        to_raw(&result)
    }

    /// Upstream instructions; federated ones are headed by their upstream's name.
    fn instructions(&self, scope: Scope) -> Option<String> {
        let parts: Vec<String> = self
            .upstreams()
            .iter()
            .enumerate()
            .filter(|(i, _)| scope.covers(*i))
            .filter_map(|(_, up)| {
                let text = up.init()?.instructions.clone()?;
                Some(match scope {
                    Scope::Single(_) => text,
                    Scope::Federated => format!("## {}\n{text}", up.name()),
                })
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }

    fn list(&self, req: &Request<'_>, kind: ListKind) -> Result<Raw, RpcError> {
        let offset = match req
            .params
            .map(RawObject::parse)
            .transpose()?
            .and_then(|p| p.str("cursor").transpose())
        {
            Some(c) => cursor::decode(&c?)?,
            None => 0,
        };
        let views = self.views();
        let empty = catalog::Listing::default();
        let listing = views.view(req.scope).listing(kind).unwrap_or(&empty);
        let limit = self.settings().page_size.unwrap_or(usize::MAX);
        let visible = self.visible(req.caller, kind, listing, views.generation);
        let (entries, next): (Vec<&catalog::Entry>, Option<usize>) = match &visible {
            None => {
                let (entries, next) = catalog::page(listing, offset, limit);
                (entries.iter().collect(), next)
            }
            Some(positions) => {
                let (positions, next) = catalog::page_of(positions, offset, limit);
                (positions.iter().map(|&i| &listing.entries[i as usize]).collect(), next)
            }
        };
        let mut out = String::with_capacity(16 + entries.iter().map(|e| e.raw.get().len() + 1).sum::<usize>());
        out.push_str("{\"");
        out.push_str(kind.field());
        out.push_str("\":[");
        for (n, entry) in entries.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(entry.raw.get());
        }
        out.push(']');
        if let Some(next) = next {
            out.push_str(",\"nextCursor\":\"");
            out.push_str(&cursor::encode(next));
            out.push('"');
        }
        out.push('}');
        Ok(raw(out))
    }

    /// `tools/call` and `prompts/get`: find the owner by exposed name, restore the original.
    async fn call_named(
        self: &Arc<Self>,
        req: &Request<'_>,
        kind: ListKind,
        what: &str,
        outbox: &Outbox,
    ) -> Result<Raw, RpcError> {
        let mut params = required_params(req)?;
        // Read once, before the name is looked up: unreadable arguments (duplicate keys, too
        // deep, not an object) are refused whether or not the caller may see the target.
        let value = crate::arguments::parse(params.get("arguments")).map_err(|e| RpcError::new(INVALID_PARAMS, e))?;
        let exposed = params
            .str("name")?
            .ok_or_else(|| RpcError::new(INVALID_PARAMS, "missing `name`"))?;
        let (upstream, original, hints, input) = {
            let views = self.views();
            let entry = views
                .view(req.scope)
                .listing(kind)
                .and_then(|l| l.resolve(&exposed))
                .ok_or_else(|| self.unknown_name(req.scope, what, &exposed))?;
            (entry.upstream, entry.original.clone(), entry.hints, entry.input.clone())
        };
        // The policy sees exactly what the upstream will receive: the original name and the
        // arguments as sent, checked against what the upstream declared.
        params.set_str("name", &original);
        let target = self.target(kind.action(), upstream, &original, hints);
        let not_found = || RpcError::new(INVALID_PARAMS, format!("unknown {what} `{exposed}`"));
        let strict = self.upstream(upstream).spec.validate_arguments == ArgumentValidation::Strict;
        let declared = input.as_ref().filter(|_| strict).map(|i| i.declared());
        let arguments = Args {
            raw: params.get("arguments"),
            value: &value,
            declared: declared.map(|d| &**d),
        };
        let checked = match (kind, declared) {
            (ListKind::Tools, Some(declared)) => declared.check(&value),
            (ListKind::Prompts, _) if strict => prompt_arguments(&value),
            _ => Ok(()),
        };
        if let Err(problem) = checked {
            return Err(self.refuse_arguments(req, target, Some(arguments), problem, not_found));
        }
        let verdict = self.authorize(req, target, Some(arguments), not_found)?;
        // Made for the audit line only when there is one to write.
        let arguments = verdict
            .as_ref()
            .and_then(|_| self.audited_arguments(params.get("arguments")));
        let started = std::time::Instant::now();
        let outcome = self.forward(upstream, req, params, outbox).await;
        if let Some(verdict) = &verdict {
            let target = self.target(kind.action(), upstream, &original, hints);
            let status = outcome.as_ref().map(|_| ()).map_err(|e| e.code);
            self.audit_event(req, &target, verdict, arguments, Some((started.elapsed(), status)));
        }
        let result = outcome?;
        Ok(match (req.scope, kind) {
            (Scope::Federated, ListKind::Tools) => self.rewrite_resource_links(upstream, result),
            _ => result,
        })
    }

    /// The error for a name no view serves: if it names an upstream that is down, say so.
    fn unknown_name(&self, scope: Scope, what: &str, exposed: &str) -> RpcError {
        let owner = match scope {
            Scope::Single(i) => Some(i),
            Scope::Federated => exposed
                .split_once(self.settings().separator.as_str())
                .and_then(|(name, _)| self.upstream_index(name)),
        };
        if let Some(i) = owner
            && let Some(reason) = self.unavailable_reason(i)
        {
            return super::forward::upstream_error(
                self.upstream(i).name(),
                &crate::mcp::upstream::UpstreamError::Unavailable { reason },
            );
        }
        RpcError::new(INVALID_PARAMS, format!("unknown {what} `{exposed}`"))
    }

    async fn call_uri(self: &Arc<Self>, req: &Request<'_>, outbox: &Outbox) -> Result<Raw, RpcError> {
        let mut params = required_params(req)?;
        let uri = params
            .str("uri")?
            .ok_or_else(|| RpcError::new(INVALID_PARAMS, "missing `uri`"))?;
        let (upstream, original) = self.resolve_uri(req.scope, &uri)?;
        self.authorize_uri(req, upstream, &original, &uri)?;
        params.set_str("uri", &original);
        let result = self.forward(upstream, req, params, outbox).await?;
        Ok(match req.scope {
            Scope::Federated => self.rewrite_read_result(upstream, result),
            Scope::Single(_) => result,
        })
    }

    /// `resources/subscribe` and `resources/unsubscribe`. The session holds its subscriptions;
    /// the upstream connection is shared by every session, so the upstream is unsubscribed only
    /// when no session holds the subscription any more (see `subscribers.rs`).
    async fn subscription(self: &Arc<Self>, req: &Request<'_>, outbox: &Outbox) -> Result<Raw, RpcError> {
        let mut params = required_params(req)?;
        let uri = params
            .str("uri")?
            .ok_or_else(|| RpcError::new(INVALID_PARAMS, "missing `uri`"))?;
        let (upstream, original) = self.resolve_uri(req.scope, &uri)?;
        self.authorize_uri(req, upstream, &original, &uri)?;
        // Updates go to sessions only: without one, there is nothing to hold.
        let Some(session) = req.session else {
            return Ok(empty_object());
        };
        if req.method == "resources/unsubscribe" {
            if let Some(released) = session.unsubscribe(&uri) {
                self.subscribers().release([released]);
            }
            return Ok(empty_object());
        }
        let subscription = Subscription {
            upstream,
            uri: original.clone(),
        };
        let subscribed = session.subscribe(&uri, subscription.clone());
        match subscribed {
            Subscribed::New => self.subscribers().hold(&subscription),
            Subscribed::Already => {}
            Subscribed::Refused => {
                return Err(RpcError::new(
                    INVALID_REQUEST,
                    format!(
                        "this session already holds {} subscriptions; unsubscribe first",
                        super::session::MAX_SUBSCRIPTIONS
                    ),
                ));
            }
        }
        params.set_str("uri", &original);
        let stateless = self.upstream(upstream).link().is_ok_and(|l| l.is_stateless());
        // A stateless upstream has no `resources/subscribe` (it streams updates through
        // `subscriptions/listen`, not yet bridged): the subscription is kept by agentmux alone.
        // Otherwise every subscribe is forwarded, in the upstream's turn: upstreams take a
        // repeated one as the same, and each session learns whether the upstream accepted.
        let outcome = if stateless {
            Ok(empty_object())
        } else {
            let _turn = self.subscribers().turn(upstream).await;
            self.forward(upstream, req, params, outbox).await
        };
        // A subscribe the upstream refused (or that failed) is not held.
        if outcome.is_err()
            && subscribed == Subscribed::New
            && let Some(released) = session.unsubscribe(&uri)
        {
            self.subscribers().release([released]);
        }
        outcome
    }

    /// `read_resource` on a resolved URI; denied reads look like unknown resources.
    fn authorize_uri(&self, req: &Request<'_>, upstream: usize, original: &str, exposed: &str) -> Result<(), RpcError> {
        let target = self.target(Action::ReadResource, upstream, original, ToolHints::default());
        self.authorize_audited(req, target, || unknown_resource(exposed))
    }

    /// A decision without a call outcome to wait for (reads, subscriptions, completions):
    /// allowed ones are audited as they are made, like denials.
    fn authorize_audited(
        &self,
        req: &Request<'_>,
        target: crate::authz::Target<'_>,
        not_found: impl FnOnce() -> RpcError,
    ) -> Result<(), RpcError> {
        if let Some(verdict) = self.authorize(req, target, None, not_found)? {
            self.audit_event(req, &target, &verdict, None, None);
        }
        Ok(())
    }

    /// Which upstream serves `uri`, and the URI it knows.
    fn resolve_uri(&self, scope: Scope, uri: &str) -> Result<(usize, String), RpcError> {
        let views = self.views();
        let view = views.view(scope);
        if let Some(entry) = view.listing(ListKind::Resources).and_then(|l| l.resolve(uri)) {
            return Ok((entry.upstream, entry.original.clone()));
        }
        names::check_uri(uri).map_err(|e| RpcError::new(INVALID_PARAMS, e))?;
        if let Some(found) = self.resolve_unlisted(view, scope, uri) {
            return Ok(found);
        }
        Err(unknown_resource(uri))
    }

    /// URIs that no list names (from templates, or generated by tools). The upstream's
    /// `resources` filter still applies: an excluded resource cannot be read by its URI either.
    fn resolve_unlisted(&self, view: &View, scope: Scope, uri: &str) -> Option<(usize, String)> {
        let found = match scope {
            Scope::Single(i) => Some((i, uri.to_string())),
            Scope::Federated => match names::split_uri(uri) {
                Some((name, original)) => self.upstream_index(name).map(|i| (i, original.to_string())),
                None => catalog::template_owner(view, uri).map(|i| (i, uri.to_string())),
            },
        };
        found.filter(|(i, original)| self.upstream(*i).spec.resources.admits(original))
    }

    async fn complete(self: &Arc<Self>, req: &Request<'_>, outbox: &Outbox) -> Result<Raw, RpcError> {
        let mut params = required_params(req)?;
        let reference = params
            .get("ref")
            .ok_or_else(|| RpcError::new(INVALID_PARAMS, "missing `ref`"))?;
        let mut reference = RawObject::parse(reference)?;
        let upstream = match reference.str("type")?.as_deref() {
            Some("ref/prompt") => {
                let name = reference
                    .str("name")?
                    .ok_or_else(|| RpcError::new(INVALID_PARAMS, "missing `ref.name`"))?;
                let views = self.views();
                let entry = views
                    .view(req.scope)
                    .listing(ListKind::Prompts)
                    .and_then(|l| l.resolve(&name))
                    .ok_or_else(|| RpcError::new(INVALID_PARAMS, format!("unknown prompt `{name}`")))?;
                self.authorize_audited(
                    req,
                    self.target(Action::GetPrompt, entry.upstream, &entry.original, entry.hints),
                    || RpcError::new(INVALID_PARAMS, format!("unknown prompt `{name}`")),
                )?;
                reference.set_str("name", &entry.original);
                entry.upstream
            }
            Some("ref/resource") => {
                let uri = reference
                    .str("uri")?
                    .ok_or_else(|| RpcError::new(INVALID_PARAMS, "missing `ref.uri`"))?;
                let views = self.views();
                let view = views.view(req.scope);
                let template = view.listing(ListKind::Templates).and_then(|l| l.resolve(&uri));
                let (upstream, original) = match template {
                    Some(entry) => (entry.upstream, entry.original.clone()),
                    None => self.resolve_uri(req.scope, &uri)?,
                };
                self.authorize_uri(req, upstream, &original, &uri)?;
                reference.set_str("uri", &original);
                upstream
            }
            _ => {
                return Err(RpcError::new(
                    INVALID_PARAMS,
                    "`ref.type` must be ref/prompt or ref/resource",
                ));
            }
        };
        params.set("ref", reference.to_raw());
        self.forward(upstream, req, params, outbox).await
    }

    fn set_level(&self, req: &Request<'_>) -> Result<Raw, RpcError> {
        let params = required_params(req)?;
        let level = params
            .str("level")?
            .ok_or_else(|| RpcError::new(INVALID_PARAMS, "missing `level`"))?;
        let rank = log_level_rank(&level)
            .ok_or_else(|| RpcError::new(INVALID_PARAMS, format!("unknown log level `{level}`")))?;
        if let Some(session) = req.session {
            session.set_log_level(rank);
        }
        Ok(empty_object())
    }
}

fn hub_capabilities() -> Value {
    json!({
        "tools": { "listChanged": true },
        "prompts": { "listChanged": true },
        "resources": { "subscribe": true, "listChanged": true },
        "logging": {},
        "completions": {},
    })
}

/// Capabilities as a stateless client may rely on them: list changes come on
/// `subscriptions/listen`, which agentmux serves; resource subscriptions through it are not
/// offered yet, and tasks are an extension in 2026-07-28.
fn stateless_capabilities(mut capabilities: Value) -> Value {
    if let Some(caps) = capabilities.as_object_mut() {
        caps.remove("tasks");
        if let Some(Value::Object(flags)) = caps.get_mut("resources") {
            flags.remove("subscribe");
        }
    }
    capabilities
}

fn unknown_resource(uri: &str) -> RpcError {
    RpcError::new(RESOURCE_NOT_FOUND, format!("unknown resource `{uri}`")).with_data(json!({ "uri": uri }))
}

/// Prompt arguments are strings (MCP `GetPromptRequest`): a number or object is refused rather
/// than decided on in one type and coerced by the upstream into another.
fn prompt_arguments(value: &Value) -> Result<(), String> {
    let members = value.as_object().into_iter().flatten();
    match members.into_iter().find(|(_, v)| !v.is_string() && !v.is_null()) {
        Some((name, v)) => Err(format!(
            "arguments/{name}: {v} is not a string (prompt arguments are strings)"
        )),
        None => Ok(()),
    }
}

fn required_params<'a>(req: &Request<'a>) -> Result<RawObject<'a>, RpcError> {
    let params = req
        .params
        .ok_or_else(|| RpcError::new(INVALID_PARAMS, format!("`{}` needs params", req.method)))?;
    RawObject::parse(params)
}
