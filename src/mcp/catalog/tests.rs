use std::collections::BTreeMap;

use super::*;
use crate::config::{NameFilter, OnChanged, OnNew, PinningSettings, Timeouts, TransportSpec, UpstreamProtocol};
use crate::jsonrpc::raw;
use crate::mcp::pinning::{Lock, Pin, Verdict};

fn upstream(index: usize, name: &str, tools: NameFilter) -> Arc<Upstream> {
    Upstream::new(
        index,
        UpstreamSpec {
            name: name.to_string(),
            declared_in: "test".into(),
            declared_as: None,
            transport: TransportSpec::StreamableHttp {
                url: "http://127.0.0.1:1/mcp".into(),
                headers: BTreeMap::new(),
                protocol: UpstreamProtocol::Auto,
                oauth: None,
            },
            tools,
            prompts: NameFilter::default(),
            resources: NameFilter::default(),
            required: true,
            timeouts: Timeouts::DEFAULT,
            max_message_bytes: crate::config::DEFAULT_MAX_MESSAGE_BYTES,
            validate_arguments: crate::config::ArgumentValidation::Strict,
        },
    )
}

fn catalog(tools: &[&str], resources: &[&str]) -> Option<Arc<UpstreamCatalog>> {
    let item = |key: &str, field: &str| Item {
        key: key.to_string(),
        fields: RawObject::parse(&raw(
            serde_json::json!({ field: key, "annotations": {"readOnlyHint": true} }).to_string(),
        ))
        .unwrap()
        .into_owned(),
    };
    let init = Arc::new(InitializeResult {
        protocol_version: "2025-11-25".into(),
        raw: raw("{}".into()),
        capabilities: serde_json::json!({}),
        instructions: None,
        server_info: serde_json::Value::Null,
    });
    let mut lists = HashMap::new();
    lists.insert(ListKind::Tools, tools.iter().map(|t| item(t, "name")).collect());
    lists.insert(ListKind::Resources, resources.iter().map(|r| item(r, "uri")).collect());
    Some(Arc::new(UpstreamCatalog { init, lists }))
}

fn settings(prefix: PrefixMode, max_name_length: usize) -> McpSettings {
    McpSettings {
        prefix,
        separator: "__".into(),
        max_name_length,
        page_size: None,
        catalog_ttl: std::time::Duration::from_secs(60),
        session_idle_timeout: std::time::Duration::from_secs(60),
        max_sessions: 10,
        max_sessions_per_caller: 10,
        sessions_per_second: 10,
    }
}

fn names(view: &View, kind: ListKind) -> Vec<String> {
    view.listing(kind)
        .unwrap()
        .entries
        .iter()
        .map(|e| e.exposed.clone())
        .collect()
}

#[test]
fn prefix_modes() {
    let ups = [
        upstream(0, "a", NameFilter::default()),
        upstream(1, "b", NameFilter::default()),
    ];
    let cats = [
        catalog(&["shared", "only_a"], &["file:///x"]),
        catalog(&["shared", "only_b"], &["file:///x"]),
    ];
    let cases = [
        (
            PrefixMode::Always,
            vec!["a__shared", "a__only_a", "b__shared", "b__only_b"],
        ),
        (
            PrefixMode::Conditional,
            vec!["a__shared", "only_a", "b__shared", "only_b"],
        ),
        (PrefixMode::Never, vec!["only_a", "only_b"]),
    ];
    for (mode, expected) in cases {
        let views = Views::build(&ups, &cats, &settings(mode, 128), None);
        assert_eq!(names(&views.federated, ListKind::Tools), expected, "{mode:?}");
        // One upstream's own endpoint is never prefixed.
        assert_eq!(names(&views.single[1], ListKind::Tools), ["shared", "only_b"]);
    }
    let never = Views::build(&ups, &cats, &settings(PrefixMode::Never, 128), None);
    assert_eq!(never.federated.conflicts.len(), 4, "{:?}", never.federated.conflicts);
    let always = Views::build(&ups, &cats, &settings(PrefixMode::Always, 128), None);
    assert_eq!(
        names(&always.federated, ListKind::Resources),
        ["agentmux://a/file:///x", "agentmux://b/file:///x"]
    );
}

#[test]
fn items_keep_every_field_and_resolve_to_their_owner() {
    let ups = [upstream(0, "a", NameFilter::default())];
    let views = Views::build(&ups, &[catalog(&["t"], &[])], &settings(PrefixMode::Always, 128), None);
    let entry = views
        .federated
        .listing(ListKind::Tools)
        .unwrap()
        .resolve("a__t")
        .unwrap();
    assert_eq!((entry.upstream, entry.original.as_str()), (0, "t"));
    assert_eq!(
        entry.raw.get(),
        r#"{"name":"a__t","annotations":{"readOnlyHint":true}}"#
    );
}

#[test]
fn filters_renames_and_length_caps() {
    let filter = NameFilter {
        include: vec!["get_*".into(), "a_very_long_tool_name_*".into()],
        exclude: vec!["get_secret".into()],
        rename: [("get_issue".to_string(), "issue".to_string())].into(),
    };
    let ups = [upstream(0, "github", filter)];
    let long = "a_very_long_tool_name_that_no_llm_api_accepts_at_all";
    let cats = [catalog(&["get_issue", "get_secret", "delete_repo", long], &[])];
    let views = Views::build(&ups, &cats, &settings(PrefixMode::Always, 32), None);
    let exposed = names(&views.federated, ListKind::Tools);
    assert_eq!(exposed[0], "github__issue");
    assert_eq!(exposed.len(), 2, "{exposed:?}");
    assert!(
        exposed[1].len() <= 32 && exposed[1].starts_with("github__a_very"),
        "{exposed:?}"
    );
    let entry = views
        .federated
        .listing(ListKind::Tools)
        .unwrap()
        .resolve(&exposed[1])
        .unwrap();
    assert_eq!(entry.original, long);
}

#[test]
fn pages() {
    let ups = [upstream(0, "a", NameFilter::default())];
    let views = Views::build(
        &ups,
        &[catalog(&["t1", "t2", "t3"], &[])],
        &settings(PrefixMode::Always, 128),
        None,
    );
    let listing = views.federated.listing(ListKind::Tools).unwrap();
    let (first, next) = page(listing, 0, 2);
    assert_eq!((first.len(), next), (2, Some(2)));
    let (rest, next) = page(listing, 2, 2);
    assert_eq!((rest.len(), next), (1, None));
    let (beyond, next) = page(listing, 10, 2);
    assert_eq!((beyond.len(), next), (0, None));
}

// === tool pinning ===

/// Upstream `a` serves `kept` as approved, `changed` with other annotations than approved, and
/// `fresh`, which the lock does not know.
fn pinned_views(changed: OnChanged, new: OnNew, prefix: PrefixMode) -> Views {
    let ups = [upstream(0, "a", NameFilter::default())];
    let cats = [catalog(&["kept", "changed", "fresh"], &[])];
    let served = |name: &str| {
        &cats[0].as_ref().unwrap().lists[&ListKind::Tools]
            .iter()
            .find(|i| i.key == name)
            .unwrap()
            .fields
    };
    let approved_before = RawObject::parse(&raw(r#"{"name":"changed","annotations":{"readOnlyHint":false}}"#.into()))
        .unwrap()
        .into_owned();
    let lock = Lock {
        tools: [
            ("a/kept".to_string(), Pin::of(served("kept"))),
            ("a/changed".to_string(), Pin::of(&approved_before)),
        ]
        .into(),
    };
    let settings_ = PinningSettings {
        lock: "unused.lock".into(),
        changed,
        new,
    };
    let pins = Pins::new(settings_, lock);
    Views::build(&ups, &cats, &settings(prefix, 128), Some(&pins))
}

#[test]
fn pinning_hides_changed_tools_in_every_view() {
    let views = pinned_views(OnChanged::Hide, OnNew::Allow, PrefixMode::Always);
    assert_eq!(names(&views.federated, ListKind::Tools), ["a__kept", "a__fresh"]);
    assert_eq!(names(&views.single[0], ListKind::Tools), ["kept", "fresh"]);
    assert!(
        views
            .federated
            .listing(ListKind::Tools)
            .unwrap()
            .resolve("a__changed")
            .is_none()
    );
    assert!(
        views.single[0]
            .listing(ListKind::Tools)
            .unwrap()
            .resolve("changed")
            .is_none()
    );
    let found: Vec<_> = views
        .pinned
        .iter()
        .map(|f| (f.tool.as_str(), f.verdict, f.treatment))
        .collect();
    assert_eq!(
        found,
        [
            ("changed", Verdict::Changed, Treatment::Hide),
            ("fresh", Verdict::New, Treatment::Serve)
        ]
    );
}

#[test]
fn pinning_flags_changed_tools() {
    let views = pinned_views(OnChanged::Flag, OnNew::Allow, PrefixMode::Always);
    let listing = views.federated.listing(ListKind::Tools).unwrap();
    assert_eq!(
        names(&views.federated, ListKind::Tools),
        ["a__kept", "a__changed", "a__fresh"]
    );
    let flagged: serde_json::Value = serde_json::from_str(listing.resolve("a__changed").unwrap().raw.get()).unwrap();
    assert_eq!(flagged["_meta"]["agentmux/pin"], "changed");
    assert_eq!(flagged["description"], "[agentmux: definition changed since approval]");
    assert_eq!(flagged["name"], "a__changed");
    let kept: serde_json::Value = serde_json::from_str(listing.resolve("a__kept").unwrap().raw.get()).unwrap();
    assert!(kept.get("_meta").is_none() && kept.get("description").is_none());
}

#[test]
fn pinning_hides_new_tools_when_told() {
    let views = pinned_views(OnChanged::Flag, OnNew::Hide, PrefixMode::Always);
    assert_eq!(names(&views.federated, ListKind::Tools), ["a__kept", "a__changed"]);
    // With `never`, names are unprefixed; hidden ones are simply absent.
    let views = pinned_views(OnChanged::Hide, OnNew::Hide, PrefixMode::Never);
    assert_eq!(names(&views.federated, ListKind::Tools), ["kept"]);
    assert!(views.federated.conflicts.is_empty());
}

#[test]
fn pinning_off_serves_everything() {
    let ups = [upstream(0, "a", NameFilter::default())];
    let views = Views::build(&ups, &[catalog(&["x"], &[])], &settings(PrefixMode::Always, 128), None);
    assert_eq!(names(&views.federated, ListKind::Tools), ["a__x"]);
    assert!(views.pinned.is_empty());
}
