use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::authz::Caller;
use crate::identity::Principal;
use crate::mcp::Scope;

fn limits(per_caller: usize, opens_per_second: u32, max: u64) -> Limits {
    Limits {
        idle: Duration::from_secs(60),
        max,
        per_caller,
        opens_per_second,
    }
}

fn session_of(key: &str) -> Arc<Session> {
    let principal = Arc::new(Principal {
        fingerprint: Default::default(),
        kind: PrincipalKind::ApiKey,
        id: key.into(),
        issuer: None,
        groups: Vec::new(),
        scopes: Vec::new(),
        claims: serde_json::Map::new(),
    });
    let caller = Caller {
        principal,
        endpoint: "/mcp".into(),
        version: "2025-11-25",
        client_ip: None,
    };
    Session::new(Scope::Federated, "2025-11-25".into(), caller)
}

#[test]
fn a_caller_over_its_cap_evicts_its_own_least_recent_session() {
    let sessions = Sessions::new(limits(3, 1_000, 100), |_| ());
    let other = session_of("b");
    sessions.open(Arc::clone(&other)).unwrap();
    let mine: Vec<_> = (0..3).map(|_| session_of("a")).collect();
    for s in &mine {
        std::thread::sleep(Duration::from_millis(2));
        sessions.open(Arc::clone(s)).unwrap();
    }
    // The first is used again: the second is now the least recent.
    std::thread::sleep(Duration::from_millis(2));
    assert!(sessions.get(&mine[0].id).is_some());
    sessions.open(session_of("a")).unwrap();
    assert!(sessions.get(&mine[0].id).is_some());
    assert!(
        sessions.get(&mine[1].id).is_none(),
        "the least recently used is evicted"
    );
    assert!(sessions.get(&mine[2].id).is_some());
    assert!(
        sessions.get(&other.id).is_some(),
        "another caller's session is never evicted"
    );
}

#[test]
fn opening_too_fast_is_refused_and_full_means_no_one_is_evicted() {
    let sessions = Sessions::new(limits(1_000, 2, 1_000), |_| ());
    // A burst of ten times the rate, then refusals with a retry hint.
    for _ in 0..20 {
        sessions.open(session_of("a")).unwrap();
    }
    assert!(matches!(
        sessions.open(session_of("a")),
        Err(Refused::TooFast { retry_after_secs: 1 })
    ));
    assert!(
        sessions.open(session_of("b")).is_ok(),
        "another caller has its own budget"
    );

    let full = Sessions::new(limits(1_000, 1_000, 2), |_| ());
    let (x, y) = (session_of("x"), session_of("y"));
    full.open(Arc::clone(&x)).unwrap();
    full.open(Arc::clone(&y)).unwrap();
    assert_eq!(full.open(session_of("z")), Err(Refused::Full(2)));
    assert!(full.get(&x.id).is_some() && full.get(&y.id).is_some());
    // Removing one makes room.
    full.remove(&x.id);
    assert!(full.open(session_of("z")).is_ok());
}
