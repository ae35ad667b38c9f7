use serde_json::json;

use super::*;

fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_string()).unwrap()
}

fn refund() -> Arc<Declared> {
    Declared::of(&raw(
        r#"{"type":"object","properties":{"amount":{"type":"integer"},"currency":{"type":"string"},
            "lines":{"type":"array","items":{"type":"object","properties":{"qty":{"type":"integer"}}}}},
            "required":["amount"]}"#,
    ))
}

fn check(declared: &Declared, arguments: &str) -> Result<(), String> {
    declared.check(&parse(Some(&raw(arguments)))?)
}

#[test]
fn an_integer_is_an_exact_integer() {
    let d = refund();
    assert_eq!(check(&d, r#"{"amount":150}"#), Ok(()));
    for (arguments, problem) in [
        (r#"{"amount":150.0}"#, "arguments/amount: 150.0 is not an integer"),
        (r#"{"amount":1.5e2}"#, "arguments/amount: 150.0 is not an integer"),
        (
            r#"{"amount":"150"}"#,
            r#"arguments/amount: "150" is not of type "integer""#,
        ),
        (r#"{"amount":100.00004}"#, "arguments/amount: 100.00004 is not of type"),
        (r#"{"amount":18446744073709551615}"#, "beyond the 64-bit integer range"),
        (
            r#"{"amount":1,"lines":[{"qty":2},{"qty":2.0}]}"#,
            "arguments/lines/1/qty: 2.0 is not an integer",
        ),
        (r#"{"currency":"EUR"}"#, r#""amount" is a required property"#),
    ] {
        let error = check(&d, arguments).unwrap_err();
        assert!(error.contains(problem), "{arguments}: {error}");
    }
}

#[test]
fn parse_refuses_what_parsers_read_differently() {
    for (arguments, problem) in [
        (r#"{"amount":1,"amount":500}"#, "duplicate key `amount`"),
        (r#"{"a":{"b":1,"b":2}}"#, "duplicate key `b`"),
        ("[1]", "must be a JSON object"),
        ("7", "must be a JSON object"),
    ] {
        let error = parse(Some(&raw(arguments))).unwrap_err();
        assert!(error.contains(problem), "{arguments}: {error}");
    }
    let deep = format!("{}1{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    let error = parse(Some(&raw(&format!(r#"{{"a":{deep}}}"#)))).unwrap_err();
    assert!(error.contains("nested deeper"), "{error}");
    assert_eq!(parse(None), Ok(json!({})));
}

#[test]
fn schemas_that_do_not_compile_or_reach_out_refuse_every_call() {
    for schema in [
        r#"{"type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}}"#,
        r#"{"type":"nonsense"}"#,
    ] {
        let d = Declared::of(&raw(schema));
        assert!(!d.compiles(), "{schema}");
        assert!(check(&d, "{}").is_err(), "{schema}");
    }
}

#[test]
fn drafts_follow_dollar_schema() {
    // Draft-07 `items` as an array is a tuple; in 2020-12 that is `prefixItems`.
    let draft7 = Declared::of(&raw(
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
            "properties":{"pair":{"type":"array","items":[{"type":"string"},{"type":"integer"}]}}}"#,
    ));
    assert!(draft7.compiles());
    assert_eq!(check(&draft7, r#"{"pair":["a",1]}"#), Ok(()));
    assert!(check(&draft7, r#"{"pair":[1,"a"]}"#).is_err());
}

#[test]
fn compiled_schemas_are_shared() {
    let a = refund();
    let b = refund();
    assert!(Arc::ptr_eq(&a, &b));
}
