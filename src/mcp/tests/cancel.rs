//! Cancellation: a call the client gives up on ends at once, and the upstream is told to stop,
//! under the id the upstream knows the request by.

use serde_json::json;

use super::*;

/// `-32800`, JSON-RPC's (LSP's) "request cancelled".
const REQUEST_CANCELLED: i64 = -32800;

async fn one_upstream() -> (Bench, Upstream) {
    let (bench, mut ups) = Bench::start(&[("alpha", json!([tool("slow")]))]).await;
    (bench, ups.remove(0))
}

fn slow(token: Option<&str>) -> Value {
    match token {
        Some(token) => json!({ "name": "alpha__slow", "arguments": {}, "_meta": { "progressToken": token } }),
        None => json!({ "name": "alpha__slow", "arguments": {} }),
    }
}

/// Asserts `note` is agentmux telling the upstream to stop request `upstream_id`.
fn assert_cancels(note: &Inbound, upstream_id: u64) {
    assert_eq!(note.method, "notifications/cancelled");
    let params: Value = serde_json::from_str(note.params.as_ref().unwrap().get()).unwrap();
    assert_eq!(params["requestId"], json!(upstream_id), "{params}");
}

/// Asserts agentmux told the upstream nothing: a marker sent now arrives first. (On the test's
/// one-thread runtime tasks run in the order they were spawned, so a cancellation already on its
/// way would arrive before the marker.)
async fn assert_told_nothing(up: &mut Upstream) {
    let link = Arc::clone(&up.link);
    let marker = tokio::spawn(async move { link.notify("test/marker", None).await });
    soon(marker).await.unwrap().unwrap();
    assert_eq!(up.next_notification().await.method, "test/marker");
}

#[tokio::test]
async fn a_client_cancellation_ends_the_call_and_tells_the_upstream() {
    let (bench, mut up) = one_upstream().await;
    let session = bench.session();
    let (answer, mut got) = tokio::join!(
        bench.request(Some(&session), json!(17), "tools/call", slow(Some("p"))),
        async {
            let got = up.next_call().await;
            assert!(session.in_flight("17").is_some(), "the running call is the session's");
            let cancel = to_raw(&json!({ "requestId": 17, "reason": "user pressed stop" }));
            bench
                .hub
                .client_notification(Some(&session), "notifications/cancelled", Some(&cancel));
            got
        }
    );
    assert_eq!(answer.error().code, REQUEST_CANCELLED);
    // The upstream hears of it by its own id, not the client's 17.
    assert_ne!(got.call.id, 17);
    assert_cancels(&up.next_notification().await, got.call.id);
    // The request it was working on was abandoned, not left waiting for an answer.
    soon(got.reply.closed()).await;
    assert!(session.in_flight("17").is_none());
    let token = got.params()["_meta"]["progressToken"].clone();
    let late = to_raw(&json!({ "progressToken": token, "progress": 1 }));
    assert!(!bench.hub.progress().deliver(&late), "its progress route is gone");
}

#[tokio::test]
async fn dropping_the_call_tells_the_upstream() {
    let (bench, mut up) = one_upstream().await;
    let session = bench.session();
    let mut call = Box::pin(bench.request(Some(&session), json!("c-1"), "tools/call", slow(None)));
    let mut got = tokio::select! {
        got = up.next_call() => got,
        answer = &mut call => panic!("answered before the upstream had it: {:?}", answer.outcome.map(|r| r.get().to_string())),
    };
    // The client went away (its transport drops the request's task).
    drop(call);
    assert_cancels(&up.next_notification().await, got.call.id);
    soon(got.reply.closed()).await;
    assert!(session.in_flight("\"c-1\"").is_none());
}

#[tokio::test]
async fn cancelling_another_id_leaves_the_call_alone() {
    let (bench, mut up) = one_upstream().await;
    let session = bench.session();
    let (answer, ()) = tokio::join!(
        bench.request(Some(&session), json!(1), "tools/call", slow(None)),
        async {
            let got = up.next_call().await;
            for other in [json!(2), json!("1"), json!(null)] {
                let cancel = to_raw(&json!({ "requestId": other }));
                bench
                    .hub
                    .client_notification(Some(&session), "notifications/cancelled", Some(&cancel));
            }
            // Another session cancelling "its" request 1 does not reach this one either.
            let cancel = to_raw(&json!({ "requestId": 1 }));
            let stranger = bench.session();
            bench
                .hub
                .client_notification(Some(&stranger), "notifications/cancelled", Some(&cancel));
            got.answer(json!({ "content": [] }));
        }
    );
    answer.result();
    assert_told_nothing(&mut up).await;
}

#[tokio::test]
async fn a_finished_call_is_not_cancelled() {
    let (bench, mut up) = one_upstream().await;
    let session = bench.session();
    let (answer, ()) = tokio::join!(
        bench.request(Some(&session), json!(3), "tools/call", slow(None)),
        async { up.next_call().await.answer(json!({ "content": [] })) }
    );
    answer.result();
    let cancel = to_raw(&json!({ "requestId": 3 }));
    bench
        .hub
        .client_notification(Some(&session), "notifications/cancelled", Some(&cancel));
    assert!(session.in_flight("3").is_none());
    assert_told_nothing(&mut up).await;
}
