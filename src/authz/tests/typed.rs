//! Fail-closed decisions on typed arguments: no value a client sends can turn a forbid into an
//! allow, whatever its JSON type, and policies written against the documented vocabulary load.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::arguments::{self, Declared};
use crate::authz::Unreadable;

const LIMIT_UNLESS: &str = r#"
@id("all") permit (principal, action, resource);
@id("refunds-up-to-100")
forbid (principal, action == Action::"call_tool", resource == Tool::"stripe/refund")
unless { context.arguments has amount && context.arguments.amount <= 100 };
"#;

const LIMIT_WHEN: &str = r#"
@id("all") permit (principal, action, resource);
@id("over-100")
forbid (principal, action == Action::"call_tool", resource == Tool::"stripe/refund")
when { context.arguments has amount && context.arguments.amount > 100 };
@id("no-admin-tags")
forbid (principal, action == Action::"call_tool", resource)
when { context.arguments has tags && context.arguments.tags.contains("admin") };
"#;

fn engine(policies: &str) -> Authz {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.cedar"), policies).unwrap();
    // The catalog the policies are validated against: the refund tool and a priced one.
    let price = json!({"type":"object","properties":{"price":{"type":"number"}}});
    let schemas = [refund_schema(), price];
    Authz::load_now(dir.path(), Vec::new(), Arguments::from_input_schemas(&schemas)).unwrap()
}

fn refund_schema() -> Value {
    json!({"type":"object","properties":{
        "amount":{"type":"integer"},
        "tags":{"type":"array","items":{"type":"string"}}
    }})
}

fn alice() -> Caller {
    caller(PrincipalKind::User, "alice", &["payments"], "10.1.1.1")
}

fn refund() -> Target<'static> {
    Target {
        action: Action::CallTool,
        upstream: "stripe",
        name: "refund",
        attrs: Attrs::Tool(ToolHints::default()),
    }
}

/// One call as the hub handles it: parse, validate against the declaration (when given), decide.
/// `Ok(true)` is the only outcome in which the upstream receives the call.
fn call(authz: &Authz, arguments: &str, declared: Option<&Declared>) -> Result<bool, String> {
    let raw = serde_json::value::RawValue::from_string(arguments.to_string()).map_err(|e| e.to_string())?;
    let value = arguments::parse(Some(&raw))?;
    if let Some(d) = declared {
        d.check(&value)?;
    }
    let caller = alice();
    let ask = Ask {
        method: None,
        llm: None,
        caller: &caller,
        target: refund(),
        arguments: Some(Args {
            raw: Some(&raw),
            value: &value,
            declared,
        }),
    };
    match authz.decide(&ask) {
        Ok(verdict) => Ok(verdict.allowed),
        Err(Unreadable(reason)) => Err(reason),
    }
}

fn declared() -> std::sync::Arc<Declared> {
    let text = refund_schema().to_string();
    Declared::of(&serde_json::value::RawValue::from_string(text).unwrap())
}

#[test]
fn a_forbid_that_errors_denies() {
    let authz = engine(LIMIT_UNLESS);
    // Undeclared (validation off): "150" is a String, `<=` on it errors, the forbid denies.
    for arguments in [
        r#"{"amount":"150"}"#,
        r#"{"amount":"50"}"#,
        r#"{"amount":[1]}"#,
        r#"{"amount":{}}"#,
    ] {
        assert_eq!(call(&authz, arguments, None), Ok(false), "{arguments}");
    }
    let caller = alice();
    let value = json!({"amount":"150"});
    let verdict = authz
        .decide(&Ask {
            method: None,
            llm: None,
            caller: &caller,
            target: refund(),
            arguments: Some(Args {
                raw: None,
                value: &value,
                declared: None,
            }),
        })
        .unwrap();
    assert_eq!(verdict.policies, ["refunds-up-to-100"], "the erroring forbid is named");
    assert!(verdict.errors[0].contains("refunds-up-to-100"), "{:?}", verdict.errors);
    assert_eq!(call(&authz, r#"{"amount":50}"#, None), Ok(true));
    assert_eq!(call(&authz, r#"{"amount":150}"#, None), Ok(false));
}

#[test]
fn a_forbid_that_errors_denies_every_action() {
    // Validates, but overflows when evaluated, for every action.
    let authz = engine(
        r#"@id("all") permit (principal, action, resource);
           @id("broken") forbid (principal, action, resource) when { 9223372036854775807 + 1 > 0 };"#,
    );
    let caller = alice();
    for action in [Action::CallTool, Action::GetPrompt, Action::ReadResource] {
        let ask = Ask {
            method: None,
            llm: None,
            caller: &caller,
            target: Target {
                action,
                upstream: "stripe",
                name: "refund",
                attrs: Attrs::Tool(ToolHints::default()),
            },
            arguments: None,
        };
        let verdict = authz.decide(&ask).unwrap();
        assert!(!verdict.allowed, "{action:?}: {verdict:?}");
        assert_eq!(verdict.policies, ["broken"]);
    }
}

#[test]
fn a_permit_that_errors_permits_nothing() {
    let authz = engine(
        r#"@id("small") permit (principal, action, resource)
           when { context.arguments has amount && context.arguments.amount <= 100 };"#,
    );
    assert_eq!(call(&authz, r#"{"amount":"50"}"#, None), Ok(false));
    assert_eq!(call(&authz, r#"{}"#, None), Ok(false));
    assert_eq!(call(&authz, r#"{"amount":50}"#, None), Ok(true));
}

#[test]
fn the_reported_bypasses_are_closed() {
    let authz = engine(LIMIT_UNLESS);
    let declared = declared();
    for arguments in [
        r#"{"amount":150.0}"#,
        r#"{"amount":"150"}"#,
        r#"{"amount":100.00004}"#,
        r#"{"amount":1e20}"#,
        r#"{"amount":18446744073709551615}"#,
        r#"{"amount":50,"amount":150}"#,
    ] {
        let validated = call(&authz, arguments, Some(&declared));
        assert!(validated.is_err(), "{arguments} with the schema: {validated:?}");
        let unvalidated = call(&authz, arguments, None);
        assert_ne!(unvalidated, Ok(true), "{arguments} without the schema");
    }
    assert_eq!(call(&authz, r#"{"amount":100}"#, Some(&declared)), Ok(true));
}

#[test]
fn numbers_are_typed_as_declared_or_refused() {
    let authz = engine(
        r#"@id("all") permit (principal, action, resource);
           @id("cap") forbid (principal, action, resource)
           when { context.arguments has price && context.arguments.price.greaterThan(decimal("99.99")) };"#,
    );
    let price = Declared::of(
        &serde_json::value::RawValue::from_string(
            r#"{"type":"object","properties":{"price":{"type":"number"}}}"#.into(),
        )
        .unwrap(),
    );
    // An integer where a number is declared is a decimal.
    assert_eq!(call(&authz, r#"{"price":99}"#, Some(&price)), Ok(true));
    assert_eq!(call(&authz, r#"{"price":100}"#, Some(&price)), Ok(false));
    assert_eq!(call(&authz, r#"{"price":99.99}"#, Some(&price)), Ok(true));
    assert_eq!(call(&authz, r#"{"price":99.9901}"#, Some(&price)), Ok(false));
    assert_eq!(call(&authz, r#"{"price":-0.5}"#, Some(&price)), Ok(true));
    for (arguments, problem) in [
        (r#"{"price":99.99001}"#, "more than 4 decimal places"),
        (r#"{"price":1e300}"#, "beyond the range"),
        (r#"{"price":922337203685478}"#, "beyond the range"),
    ] {
        let error = call(&authz, arguments, Some(&price)).unwrap_err();
        assert!(
            error.contains(problem) && error.contains("arguments/price"),
            "{arguments}: {error}"
        );
    }
}

#[test]
fn arguments_no_policy_reads_are_not_converted() {
    let authz = engine(LIMIT_UNLESS);
    // A coordinate with six decimals cannot be a Cedar decimal, but no policy reads it.
    assert_eq!(call(&authz, r#"{"amount":10,"latitude":52.520008}"#, None), Ok(true));
    assert_eq!(
        call(&authz, r#"{"amount":10,"id":18446744073709551615}"#, None),
        Ok(true)
    );
}

#[test]
fn policies_on_groups_load_for_every_principal_type() {
    let schema = cedar_schema(&Arguments::default(), &[]);
    let (schema, _) = cedar_policy::Schema::from_cedarschema_str(&schema).unwrap();
    let policies: cedar_policy::PolicySet = r#"
        permit (principal, action, resource);
        forbid (principal, action, resource) when { principal.groups.contains("contractors") };
    "#
    .parse()
    .unwrap();
    let result = cedar_policy::Validator::new(schema).validate(&policies, cedar_policy::ValidationMode::Strict);
    assert!(result.validation_passed(), "{result}");
    // And anonymous callers are decided on (their groups are empty), not errored on.
    let authz = engine(
        r#"@id("all") permit (principal, action, resource);
           @id("no-contractors") forbid (principal, action, resource) when { principal.groups.contains("contractors") };"#,
    );
    let anonymous = caller(PrincipalKind::Anonymous, "anonymous", &[], "127.0.0.1");
    let contractor = caller(PrincipalKind::ApiKey, "bot", &["contractors"], "127.0.0.1");
    let decide = |c: &Caller| {
        authz
            .decide(&Ask {
                method: None,
                llm: None,
                caller: c,
                target: refund(),
                arguments: None,
            })
            .unwrap()
    };
    let verdict = decide(&anonymous);
    assert!(verdict.allowed && verdict.errors.is_empty(), "{verdict:?}");
    assert!(!decide(&contractor).allowed);
}

// === property: no argument value turns a deny into an allow ===

/// What a lenient upstream (Python `float()`, JS `Number()`) makes of a value, if a number.
fn coerced(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (0i64..300).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        (0u32..3_000_000).prop_map(|n| Value::from(f64::from(n) / 10_000.0)),
        prop::sample::select(vec![100.0, 100.00004, 100.00001, 150.0, 1e15, 9.2e14, -0.0, 1e300]).prop_map(Value::from),
    ]
}

fn amount() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        number(),
        number().prop_map(|n| Value::String(n.to_string())),
        "[ 0-9.eE+-]{0,12}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..3).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn tags() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(vec!["admin", "Admin", "ops", ""]), 0..4).prop_map(|t| json!(t)),
        Just(json!("admin")),
        Just(json!([["admin"]])),
        Just(json!([1, "admin"])),
        Just(json!({"0": "admin"})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_amount_passes_a_limit_it_exceeds(amount in amount(), extra in prop::option::of(amount()), strict in any::<bool>()) {
        let unless = engine(LIMIT_UNLESS);
        let when = engine(LIMIT_WHEN);
        let declared = declared();
        let declared = strict.then_some(&*declared);
        let mut arguments = serde_json::Map::new();
        arguments.insert("amount".into(), amount.clone());
        if let Some(extra) = extra {
            arguments.insert("note".into(), extra);
        }
        let text = Value::Object(arguments).to_string();
        if call(&unless, &text, declared) == Ok(true) {
            let n = coerced(&amount);
            prop_assert!(n.is_some_and(|n| n <= 100.0), "allowed past `unless`: {text}");
            prop_assert!(amount.is_i64() || (!strict && amount.is_number()), "allowed an untyped amount: {text}");
        }
        if call(&when, &text, declared) == Ok(true) {
            prop_assert!(coerced(&amount).is_none_or(|n| n <= 100.0), "allowed past `when`: {text}");
        }
    }

    #[test]
    fn no_tags_shape_hides_admin(tags in tags(), strict in any::<bool>()) {
        let when = engine(LIMIT_WHEN);
        let declared = declared();
        let text = json!({"amount": 1, "tags": tags}).to_string();
        let flat_admin = tags.as_array().is_some_and(|t| t.iter().any(|v| v == "admin"));
        if flat_admin {
            prop_assert_ne!(call(&when, &text, strict.then_some(&*declared)), Ok(true), "{}", text);
        }
    }
}
