//! Forwarding: ids and progress tokens rewritten upstream-side and mapped back, protocol `_meta`
//! kept on the client's side of the hub, upstream answers passed on as they are.

use serde_json::json;

use super::*;
use crate::jsonrpc::UPSTREAM_ERROR;

async fn one_upstream() -> (Bench, Upstream) {
    let (bench, mut ups) = Bench::start(&[("alpha", json!([tool("slow")]))]).await;
    (bench, ups.remove(0))
}

fn progress_frame(token: Value, progress: u64) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": { "progressToken": token, "progress": progress, "total": 3 },
    })
}

#[tokio::test]
async fn the_client_id_never_reaches_the_upstream() {
    let (bench, mut up) = one_upstream().await;
    let params = json!({ "name": "alpha__slow", "arguments": {} });
    // Two clients that happen to use the same id.
    let (first, second, (a, b)) = tokio::join!(
        bench.call(json!("client-7"), params.clone()),
        bench.call(json!("client-7"), params.clone()),
        async {
            let a = up.next_call().await;
            let b = up.next_call().await;
            let ids = (a.call.id, b.call.id);
            for got in [a, b] {
                assert!(!got.call.params.as_ref().unwrap().get().contains("client-7"));
                got.answer(json!({ "content": [] }));
            }
            ids
        }
    );
    assert_ne!(a, b, "each call gets an upstream id of its own");
    first.result();
    second.result();
}

#[tokio::test]
async fn progress_comes_back_under_the_clients_token_in_order_before_the_response() {
    let (bench, mut up) = one_upstream().await;
    let params = json!({ "name": "alpha__slow", "arguments": {}, "_meta": { "progressToken": "mine" } });
    let (answer, ()) = tokio::join!(bench.call(json!(1), params), async {
        let got = up.next_call().await;
        let token = got.params()["_meta"]["progressToken"].clone();
        assert!(token.is_string(), "{token}");
        assert_ne!(token, json!("mine"), "the client's token is not the upstream's");
        for progress in 1..=3 {
            let note = json!({ "progressToken": token, "progress": progress, "total": 3 });
            got.notify("notifications/progress", note).await;
        }
        got.answer(json!({ "content": [] }));
    });
    answer.result();
    let expected: Vec<Value> = (1..=3).map(|p| progress_frame(json!("mine"), p)).collect();
    assert_eq!(answer.frames, expected);
}

/// Two clients pick the same token for calls on one upstream connection: each gets its own
/// progress, never the other's.
#[tokio::test]
async fn equal_client_tokens_get_distinct_upstream_tokens() {
    let (bench, mut up) = one_upstream().await;
    let params = |token: Value| json!({ "name": "alpha__slow", "arguments": {}, "_meta": { "progressToken": token } });
    let (first, second, ()) = tokio::join!(
        bench.call(json!(1), params(json!(5))),
        bench.call(json!(1), params(json!(5))),
        async {
            let a = up.next_call().await;
            let b = up.next_call().await;
            let token = |r: &Received| r.params()["_meta"]["progressToken"].clone();
            assert_ne!(token(&a), token(&b));
            // Upstream-side order: b's progress first, then a's.
            b.notify(
                "notifications/progress",
                json!({ "progressToken": token(&b), "progress": 1, "total": 3 }),
            )
            .await;
            a.notify(
                "notifications/progress",
                json!({ "progressToken": token(&a), "progress": 2, "total": 3 }),
            )
            .await;
            a.answer(json!({ "content": [] }));
            b.answer(json!({ "content": [] }));
        }
    );
    // Which upstream call is which client's depends on scheduling; each client got exactly the
    // progress of its own call, under its own token.
    let mut seen = vec![first.frames, second.frames];
    seen.sort_by_key(|f| f.first().map(|f| f["params"]["progress"].as_u64()));
    assert_eq!(
        seen,
        [vec![progress_frame(json!(5), 1)], vec![progress_frame(json!(5), 2)]]
    );
}

#[tokio::test]
async fn progress_after_the_call_ended_goes_nowhere() {
    let (bench, mut up) = one_upstream().await;
    let params = json!({ "name": "alpha__slow", "arguments": {}, "_meta": { "progressToken": 9 } });
    let (answer, token) = tokio::join!(bench.call(json!(1), params), async {
        let got = up.next_call().await;
        let token = got.params()["_meta"]["progressToken"].clone();
        got.answer(json!({ "content": [] }));
        token
    });
    assert!(answer.frames.is_empty());
    let late = to_raw(&json!({ "progressToken": token, "progress": 3 }));
    assert!(
        !bench.hub.progress().deliver(&late),
        "the call's token was unregistered"
    );
}

#[tokio::test]
async fn protocol_meta_of_the_stateless_era_stays_on_the_clients_side() {
    let (bench, mut up) = one_upstream().await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "c", "version": "1" },
        "progressToken": "p",
        "trace": "t-1",
    });
    let only_protocol = json!({ "io.modelcontextprotocol/protocolVersion": "2026-07-28" });
    let call = |meta: Value| {
        bench.call(
            json!(1),
            json!({ "name": "alpha__slow", "arguments": {}, "_meta": meta }),
        )
    };
    let (first, second, ()) = tokio::join!(call(meta), call(only_protocol), async {
        for _ in 0..2 {
            let got = up.next_call().await;
            let sent = got.params();
            match sent.get("_meta") {
                Some(meta) => {
                    let keys: Vec<&String> = meta.as_object().unwrap().keys().collect();
                    assert_eq!(keys, ["progressToken", "trace"], "{sent}");
                    assert_eq!(meta["trace"], "t-1");
                }
                // Nothing was left of it: no empty `_meta` either.
                None => assert_eq!(sent, json!({ "name": "slow", "arguments": {} })),
            }
            got.answer(json!({ "content": [] }));
        }
    });
    first.result();
    second.result();
}

/// A stateless upstream stamps its results with protocol fields about the hop to agentmux.
#[tokio::test]
async fn protocol_meta_in_a_result_is_not_passed_to_the_client() {
    let (bench, mut up) = one_upstream().await;
    let params = json!({ "name": "alpha__slow", "arguments": {} });
    let (answer, ()) = tokio::join!(bench.call(json!(1), params), async {
        up.next_call().await.answer(json!({
            "content": [],
            "_meta": { "io.modelcontextprotocol/serverInfo": { "name": "alpha" }, "keep": 1 },
        }));
    });
    assert_eq!(answer.result(), json!({ "content": [], "_meta": { "keep": 1 } }));
}

#[tokio::test]
async fn an_upstream_json_rpc_error_reaches_the_client_as_it_is() {
    let (bench, mut up) = one_upstream().await;
    let error = RpcError::new(-32042, "the widget is stuck").with_data(json!({ "widget": [1, 2] }));
    let params = json!({ "name": "alpha__slow", "arguments": {} });
    let (answer, ()) = tokio::join!(bench.call(json!(1), params), async {
        up.next_call().await.fail(UpstreamError::Rpc(error.clone()));
    });
    assert_eq!(answer.error(), &error);
}

#[tokio::test]
async fn other_upstream_failures_name_the_upstream() {
    let (bench, mut up) = one_upstream().await;
    let params = json!({ "name": "alpha__slow", "arguments": {} });
    let (answer, ()) = tokio::join!(bench.call(json!(1), params), async {
        up.next_call().await.fail(UpstreamError::Timeout {
            phase: "the response",
            after_ms: 60_000,
        });
    });
    let error = answer.error();
    assert_eq!(error.code, UPSTREAM_ERROR);
    assert_eq!(
        error.message,
        "upstream `alpha` timed out waiting for the response after 60000 ms"
    );
    assert_eq!(error.data, Some(json!({ "upstream": "alpha" })));
}
