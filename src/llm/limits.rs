//! Requests and tokens per minute (`llm.limits`). A request is admitted on its estimate (the
//! request itself, and its input tokens estimated plus `max_tokens`) against every limit it
//! matches, and charged its real usage once the provider has said what it was. Counts live in
//! the `StateStore`, one per limit, budget (shared, or per caller) and minute, so replicas that
//! share a store share the budgets. A count that cannot be read refuses the request.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::Limit;
use crate::identity::Principal;
use crate::state::StateStore;

pub struct Limits {
    limits: Vec<Limit>,
    store: Arc<StateStore>,
}

/// What an admitted request was charged, to settle against its real usage.
#[derive(Default)]
pub struct Charge {
    /// Token counters charged, and how much.
    tokens: Vec<(String, i64)>,
}

/// Why a request is refused.
pub enum Refusal {
    /// Over a limit: which, and when its window ends.
    Over(Over),
    /// The counts could not be read or written.
    Unavailable(String),
}

pub struct Over {
    pub limit: String,
    pub message: String,
    pub retry_after: u64,
    /// `requests` or `tokens`, the limit, and what is left of it.
    pub kind: &'static str,
    pub allowed: u64,
    pub remaining: u64,
}

impl Limits {
    pub fn new(limits: Vec<Limit>, store: Arc<StateStore>) -> Self {
        Self { limits, store }
    }

    /// Counts the request against every limit it matches, or refuses it (and takes back what
    /// it counted).
    pub async fn admit(&self, principal: &Principal, model: &str, estimate: u64) -> Result<Charge, Refusal> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let (minute, retry_after) = (now / 60, 60 - now % 60);
        let mut counted: Vec<(String, i64)> = Vec::new();
        let mut charge = Charge::default();
        let estimate = i64::try_from(estimate).unwrap_or(i64::MAX);
        for limit in self.limits.iter().filter(|l| matches(l, principal, model)) {
            let budget = if limit.per_principal {
                principal.to_string()
            } else {
                "*".into()
            };
            let key = |kind: &str| format!("llm/{}/{budget}/{minute}/{kind}", limit.name);
            let checks = [
                ("requests", limit.requests_per_minute, 1),
                ("tokens", limit.tokens_per_minute, estimate),
            ];
            for (kind, allowed, amount) in checks {
                let Some(allowed) = allowed else { continue };
                let key = key(kind);
                let total = match self.store.add(&key, amount).await {
                    Ok(total) => total,
                    Err(e) => {
                        self.give_back(&counted).await;
                        return Err(Refusal::Unavailable(e.to_string()));
                    }
                };
                counted.push((key.clone(), amount));
                let total = u64::try_from(total).unwrap_or(0);
                if total > allowed {
                    self.give_back(&counted).await;
                    let message = if kind == "tokens" && amount as u64 > allowed {
                        format!(
                            "this request is estimated at {amount} tokens, more than limit `{}` allows in a minute ({allowed})",
                            limit.name
                        )
                    } else {
                        format!(
                            "limit `{}` of {allowed} {kind} per minute is reached; retry in {retry_after} s",
                            limit.name
                        )
                    };
                    return Err(Refusal::Over(Over {
                        limit: limit.name.clone(),
                        message,
                        retry_after,
                        kind,
                        allowed,
                        remaining: allowed.saturating_sub(total.saturating_sub(amount as u64)),
                    }));
                }
                if kind == "tokens" {
                    charge.tokens.push((key, amount));
                }
            }
        }
        Ok(charge)
    }

    /// Replaces the estimate charged with `used` tokens (`None`: nothing is known of the usage,
    /// the estimate stands).
    pub async fn settle(&self, charge: Charge, used: Option<u64>) {
        let Some(used) = used else { return };
        let used = i64::try_from(used).unwrap_or(i64::MAX);
        for (key, estimate) in charge.tokens {
            if let Err(e) = self.store.add(&key, used - estimate).await {
                tracing::warn!(error = %e, "token usage could not be charged");
            }
        }
    }

    async fn give_back(&self, counted: &[(String, i64)]) {
        for (key, amount) in counted {
            if let Err(e) = self.store.add(key, -amount).await {
                tracing::warn!(error = %e, "a refused request's count could not be taken back");
            }
        }
    }
}

/// Whether `limit` counts a request by `principal` for `model` (as the client named it).
fn matches(limit: &Limit, principal: &Principal, model: &str) -> bool {
    limit.principal.as_ref().is_none_or(|p| *p == principal.to_string())
        && limit.group.as_ref().is_none_or(|g| principal.groups.contains(g))
        && limit.model.as_ref().is_none_or(|m| m == model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(name: &str, group: Option<&str>, per_principal: bool, rpm: Option<u64>, tpm: Option<u64>) -> Limit {
        Limit {
            name: name.into(),
            principal: None,
            group: group.map(str::to_string),
            model: None,
            per_principal,
            requests_per_minute: rpm,
            tokens_per_minute: tpm,
        }
    }

    fn principal(id: &str, group: &str) -> Principal {
        let mut p = (*Principal::anonymous()).clone();
        p.kind = crate::identity::PrincipalKind::ApiKey;
        p.id = id.into();
        p.groups = vec![group.into()];
        p
    }

    fn over(result: Result<Charge, Refusal>) -> Over {
        match result {
            Err(Refusal::Over(over)) => over,
            _ => panic!("expected a refusal"),
        }
    }

    #[tokio::test]
    async fn a_team_shares_its_tokens_and_other_teams_are_apart() {
        let store = Arc::new(StateStore::in_memory());
        let limits = Limits::new(vec![limit("eng", Some("eng"), false, None, Some(1000))], store);
        let (alice, bob, carol) = (
            principal("alice", "eng"),
            principal("bob", "eng"),
            principal("carol", "sales"),
        );
        limits.admit(&alice, "m", 600).await.ok().unwrap();
        let refused = over(limits.admit(&bob, "m", 600).await);
        assert_eq!(
            (refused.limit.as_str(), refused.kind, refused.remaining),
            ("eng", "tokens", 400)
        );
        assert!(refused.retry_after >= 1 && refused.retry_after <= 60);
        assert!(
            limits.admit(&carol, "m", 5000).await.is_ok(),
            "sales is not limited by eng's budget"
        );
        assert!(
            limits.admit(&bob, "m", 400).await.is_ok(),
            "a refusal takes back what it counted"
        );
    }

    #[tokio::test]
    async fn real_usage_replaces_the_estimate() {
        let store = Arc::new(StateStore::in_memory());
        let limits = Limits::new(vec![limit("t", None, true, None, Some(1000))], store);
        let alice = principal("alice", "eng");
        let charge = limits.admit(&alice, "m", 900).await.ok().unwrap();
        limits.settle(charge, Some(100)).await;
        assert!(
            limits.admit(&alice, "m", 850).await.is_ok(),
            "900 estimated, 100 used: 900 left"
        );
        let message = over(limits.admit(&alice, "m", 2000).await).message;
        assert!(message.contains("estimated at 2000 tokens"), "{message}");
        let bob = principal("bob", "eng");
        assert!(
            limits.admit(&bob, "m", 900).await.is_ok(),
            "per principal: bob has his own"
        );
    }

    #[tokio::test]
    async fn requests_per_minute() {
        let store = Arc::new(StateStore::in_memory());
        let limits = Limits::new(vec![limit("r", None, false, Some(2), None)], store);
        let alice = principal("alice", "eng");
        assert!(limits.admit(&alice, "m", 1).await.is_ok());
        assert!(limits.admit(&alice, "m", 1).await.is_ok());
        assert_eq!(over(limits.admit(&alice, "m", 1).await).kind, "requests");
    }
}
