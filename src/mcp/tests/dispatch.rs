//! Dispatch: federated names in lists, and calls resolved to the upstream that owns them.

use serde_json::json;

use super::*;
use crate::jsonrpc::{INVALID_PARAMS, UPSTREAM_ERROR};

async fn two_upstreams() -> (Bench, Vec<Upstream>) {
    Bench::start(&[
        ("alpha", json!([tool("echo"), tool("add")])),
        ("beta", json!([tool("echo")])),
    ])
    .await
}

#[tokio::test]
async fn tools_list_prefixes_each_tool_with_its_upstream() {
    let (bench, _ups) = two_upstreams().await;
    let listed = bench.request(None, json!(1), "tools/list", json!({})).await.result();
    let tools = listed["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["alpha__add", "alpha__echo", "beta__echo"]);
    // Only the name is the hub's; the rest is the upstream's description.
    let echo = tools.iter().find(|t| t["name"] == "beta__echo").unwrap();
    assert_eq!(echo["description"], "the echo tool");
    assert_eq!(echo["inputSchema"], json!({ "type": "object" }));
    assert!(listed.get("nextCursor").is_none(), "one page without page_size");
}

#[tokio::test]
async fn a_call_reaches_its_upstream_by_the_original_name_with_params_untouched() {
    let (bench, mut ups) = two_upstreams().await;
    // Odd spacing, a number JSON would normalise, members agentmux does not know: all of it is
    // the client's and must arrive as written.
    let arguments = r#"{ "text" : "hi",  "n": [1, 2.50, 1e2, {"k": null}] }"#;
    let params = format!(
        r#"{{"name":"beta__echo","arguments":{arguments},"x-vendor":{{"deep":[true]}},"_meta":{{"trace":"t-1"}}}}"#
    );
    let params = crate::jsonrpc::raw(params);
    let call = bench.request_raw(None, json!(1), "tools/call", params);
    let (answer, ()) = tokio::join!(call, async {
        let got = ups[1].next_call().await;
        assert_eq!(got.call.method, "tools/call");
        let raw = got.call.params.as_ref().unwrap().get().to_string();
        assert!(raw.contains(arguments), "arguments changed on the way: {raw}");
        let sent = got.params();
        assert_eq!(sent["name"], "echo");
        assert_eq!(sent["x-vendor"], json!({ "deep": [true] }));
        assert_eq!(sent["_meta"], json!({ "trace": "t-1" }));
        let keys: Vec<&String> = sent.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "arguments", "x-vendor", "_meta"]);
        got.answer(json!({ "content": [{ "type": "text", "text": "hi" }], "isError": false }));
    });
    assert_eq!(
        answer.result(),
        json!({ "content": [{ "type": "text", "text": "hi" }], "isError": false })
    );
    assert!(
        ups[0].calls.try_recv().is_err(),
        "alpha has an echo too, but was not asked"
    );
}

#[tokio::test]
async fn an_unknown_tool_is_invalid_params() {
    let (bench, _ups) = two_upstreams().await;
    for name in ["alpha__nope", "echo", "gamma__echo", "beta__add"] {
        let answer = bench.call(json!(1), json!({ "name": name, "arguments": {} })).await;
        let error = answer.error();
        assert_eq!(error.code, INVALID_PARAMS, "{name}: {error:?}");
        assert_eq!(error.message, format!("unknown tool `{name}`"));
    }
    let answer = bench.call(json!(1), json!({ "arguments": {} })).await;
    assert_eq!(answer.error().code, INVALID_PARAMS);
}

/// The supervisor could not (re)connect `beta`, and the hub withdrew its catalog: its names are
/// unknown, yet the error says which upstream is down and why, not "unknown tool".
#[tokio::test]
async fn a_call_to_an_upstream_that_is_down_names_it() {
    let (bench, _ups) = two_upstreams().await;
    let beta = bench.hub.upstream_index("beta").unwrap();
    bench.hub.upstream(beta).fail_memory("cannot start `/nonexistent/beta`");
    bench.hub.set_catalog(beta, None);

    let listed = bench.request(None, json!(1), "tools/list", json!({})).await.result();
    assert!(!listed.to_string().contains("beta__"), "{listed}");
    let answer = bench
        .call(json!(2), json!({ "name": "beta__echo", "arguments": {} }))
        .await;
    let error = answer.error();
    assert_eq!(error.code, UPSTREAM_ERROR, "{error:?}");
    assert!(
        error.message.starts_with("upstream `beta` unavailable: "),
        "{}",
        error.message
    );
    assert!(
        error.message.ends_with("cannot start `/nonexistent/beta`"),
        "{}",
        error.message
    );
    assert_eq!(error.data, Some(json!({ "upstream": "beta" })));
    // The other upstream still serves.
    assert!(listed.to_string().contains("alpha__echo"));
}

/// Today the message reads "upstream `beta` unavailable: unavailable: cannot start …":
/// `Hub::unavailable_reason` returns the link error's text, prefix included, and
/// `Hub::unknown_name` wraps it in `UpstreamError::Unavailable` again.
#[tokio::test]
async fn a_down_upstream_is_called_unavailable_once() {
    let (bench, _ups) = two_upstreams().await;
    let beta = bench.hub.upstream_index("beta").unwrap();
    bench.hub.upstream(beta).fail_memory("cannot start `/nonexistent/beta`");
    bench.hub.set_catalog(beta, None);
    let answer = bench
        .call(json!(1), json!({ "name": "beta__echo", "arguments": {} }))
        .await;
    assert_eq!(
        answer.error().message,
        "upstream `beta` unavailable: cannot start `/nonexistent/beta`"
    );
}

/// The link closed and the catalog is still in the views (the hub has not heard yet): the call
/// resolves, then fails naming the upstream.
#[tokio::test]
async fn a_call_over_a_closed_link_names_the_upstream() {
    let (bench, ups) = two_upstreams().await;
    ups[1].link.shutdown().await;
    let answer = bench
        .call(json!(1), json!({ "name": "beta__echo", "arguments": {} }))
        .await;
    let error = answer.error();
    assert_eq!(error.code, UPSTREAM_ERROR);
    assert_eq!(
        error.message,
        "upstream `beta` unavailable: the connection just closed; reconnecting"
    );
    assert_eq!(error.data, Some(json!({ "upstream": "beta" })));
}

#[tokio::test]
async fn an_unknown_method_is_method_not_found() {
    let (bench, _ups) = two_upstreams().await;
    let answer = bench.request(None, json!(1), "tools/frobnicate", json!({})).await;
    assert_eq!(answer.error().code, crate::jsonrpc::METHOD_NOT_FOUND);
}
