//! Resource subscriptions: the upstream connection is shared by every session, so one session's
//! unsubscribe, or its end, must not end another's subscription upstream.

use serde_json::json;

use super::*;
use crate::mcp::subscribers::Subscription;

/// A resource of `alpha` as federated clients name it, and as `alpha` knows it.
const URI: &str = "agentmux://alpha/demo://doc";
const ORIGINAL: &str = "demo://doc";

async fn one_upstream() -> (Bench, Upstream) {
    let (bench, mut ups) = Bench::start(&[("alpha", json!([tool("echo")]))]).await;
    (bench, ups.remove(0))
}

fn doc() -> Subscription {
    Subscription {
        upstream: 0,
        uri: ORIGINAL.to_string(),
    }
}

/// `session` subscribes to URI; the upstream is asked and accepts.
async fn subscribe(bench: &Bench, up: &mut Upstream, session: &Arc<Session>) {
    let (answer, ()) = tokio::join!(
        bench.request(Some(session), json!(1), "resources/subscribe", json!({ "uri": URI })),
        async {
            let got = up.next_call().await;
            assert_eq!(got.call.method, "resources/subscribe");
            assert_eq!(got.params(), json!({ "uri": ORIGINAL }));
            got.answer(json!({}));
        }
    );
    assert_eq!(answer.result(), json!({}));
}

/// The next request the upstream receives is an unsubscribe from ORIGINAL; it is accepted.
async fn expect_unsubscribe(up: &mut Upstream) {
    let got = up.next_call().await;
    assert_eq!(got.call.method, "resources/unsubscribe");
    assert_eq!(got.params(), json!({ "uri": ORIGINAL }));
    got.answer(json!({}));
}

/// Asserts no request is on its way to the upstream: a marker sent now arrives first. (On the
/// test's one-thread runtime tasks run in the order they were spawned, so an unsubscribe already
/// on its way would arrive before the marker.)
async fn assert_asked_nothing(up: &mut Upstream) {
    let link = Arc::clone(&up.link);
    let marker = tokio::spawn(async move { link.request(0, "test/marker", None, None).await });
    let got = up.next_call().await;
    assert_eq!(got.call.method, "test/marker");
    got.answer(json!({}));
    soon(marker).await.unwrap().unwrap();
}

#[tokio::test]
async fn one_sessions_unsubscribe_leaves_anothers_subscription_upstream() {
    let (bench, mut up) = one_upstream().await;
    let (a, b) = (bench.session(), bench.session());
    subscribe(&bench, &mut up, &a).await;
    subscribe(&bench, &mut up, &b).await;
    assert_eq!(bench.hub.subscribers().holders(&doc()), 2);

    let answer = bench
        .request(Some(&b), json!(2), "resources/unsubscribe", json!({ "uri": URI }))
        .await;
    assert_eq!(answer.result(), json!({}));
    assert!(!b.is_subscribed(URI) && a.is_subscribed(URI));
    assert_asked_nothing(&mut up).await;

    // A second unsubscribe of B's is nothing to count, and nothing to send.
    bench
        .request(Some(&b), json!(3), "resources/unsubscribe", json!({ "uri": URI }))
        .await;
    assert_eq!(bench.hub.subscribers().holders(&doc()), 1);
    assert_asked_nothing(&mut up).await;

    // The last session out unsubscribes the upstream.
    let answer = bench
        .request(Some(&a), json!(4), "resources/unsubscribe", json!({ "uri": URI }))
        .await;
    assert_eq!(answer.result(), json!({}));
    expect_unsubscribe(&mut up).await;
    assert_eq!(bench.hub.subscribers().holders(&doc()), 0);
}

#[tokio::test]
async fn a_session_subscribing_twice_holds_once() {
    let (bench, mut up) = one_upstream().await;
    let (a, b) = (bench.session(), bench.session());
    subscribe(&bench, &mut up, &a).await;
    subscribe(&bench, &mut up, &a).await;
    subscribe(&bench, &mut up, &b).await;
    assert_eq!(bench.hub.subscribers().holders(&doc()), 2);
}

#[tokio::test]
async fn an_ended_session_releases_its_subscriptions_and_only_the_last_unsubscribes() {
    let (bench, mut up) = one_upstream().await;
    let (a, b) = (bench.session(), bench.session());
    let sessions = bench.hub.sessions();
    sessions.open(Arc::clone(&a)).unwrap();
    sessions.open(Arc::clone(&b)).unwrap();
    subscribe(&bench, &mut up, &a).await;
    subscribe(&bench, &mut up, &b).await;

    sessions.remove(&b.id);
    assert_eq!(bench.hub.subscribers().holders(&doc()), 1);
    assert_asked_nothing(&mut up).await;

    sessions.remove(&a.id);
    expect_unsubscribe(&mut up).await;
    assert_eq!(bench.hub.subscribers().holders(&doc()), 0);
    assert!(!a.is_subscribed(URI), "an ended session holds nothing");
}

#[tokio::test]
async fn a_refused_subscribe_is_not_held() {
    let (bench, mut up) = one_upstream().await;
    let a = bench.session();
    let (answer, ()) = tokio::join!(
        bench.request(Some(&a), json!(1), "resources/subscribe", json!({ "uri": URI })),
        async {
            let got = up.next_call().await;
            got.fail(UpstreamError::Rpc(RpcError::new(-32002, "no such resource")));
        }
    );
    assert_eq!(answer.error().code, -32002);
    assert!(!a.is_subscribed(URI));
    assert_eq!(bench.hub.subscribers().holders(&doc()), 0);
    // Nobody holds it: the upstream is told so, in case another session's subscribe raced this one.
    expect_unsubscribe(&mut up).await;
}

#[tokio::test]
async fn a_reconnected_upstream_is_subscribed_again_to_what_sessions_hold() {
    let (bench, mut up) = one_upstream().await;
    let a = bench.session();
    subscribe(&bench, &mut up, &a).await;

    let mut again = memory_upstream(json!([tool("echo")]));
    bench
        .hub
        .upstream(0)
        .connect_memory(Arc::clone(&again.link), init("alpha"));
    bench.hub.subscribers().resubscribe(0);
    let got = again.next_call().await;
    assert_eq!(got.call.method, "resources/subscribe");
    assert_eq!(got.params(), json!({ "uri": ORIGINAL }));
    got.answer(json!({}));
    assert_eq!(
        bench.hub.subscribers().holders(&doc()),
        1,
        "a reconnect changes no count"
    );
}
