//! Which provider models a request's model name reaches, in the order they are tried:
//! `<entry>/<model>` names one; a virtual model (`llm.models`) names its targets, tried in the
//! order written, or, when weights are given, in a random order drawn by weight (each attempt
//! spreads load; a failed target is not drawn again).

use std::sync::Arc;

use super::providers::Provider;
use crate::config::{ModelTarget, VirtualModel};

/// One provider model a request may go to.
#[derive(Clone)]
pub struct Candidate {
    pub provider: Arc<Provider>,
    /// As the provider knows it.
    pub model: String,
}

impl Candidate {
    /// `<entry>/<model>`, as policies and logs name it.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.provider.name(), self.model)
    }
}

/// What a model name stands for.
pub enum Route {
    /// `<entry>/<model>`.
    Direct(Candidate),
    /// A virtual model's name and its targets, in the order to try them.
    Virtual(String, Vec<Candidate>),
}

impl Route {
    /// The candidate tried first.
    pub fn first(&self) -> Option<&Candidate> {
        match self {
            Self::Direct(candidate) => Some(candidate),
            Self::Virtual(_, candidates) => candidates.first(),
        }
    }
}

/// The route for `name`, or `None` when no provider serves it.
pub fn resolve(
    name: &str,
    providers: &[Arc<Provider>],
    virtual_models: &std::collections::BTreeMap<String, VirtualModel>,
) -> Option<Route> {
    let find = |entry: &str, model: &str| {
        let provider = providers.iter().find(|p| p.name() == entry)?;
        provider.spec.models.serves(model).then(|| Candidate {
            provider: Arc::clone(provider),
            model: model.to_string(),
        })
    };
    if let Some((entry, model)) = name.split_once('/') {
        return find(entry, model).map(Route::Direct);
    }
    let virtual_model = virtual_models.get(name)?;
    let ordered = order(&virtual_model.targets, || getrandom::u64().unwrap_or(0));
    let mut candidates: Vec<Candidate> = ordered.iter().filter_map(|t| find(&t.entry, &t.model)).collect();
    if virtual_model.targets.iter().any(|t| t.weighted) {
        faster_of_two_first(&mut candidates);
    }
    // Ejected entries go last: tried only when every other has failed.
    candidates.sort_by_key(|c| c.provider.health.ejected());
    Some(Route::Virtual(name.to_string(), candidates))
}

/// Power of two choices: of the two drawn first (by weight), the one answering faster lately
/// goes first; one never measured yet is tried as it was drawn.
fn faster_of_two_first(candidates: &mut [Candidate]) {
    if let [first, second, ..] = candidates
        && let (Some(a), Some(b)) = (first.provider.health.latency(), second.provider.health.latency())
        && b < a
    {
        std::mem::swap(first, second);
    }
}

/// Targets in the order to try them: as written, or (any weight given) drawn one by one with
/// probability proportional to weight. `random` gives uniform draws.
fn order(targets: &[ModelTarget], mut random: impl FnMut() -> u64) -> Vec<&ModelTarget> {
    if !targets.iter().any(|t| t.weighted) {
        return targets.iter().collect();
    }
    let mut left: Vec<&ModelTarget> = targets.iter().collect();
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let total: u64 = left.iter().map(|t| u64::from(t.weight)).sum();
        let mut pick = random() % total.max(1);
        let mut index = left.len() - 1;
        for (i, t) in left.iter().enumerate() {
            if pick < u64::from(t.weight) {
                index = i;
                break;
            }
            pick -= u64::from(t.weight);
        }
        out.push(left.remove(index));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(model: &str, weight: Option<u32>) -> ModelTarget {
        ModelTarget {
            entry: "p".into(),
            model: model.into(),
            weight: weight.unwrap_or(1),
            weighted: weight.is_some(),
        }
    }

    #[test]
    fn failover_keeps_the_written_order() {
        let targets = [target("a", None), target("b", None)];
        let names: Vec<&str> = order(&targets, || 7).iter().map(|t| t.model.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn weights_draw_the_first_target_in_proportion() {
        let targets = [target("a", Some(3)), target("b", Some(1))];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut first_a = 0;
        for _ in 0..4000 {
            let ordered = order(&targets, || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            });
            assert_eq!(ordered.len(), 2, "every target stays a fallback");
            first_a += usize::from(ordered[0].model == "a");
        }
        // 3:1 → 75% ± a few points over 4000 draws.
        assert!((2800..3200).contains(&first_a), "a first {first_a} times of 4000");
    }
}
