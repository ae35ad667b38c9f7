//! What each upstream offers (fetched and cached), and the merged views clients list and call.
//!
//! An [`UpstreamCatalog`] is fetched whole (every page) when an upstream connects, when it says
//! a list changed, and when the TTL passes. [`View`]s are rebuilt from all catalogs whenever one
//! changes and swapped in atomically, so listing is a copy of prepared JSON and resolving a name
//! is one hash lookup.

use std::collections::HashMap;
use std::sync::Arc;

use super::names;
use super::pinning::{Finding, Pins, Treatment};
use crate::arguments::Declared;
use crate::authz::ToolHints;
use crate::config::{McpSettings, NameFilter, PrefixMode, UpstreamSpec};
use crate::jsonrpc::{Raw, RawObject};
use crate::mcp::upstream::{InitializeResult, Upstream, UpstreamError};

/// The four lists MCP servers offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl ListKind {
    pub const ALL: [ListKind; 4] = [Self::Tools, Self::Prompts, Self::Resources, Self::Templates];

    pub fn method(self) -> &'static str {
        match self {
            Self::Tools => "tools/list",
            Self::Prompts => "prompts/list",
            Self::Resources => "resources/list",
            Self::Templates => "resources/templates/list",
        }
    }

    /// The result member that holds the items.
    pub fn field(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Prompts => "prompts",
            Self::Resources => "resources",
            Self::Templates => "resourceTemplates",
        }
    }

    /// The item member that identifies it.
    pub fn key(self) -> &'static str {
        match self {
            Self::Tools | Self::Prompts => "name",
            Self::Resources => "uri",
            Self::Templates => "uriTemplate",
        }
    }

    fn capability(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Prompts => "prompts",
            Self::Resources | Self::Templates => "resources",
        }
    }

    pub fn list_changed_notification(self) -> Option<&'static str> {
        match self {
            Self::Tools => Some("notifications/tools/list_changed"),
            Self::Prompts => Some("notifications/prompts/list_changed"),
            Self::Resources => Some("notifications/resources/list_changed"),
            Self::Templates => None,
        }
    }

    pub fn from_list_changed(method: &str) -> Option<Self> {
        match method {
            "notifications/tools/list_changed" => Some(Self::Tools),
            "notifications/prompts/list_changed" => Some(Self::Prompts),
            "notifications/resources/list_changed" => Some(Self::Resources),
            _ => None,
        }
    }

    fn filter(self, spec: &UpstreamSpec) -> &NameFilter {
        match self {
            Self::Tools => &spec.tools,
            Self::Prompts => &spec.prompts,
            Self::Resources | Self::Templates => &spec.resources,
        }
    }
}

/// One item as the upstream described it.
#[derive(Debug)]
pub struct Item {
    /// Its name, URI or URI template.
    pub key: String,
    pub fields: RawObject<'static>,
}

/// Guards against an upstream that pages forever.
const MAX_PAGES: usize = 1000;
const MAX_ITEMS: usize = 100_000;

/// Everything one upstream offers.
#[derive(Debug)]
pub struct UpstreamCatalog {
    pub init: Arc<InitializeResult>,
    pub lists: HashMap<ListKind, Vec<Item>>,
}

impl UpstreamCatalog {
    /// Fetches the lists the upstream's capabilities announce.
    pub async fn fetch(up: &Upstream, init: Arc<InitializeResult>) -> Result<Self, UpstreamError> {
        let mut lists = HashMap::new();
        for kind in ListKind::ALL {
            if init.capabilities.get(kind.capability()).is_some() {
                lists.insert(kind, fetch_list(up, kind).await?);
            }
        }
        Ok(Self { init, lists })
    }

    /// Fetches one list again (after `list_changed`).
    pub async fn refetch(&self, up: &Upstream, kind: ListKind) -> Result<Self, UpstreamError> {
        let mut lists: HashMap<ListKind, Vec<Item>> = HashMap::new();
        for (k, items) in &self.lists {
            if *k != kind {
                lists.insert(
                    *k,
                    items
                        .iter()
                        .map(|i| Item {
                            key: i.key.clone(),
                            fields: i.fields.clone(),
                        })
                        .collect(),
                );
            }
        }
        lists.insert(kind, fetch_list(up, kind).await?);
        Ok(Self {
            init: Arc::clone(&self.init),
            lists,
        })
    }
}

async fn fetch_list(up: &Upstream, kind: ListKind) -> Result<Vec<Item>, UpstreamError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let link = up.link()?;
        let params = cursor
            .as_ref()
            .map(|c| crate::jsonrpc::to_raw(&serde_json::json!({ "cursor": c })));
        let limit = up.spec.timeouts.list;
        let result = tokio::time::timeout(
            limit,
            link.request(up.next_id(), kind.method(), params.as_deref(), None),
        )
        .await
        .map_err(|_| UpstreamError::Timeout {
            phase: kind.method(),
            after_ms: limit.as_millis(),
        })??;
        let page = RawObject::parse(&result)
            .map_err(|e| UpstreamError::Protocol(format!("{}: {}", kind.method(), e.message)))?;
        let list = page
            .get(kind.field())
            .ok_or_else(|| UpstreamError::Protocol(format!("{} result has no `{}`", kind.method(), kind.field())))?;
        let raw_items: Vec<Raw> = serde_json::from_str(list.get())
            .map_err(|e| UpstreamError::Protocol(format!("{}: `{}`: {e}", kind.method(), kind.field())))?;
        for raw in raw_items {
            let fields = RawObject::parse(&raw)
                .map_err(|e| UpstreamError::Protocol(format!("{}: item: {}", kind.method(), e.message)))?
                .into_owned();
            let key = fields.str(kind.key()).ok().flatten().ok_or_else(|| {
                UpstreamError::Protocol(format!("{}: an item has no `{}`", kind.method(), kind.key()))
            })?;
            items.push(Item { key, fields });
        }
        if items.len() > MAX_ITEMS {
            return Err(UpstreamError::Protocol(format!(
                "{} returned more than {MAX_ITEMS} items",
                kind.method()
            )));
        }
        cursor = page.str("nextCursor").ok().flatten().filter(|c| !c.is_empty());
        if cursor.is_none() {
            return Ok(items);
        }
    }
    Err(UpstreamError::Protocol(format!(
        "{} kept paging past {MAX_PAGES} pages",
        kind.method()
    )))
}

/// An item as a client sees it in one view.
#[derive(Debug)]
pub struct Entry {
    pub upstream: usize,
    /// The upstream's own name or URI (what it receives in calls).
    pub original: String,
    /// Its name or URI in this view.
    pub exposed: String,
    /// The item's JSON with the exposed name or URI.
    pub raw: Raw,
    /// Tool annotation hints (defaults for other kinds), for policies.
    pub hints: ToolHints,
    /// A tool's declared `inputSchema` (`None` for other kinds).
    pub input: Option<Arc<Input>>,
}

/// A tool's `inputSchema`, compiled on its first call (a catalog of thousands of tools costs
/// nothing to build; compiled schemas are shared by text, across views and refreshes).
#[derive(Debug)]
pub struct Input {
    schema: Raw,
    declared: std::sync::OnceLock<Arc<Declared>>,
}

impl Input {
    fn new(schema: Option<&serde_json::value::RawValue>) -> Self {
        Self {
            // MCP requires `inputSchema`; a tool without one declares an object of anything.
            schema: schema.map_or_else(|| crate::jsonrpc::raw(r#"{"type":"object"}"#.into()), ToOwned::to_owned),
            declared: std::sync::OnceLock::new(),
        }
    }

    pub fn declared(&self) -> &Arc<Declared> {
        self.declared.get_or_init(|| Declared::of(&self.schema))
    }
}

/// One list of a view: entries in order, and an index by exposed name/URI.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<Entry>,
    pub index: HashMap<String, usize>,
}

impl Listing {
    pub fn resolve(&self, exposed: &str) -> Option<&Entry> {
        self.index.get(exposed).map(|&i| &self.entries[i])
    }

    /// The positions of `upstream`'s entries (entries are in upstream order; see `build_view`).
    pub fn span(&self, upstream: usize) -> std::ops::Range<usize> {
        let start = self.entries.partition_point(|e| e.upstream < upstream);
        let end = self.entries.partition_point(|e| e.upstream <= upstream);
        start..end
    }
}

/// What clients of one endpoint see: `/mcp` (federated) or `/mcp/{upstream}` (one, unprefixed).
#[derive(Debug, Default)]
pub struct View {
    pub lists: HashMap<ListKind, Listing>,
    /// Names that two upstreams share and that prefix mode `never` therefore does not serve.
    pub conflicts: Vec<String>,
}

impl View {
    pub fn listing(&self, kind: ListKind) -> Option<&Listing> {
        self.lists.get(&kind)
    }
}

/// Every view, rebuilt together.
#[derive(Debug, Default)]
pub struct Views {
    pub federated: View,
    /// Indexed like the upstreams.
    pub single: Vec<View>,
    /// Distinct for every build, so what is cached about a view can tell it is stale.
    pub generation: u64,
    /// Tools whose definition is not the approved one (tool pinning), with what every view does
    /// with them; empty without pinning.
    pub pinned: Vec<Finding>,
}

/// Pinning treatments other than "serve", by (upstream index, the upstream's tool name).
type Held<'a> = HashMap<(usize, &'a str), Treatment>;

impl Views {
    /// Builds every view from the catalogs. With `pins`, each tool's definition is judged here,
    /// once per rebuild: requests then find a hidden tool absent and a flagged one marked.
    pub fn build(
        upstreams: &[Arc<Upstream>],
        catalogs: &[Option<Arc<UpstreamCatalog>>],
        settings: &McpSettings,
        pins: Option<&Pins>,
    ) -> Self {
        let mut pinned = Vec::new();
        let mut held = Held::new();
        if let Some(pins) = pins {
            for (i, catalog) in catalogs.iter().enumerate() {
                let Some(catalog) = catalog else { continue };
                let up = &upstreams[i];
                let tools = catalog.lists.get(&ListKind::Tools).into_iter().flatten();
                for item in tools.filter(|item| up.spec.tools.admits(&item.key)) {
                    if let Some(finding) = pins.judge(up.name(), &item.key, &item.fields) {
                        if finding.treatment != Treatment::Serve {
                            held.insert((i, item.key.as_str()), finding.treatment);
                        }
                        pinned.push(finding);
                    }
                }
            }
        }
        let federated = build_view(upstreams, catalogs, settings, &held, None);
        let single = (0..upstreams.len())
            .map(|i| build_view(upstreams, catalogs, settings, &held, Some(i)))
            .collect();
        static BUILDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let generation = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            federated,
            single,
            generation,
            pinned,
        }
    }
}

/// Builds one view: the federated one (`only == None`) or one upstream's.
fn build_view(
    upstreams: &[Arc<Upstream>],
    catalogs: &[Option<Arc<UpstreamCatalog>>],
    settings: &McpSettings,
    held: &Held<'_>,
    only: Option<usize>,
) -> View {
    let mut view = View::default();
    for kind in ListKind::ALL {
        // Collect (upstream, original key, renamed key, fields) for the items this view serves,
        // in upstream order: `Listing::span` relies on it.
        let mut candidates = Vec::new();
        for (i, catalog) in catalogs.iter().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            let (Some(catalog), spec) = (catalog, &upstreams[i].spec) else {
                continue;
            };
            let filter = kind.filter(spec);
            for item in catalog.lists.get(&kind).into_iter().flatten() {
                // A hidden tool takes no part in prefixing or conflicts: for clients it does not exist.
                let hidden = kind == ListKind::Tools && held.get(&(i, item.key.as_str())) == Some(&Treatment::Hide);
                if filter.admits(&item.key) && !hidden {
                    candidates.push((i, item, filter.exposed(&item.key).to_string()));
                }
            }
        }
        let mode = if only.is_some() {
            PrefixMode::Never
        } else {
            settings.prefix
        };
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (_, _, renamed) in &candidates {
            *counts.entry(renamed.as_str()).or_default() += 1;
        }
        let mut listing = Listing::default();
        for (i, item, renamed) in &candidates {
            let shared = counts.get(renamed.as_str()).copied().unwrap_or(0) > 1;
            let prefix = match mode {
                PrefixMode::Always => true,
                PrefixMode::Conditional => shared,
                PrefixMode::Never if shared => {
                    view.conflicts.push(format!(
                        "{} `{renamed}` (upstream {})",
                        kind.key(),
                        upstreams[*i].name()
                    ));
                    continue;
                }
                PrefixMode::Never => false,
            };
            let name = upstreams[*i].name();
            let exposed = match (kind, prefix) {
                (_, false) => renamed.clone(),
                (ListKind::Tools | ListKind::Prompts, true) => names::shorten(
                    names::prefixed(name, &settings.separator, renamed),
                    settings.max_name_length,
                ),
                (ListKind::Resources | ListKind::Templates, true) => names::prefixed_uri(name, renamed),
            };
            let mut fields = item.fields.clone();
            fields.set_str(kind.key(), &exposed);
            if kind == ListKind::Tools && held.get(&(*i, item.key.as_str())) == Some(&Treatment::Flag) {
                Pins::flag(&mut fields);
            }
            // Two entries could still meet (a rename onto another item's name): first one wins.
            if listing.index.contains_key(&exposed) {
                view.conflicts.push(format!(
                    "{} `{exposed}` (upstream {name}, renamed onto another)",
                    kind.key()
                ));
                continue;
            }
            listing.index.insert(exposed.clone(), listing.entries.len());
            listing.entries.push(Entry {
                upstream: *i,
                original: item.key.clone(),
                exposed,
                raw: fields.to_raw(),
                hints: if kind == ListKind::Tools {
                    tool_hints(&item.fields)
                } else {
                    ToolHints::default()
                },
                input: (kind == ListKind::Tools).then(|| Arc::new(Input::new(item.fields.get("inputSchema")))),
            });
        }
        view.lists.insert(kind, listing);
    }
    view
}

/// A tool's `annotations` hints; a hint that is absent or not a boolean keeps MCP's default.
fn tool_hints(fields: &RawObject) -> ToolHints {
    let mut hints = ToolHints::default();
    let Some(annotations) = fields.get("annotations") else {
        return hints;
    };
    let Ok(annotations) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(annotations.get()) else {
        return hints;
    };
    let flag = |key: &str, default: bool| {
        annotations
            .get(key)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(default)
    };
    hints.read_only = flag("readOnlyHint", hints.read_only);
    hints.destructive = flag("destructiveHint", hints.destructive);
    hints.idempotent = flag("idempotentHint", hints.idempotent);
    hints.open_world = flag("openWorldHint", hints.open_world);
    hints
}

/// The raw JSON of a view's list items from `offset`, at most `limit` of them.
pub fn page(listing: &Listing, offset: usize, limit: usize) -> (&[Entry], Option<usize>) {
    let end = offset.saturating_add(limit).min(listing.entries.len());
    let start = offset.min(end);
    let next = (end < listing.entries.len()).then_some(end);
    (&listing.entries[start..end], next)
}

/// A page of positions (a caller's filtered view of a listing), like [`page`].
pub fn page_of(positions: &[u32], offset: usize, limit: usize) -> (&[u32], Option<usize>) {
    let end = offset.saturating_add(limit).min(positions.len());
    let start = offset.min(end);
    let next = (end < positions.len()).then_some(end);
    (&positions[start..end], next)
}

/// Finds the upstream for a URI no list names, by the literal start of a resource template.
pub fn template_owner(view: &View, uri: &str) -> Option<usize> {
    let templates = view.listing(ListKind::Templates)?;
    let mut owners = templates.entries.iter().filter_map(|e| {
        let literal = e.original.split('{').next().unwrap_or("");
        (!literal.is_empty() && uri.starts_with(literal)).then_some(e.upstream)
    });
    let first = owners.next()?;
    owners.all(|o| o == first).then_some(first)
}

#[cfg(test)]
mod tests;
