//! Decisions against the example policies, and slicing checked against Cedar over the whole set.

use std::sync::Arc;

use cedar_policy::{Authorizer, Entity};
use serde_json::json;

use super::*;
use crate::identity::{Principal, PrincipalKind};

mod model;
mod typed;

fn example() -> Authz {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/secure/policies");
    let schema = json!({"type":"object","properties":{"amount":{"type":"integer"},"currency":{"type":"string"}}});
    Authz::load_now(
        &dir,
        vec!["department".into()],
        Arguments::from_input_schemas([&schema]),
    )
    .unwrap()
}

fn caller(kind: PrincipalKind, id: &str, groups: &[&str], ip: &str) -> Caller {
    Caller {
        principal: Arc::new(Principal {
            fingerprint: Default::default(),
            kind,
            id: id.into(),
            issuer: (kind == PrincipalKind::User).then(|| "https://idp.example.com".into()),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            scopes: Vec::new(),
            claims: serde_json::Map::new(),
        }),
        endpoint: "/mcp".into(),
        version: "2025-11-25",
        client_ip: Some(ip.parse().unwrap()),
    }
}

#[test]
fn sliced_decisions_equal_cedar_over_the_whole_set() {
    let authz = example();
    let loaded = authz.loaded().unwrap();
    let callers = [
        caller(PrincipalKind::User, "alice", &["payments"], "10.1.1.1"),
        caller(PrincipalKind::User, "bob", &["eng"], "10.1.1.1"),
        caller(PrincipalKind::User, "bob", &["eng"], "192.0.2.1"),
        caller(PrincipalKind::ApiKey, "ci-bot", &["ci", "eng"], "10.1.1.1"),
        caller(PrincipalKind::User, "carol", &["oncall-breakglass"], "10.1.1.1"),
        caller(PrincipalKind::Anonymous, "anonymous", &[], "127.0.0.1"),
    ];
    let tools = [
        ("stripe", "refund"),
        ("stripe", "list_charges"),
        ("github", "get_issue"),
        ("github", "delete_repo"),
    ];
    let hints = [
        ToolHints::default(),
        ToolHints {
            read_only: true,
            destructive: false,
            ..ToolHints::default()
        },
    ];
    let arguments = [
        None,
        Some(r#"{"amount":50}"#),
        Some(r#"{"amount":500,"currency":"EUR"}"#),
    ];
    let mut checked = 0;
    for c in &callers {
        for (upstream, name) in tools {
            for h in hints {
                for args in arguments {
                    let value = args.map(|a| serde_json::from_str::<serde_json::Value>(a).unwrap());
                    let target = Target {
                        action: Action::CallTool,
                        upstream,
                        name,
                        attrs: Attrs::Tool(h),
                    };
                    let ask = Ask {
                        method: None,
                        llm: None,
                        caller: c,
                        target,
                        arguments: value.as_ref().map(|value| Args {
                            raw: None,
                            value,
                            declared: None,
                        }),
                    };
                    let now = Some("2026-11-27T10:00:00Z");
                    let sliced = authz.evaluate(&ask, now).unwrap();
                    // The same request over the whole set, as Cedar alone decides it.
                    let empty = json!({});
                    let types = authz.arguments.load();
                    let cedar_args = request::arguments(
                        value.as_ref().unwrap_or(&empty),
                        Some(&types.fields),
                        &request::Reads::All,
                    )
                    .unwrap();
                    let context = request::context(
                        c,
                        target.action,
                        None,
                        Some(cedar_args),
                        None,
                        now,
                        &request::Needs::ALL,
                    )
                    .unwrap();
                    let req = cedar_request(c, &target, context).unwrap();
                    let mut list: Vec<Entity> = Vec::new();
                    request::principal_entities(&c.principal, &mut list).unwrap();
                    request::target_entities(&target, true, &mut list).unwrap();
                    let whole = Authorizer::new().is_authorized(&req, &loaded.set, &request::entities(list).unwrap());
                    assert_eq!(
                        sliced.decision(),
                        whole.decision(),
                        "{} {upstream}/{name} {h:?} {args:?}",
                        c.principal
                    );
                    let reasons = |r: &Response| {
                        r.diagnostics()
                            .reason()
                            .map(ToString::to_string)
                            .collect::<std::collections::BTreeSet<_>>()
                    };
                    assert_eq!(reasons(&sliced), reasons(&whole));
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 6 * 4 * 2 * 3);
}

#[test]
fn lists_show_what_some_arguments_allow_and_match_single_decisions() {
    let authz = example();
    let alice = caller(PrincipalKind::User, "alice", &["payments"], "10.1.1.1");
    let ci = caller(PrincipalKind::ApiKey, "ci-bot", &["ci"], "10.1.1.1");
    let read_only = ToolHints {
        read_only: true,
        destructive: false,
        ..ToolHints::default()
    };
    let targets: Vec<Target<'_>> = [
        ("stripe", "refund", ToolHints::default()),
        ("stripe", "list_charges", read_only),
        ("github", "delete_repo", ToolHints::default()),
        ("github", "get_issue", read_only),
        ("github", "list_issues", read_only),
    ]
    .into_iter()
    .map(|(upstream, name, hints)| Target {
        action: Action::CallTool,
        upstream,
        name,
        attrs: Attrs::Tool(hints),
    })
    .collect();
    // Refund depends on the amount: listed. Everything read-only: listed (read-only-for-all).
    assert_eq!(authz.visible(&alice, &targets), vec![true, true, false, true, true]);
    // CI may read; delete_repo is destructive (forbidden whatever the arguments).
    assert_eq!(authz.visible(&ci, &targets), vec![false, true, false, true, true]);
}

#[test]
fn an_invalid_reload_keeps_the_running_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.cedar"), r#"permit (principal, action, resource);"#).unwrap();
    let authz = Authz::load_now(dir.path(), Vec::new(), Arguments::default()).unwrap();
    let generation = authz.generation();
    std::fs::write(
        dir.path().join("b.cedar"),
        r#"permit (principal, action, resource) when { resource.nope };"#,
    )
    .unwrap();
    assert!(authz.changed_on_disk());
    let error = authz.reload(Arguments::default()).unwrap_err();
    assert!(
        error.to_string().contains("b.cedar") || error.to_string().contains("nope"),
        "{error}"
    );
    assert_eq!(authz.generation(), generation);
    assert_eq!(authz.loaded().unwrap().ids, vec!["a.cedar#1"]);
}

#[test]
fn remembered_decisions_follow_arguments_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let policy = |limit: u32| {
        format!(
            r#"@id("limit") permit (principal, action, resource) when {{ context.arguments has amount && context.arguments.amount <= {limit} }};"#
        )
    };
    std::fs::write(dir.path().join("a.cedar"), policy(100)).unwrap();
    let schema = json!({"type":"object","properties":{"amount":{"type":"integer"}}});
    let types = || Arguments::from_input_schemas([&schema]);
    let authz = Authz::load_now(dir.path(), Vec::new(), types()).unwrap();
    let alice = caller(PrincipalKind::User, "alice", &["payments"], "10.1.1.1");
    let decide = |amount: u32| {
        let raw = serde_json::value::RawValue::from_string(format!(r#"{{"amount":{amount}}}"#)).unwrap();
        let value = crate::arguments::parse(Some(&raw)).unwrap();
        let target = Target {
            action: Action::CallTool,
            upstream: "stripe",
            name: "refund",
            attrs: Attrs::Tool(ToolHints::default()),
        };
        authz
            .decide(&Ask {
                method: None,
                llm: None,
                caller: &alice,
                target,
                arguments: Some(Args {
                    raw: Some(&raw),
                    value: &value,
                    declared: None,
                }),
            })
            .unwrap()
            .allowed
    };
    for _ in 0..2 {
        assert!(decide(50));
        assert!(!decide(500));
    }
    std::fs::write(dir.path().join("a.cedar"), policy(1000)).unwrap();
    authz.reload(types()).unwrap();
    assert!(decide(500), "a reloaded set must not answer from the old set's memo");
}

#[test]
fn what_policies_read_of_the_context() {
    let needs = |text: &str| request::Needs::of(&text.parse().unwrap());
    let none = needs(r#"permit (principal, action, resource) when { context.era == "2025-11-25" };"#);
    assert!(!none.now && !none.client_ip && !none.arguments.any());
    let args = needs(
        r#"permit (principal, action, resource) when { context.arguments has amount && context.arguments.to like "*@example.com" };"#,
    );
    assert_eq!(
        args.arguments,
        request::Reads::Names(["amount".to_string(), "to".to_string()].into())
    );
    assert!(!args.now);
    let whole = needs(r#"permit (principal, action, resource) when { context.arguments == {"a": 1} };"#);
    assert_eq!(whole.arguments, request::Reads::All);
    let both = needs(
        r#"permit (principal, action, resource) when { context has client_ip && context.now > datetime("2026-01-01") };"#,
    );
    assert!(both.now && both.client_ip && !both.arguments.any());
    // The context used whole: everything counts.
    assert_eq!(
        needs(r#"permit (principal, action, resource) when { context == {} };"#),
        request::Needs::ALL
    );
}
