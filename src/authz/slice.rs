//! Policy slicing: only the policies whose scope can match a request are evaluated.
//!
//! Cedar evaluates every policy in a set for every request (about a microsecond each), but a
//! policy whose scope (`principal in Group::"payments"`, `resource in Upstream::"stripe"`) does
//! not match the request is false without looking further. The scopes are indexed when the set
//! loads; a request picks the policies its principal, action and resource can match, and the
//! set of those policies is built once and reused for every request with the same slice. The
//! decision is the same as over the whole set: a policy left out could not have applied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cedar_policy::{ActionConstraint, EntityUid, Policy, PolicySet, PrincipalConstraint, ResourceConstraint};

/// Distinct slices kept; past this the cache starts over (a bound, not an expected size).
const MAX_SLICES: usize = 4096;

pub struct Index {
    policies: Vec<Scoped>,
    slices: Mutex<HashMap<Vec<u32>, Arc<Slice>>>,
}

/// The policies that can apply to some requests.
pub struct Slice {
    pub set: PolicySet,
    /// No policy's conditions look at which tool it is (its name, or the entity itself), only at
    /// its upstream and hints: tools alike in those get the same decision from this slice.
    pub by_hints: bool,
}

struct Scoped {
    policy: Policy,
    by_hints: bool,
    principal: PrincipalConstraint,
    action: ActionConstraint,
    resource: ResourceConstraint,
}

/// What a request's scope is: the principal and what it is `in`, the action, the resource and
/// what it is `in`. agentmux's hierarchy is one level deep (groups; the upstream), so the
/// ancestors are exactly these.
pub struct Scope<'a> {
    pub principal: &'a EntityUid,
    pub groups: &'a [EntityUid],
    pub action: &'a EntityUid,
    pub resource: &'a EntityUid,
    pub upstream: &'a EntityUid,
}

impl Index {
    pub fn new(set: &PolicySet) -> Self {
        Self {
            policies: set
                .policies()
                .map(|p| Scoped {
                    by_hints: p
                        .to_json()
                        .is_ok_and(|json| !json.get("conditions").is_some_and(names_resource)),
                    policy: p.clone(),
                    principal: p.principal_constraint(),
                    action: p.action_constraint(),
                    resource: p.resource_constraint(),
                })
                .collect(),
            slices: Mutex::default(),
        }
    }

    /// The policies that can apply to requests with this scope.
    pub fn slice(&self, scope: &Scope<'_>) -> Arc<Slice> {
        let key: Vec<u32> = self
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.matches(scope))
            .map(|(i, _)| i as u32)
            .collect();
        let mut slices = self.slices.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(set) = slices.get(&key) {
            return Arc::clone(set);
        }
        let set = Arc::new(Slice {
            // Ids are unique in the whole set, so in any part of it.
            set: PolicySet::from_policies(key.iter().map(|&i| self.policies[i as usize].policy.clone()))
                .unwrap_or_default(),
            by_hints: key.iter().all(|&i| self.policies[i as usize].by_hints),
        });
        if slices.len() >= MAX_SLICES {
            slices.clear();
        }
        slices.insert(key, Arc::clone(&set));
        set
    }
}

/// Attributes every tool of an upstream with the same hints shares.
const SHARED: [&str; 5] = ["upstream", "read_only", "destructive", "idempotent", "open_world"];

/// Whether a condition (Cedar's JSON form) refers to the resource other than through
/// [`SHARED`] attributes (`resource.read_only`, `resource has destructive`).
fn names_resource(expr: &serde_json::Value) -> bool {
    use serde_json::Value;
    match expr {
        Value::Object(map) => {
            for op in [".", "has"] {
                if let Some(Value::Object(access)) = map.get(op)
                    && access.get("left") == Some(&serde_json::json!({ "Var": "resource" }))
                    && access
                        .get("attr")
                        .and_then(Value::as_str)
                        .is_some_and(|a| SHARED.contains(&a))
                {
                    return false;
                }
            }
            map.get("Var").is_some_and(|v| v == "resource") || map.values().any(names_resource)
        }
        Value::Array(items) => items.iter().any(names_resource),
        _ => false,
    }
}

impl Scoped {
    fn matches(&self, s: &Scope<'_>) -> bool {
        let principal_in = |uid: &EntityUid| uid == s.principal || s.groups.contains(uid);
        let resource_in = |uid: &EntityUid| uid == s.resource || uid == s.upstream;
        let principal = match &self.principal {
            PrincipalConstraint::Any => true,
            PrincipalConstraint::Eq(uid) => uid == s.principal,
            PrincipalConstraint::In(uid) => principal_in(uid),
            PrincipalConstraint::Is(t) => t == s.principal.type_name(),
            PrincipalConstraint::IsIn(t, uid) => t == s.principal.type_name() && principal_in(uid),
        };
        let action = match &self.action {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(uid) => uid == s.action,
            ActionConstraint::In(uids) => uids.contains(s.action),
        };
        let resource = match &self.resource {
            ResourceConstraint::Any => true,
            ResourceConstraint::Eq(uid) => uid == s.resource,
            ResourceConstraint::In(uid) => resource_in(uid),
            ResourceConstraint::Is(t) => t == s.resource.type_name(),
            ResourceConstraint::IsIn(t, uid) => t == s.resource.type_name() && resource_in(uid),
        };
        principal && action && resource
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_hints(text: &str) -> bool {
        let set: PolicySet = text.parse().unwrap();
        Index::new(&set).policies[0].by_hints
    }

    #[test]
    fn conditions_that_name_the_tool_are_told_apart() {
        assert!(by_hints(r#"permit (principal, action, resource == Tool::"a/b");"#));
        assert!(by_hints(
            r#"permit (principal, action, resource) when { resource.read_only && resource has upstream };"#
        ));
        assert!(by_hints(
            r#"permit (principal, action, resource) when { context.arguments has amount };"#
        ));
        assert!(!by_hints(
            r#"permit (principal, action, resource) when { resource.name == "x" };"#
        ));
        assert!(!by_hints(
            r#"permit (principal, action, resource) when { resource in Upstream::"a" };"#
        ));
        assert!(!by_hints(
            r#"permit (principal, action, resource) unless { resource == Tool::"a/b" };"#
        ));
    }
}
