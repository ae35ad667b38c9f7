//! Authorization: Cedar policies from `policies/*.cedar` decide every tool call, prompt and
//! resource read, A2A request and LLM model call, and which items a caller's lists show.
//! Default deny: without a permitting policy nothing is allowed. The policy set is swapped
//! atomically on reload; a set that fails to parse or validate is refused and the previous one
//! keeps running.

mod keyed;
mod memo;
mod policies;
mod request;
mod scene;
pub mod schema;
mod slice;
mod vocabulary;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, ArcSwapOption};
use cedar_policy::{Authorizer, Decision, Effect, Entity, PolicySet, Request, Response};
use tracing::{error, info};

pub use policies::{Loaded, PolicyError, SCHEMA_FILE, check, load, scan};
pub use request::principal_from_case;
pub use schema::{Arguments, cedar_schema};

use std::collections::HashMap;

pub use vocabulary::{
    Action, Args, Ask, Attrs, Caller, Gate, ModelCall, Target, ToolHints, Unreadable, VIRTUAL_PROVIDER, Verdict,
};

pub struct Authz {
    dir: PathBuf,
    claims: Vec<String>,
    /// `None` until the first set loads: until then every decision is a denial.
    loaded: ArcSwapOption<Loaded>,
    /// The catalog's argument types, for reading numbers as the schema declares them.
    arguments: ArcSwap<Arguments>,
    generation: AtomicU64,
    authorizer: Authorizer,
}

impl Authz {
    /// An engine with no policy set yet (everything denied until [`Authz::reload`] succeeds).
    pub fn new(dir: &Path, claims: Vec<String>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            claims,
            loaded: ArcSwapOption::empty(),
            arguments: ArcSwap::from_pointee(Arguments::default()),
            generation: AtomicU64::new(1),
            authorizer: Authorizer::new(),
        }
    }

    /// Loads `dir` now; an error is returned, not installed.
    pub fn load_now(dir: &Path, claims: Vec<String>, arguments: Arguments) -> Result<Self, PolicyError> {
        let authz = Self::new(dir, claims);
        authz.reload(arguments)?;
        Ok(authz)
    }

    pub fn loaded(&self) -> Option<Arc<Loaded>> {
        self.loaded.load_full()
    }

    /// Reads and validates the policy directory; on success swaps the new set in. On failure the
    /// running set stays, and the error says why (logged and counted here too).
    pub fn reload(&self, arguments: Arguments) -> Result<(), PolicyError> {
        let outcome = load(&self.dir, &arguments, &self.claims);
        self.arguments.store(Arc::new(arguments));
        match outcome {
            Ok(loaded) => {
                info!(dir = %self.dir.display(), policies = loaded.ids.len(), files = loaded.files.len(), "policies loaded");
                self.loaded.store(Some(Arc::new(loaded)));
                self.generation.fetch_add(1, Ordering::Relaxed);
                crate::metrics::metrics().policy_load(true);
                Ok(())
            }
            Err(e) => {
                let keeping = if self.loaded.load().is_some() {
                    "the previous policy set stays in force"
                } else {
                    "no policy set is loaded: every call is denied"
                };
                error!(dir = %self.dir.display(), problems = %e, "policies refused; {keeping}");
                crate::metrics::metrics().policy_load(false);
                Err(e)
            }
        }
    }

    /// Updates the argument types only (the catalog changed; the policies did not).
    pub fn set_arguments(&self, arguments: Arguments) {
        self.arguments.store(Arc::new(arguments));
    }

    /// Whether the policy files changed since the running set was read.
    pub fn changed_on_disk(&self) -> bool {
        let current = self.loaded.load().as_ref().map(|l| l.digest);
        scan(&self.dir)
            .map(|(_, _, digest)| Some(digest) != current)
            .unwrap_or(false)
    }

    /// The full Cedar answer for one ask, for `policy test` and `policy explain`. Arguments
    /// the ask does not declare are typed as the catalog declares them. `now` (RFC 3339)
    /// replaces the clock, for test cases.
    pub fn evaluate(&self, ask: &Ask<'_>, now: Option<&str>) -> Result<Response, Problem> {
        let loaded = self.loaded.load();
        let loaded = loaded
            .as_ref()
            .ok_or(Problem::Internal("no policy set is loaded".into()))?;
        let types = self.arguments.load();
        self.evaluate_with(loaded, ask, now, Some(&types.fields))
    }

    /// `fallback`: the argument types to use where the ask has no declaration of its own.
    fn evaluate_with(
        &self,
        loaded: &Loaded,
        ask: &Ask<'_>,
        now: Option<&str>,
        fallback: Option<&std::collections::BTreeMap<String, schema::ArgType>>,
    ) -> Result<Response, Problem> {
        // Fail closed: an LLM call is decided on what it asks for, never on defaults.
        if ask.target.action.is_llm() && ask.llm.is_none() {
            return Err(Problem::Internal(format!(
                "call_model on {}: the LLM request's fields are missing",
                request::target_uid(&ask.target)
            )));
        }
        let arguments = match ask.arguments {
            Some(a) => {
                let declared = a.declared.map(|d| &d.types).or(fallback);
                request::arguments(a.value, declared, &loaded.needs.arguments).map_err(Problem::Arguments)?
            }
            None => cedar_policy::RestrictedExpression::new_record([]).map_err(|e| Problem::Internal(e.to_string()))?,
        };
        let scene = loaded
            .scenes
            .get_or_build(ask.caller, &ask.target, || {
                let mut list: Vec<Entity> = Vec::with_capacity(8);
                let groups = request::principal_entities(&ask.caller.principal, &mut list)?;
                let policies = slice_for(loaded, ask.caller, &groups, &ask.target);
                request::target_entities(&ask.target, true, &mut list)?;
                Ok(scene::Scene {
                    entities: request::entities(list)?,
                    policies,
                })
            })
            .map_err(Problem::Internal)?;
        let context = request::context(
            ask.caller,
            ask.target.action,
            ask.method,
            Some(arguments),
            ask.llm.as_ref(),
            now,
            &loaded.needs,
        )
        .map_err(Problem::Internal)?;
        let request = cedar_request(ask.caller, &ask.target, context).map_err(Problem::Internal)?;
        Ok(self
            .authorizer
            .is_authorized(&request, &scene.policies.set, &scene.entities))
    }
}

impl Authz {
    /// One entity store for the whole list (the caller, every target, their upstreams), then
    /// per target only its slice of the policies, partially evaluated with the arguments (for a
    /// model: the LLM request's fields) unknown. A target no policy can apply to is hidden
    /// without evaluating anything.
    fn visible_with(&self, loaded: &Loaded, caller: &Caller, targets: &[Target<'_>]) -> Result<Vec<bool>, String> {
        let mut list = Vec::with_capacity(targets.len() + 8);
        let groups = request::principal_entities(&caller.principal, &mut list)?;
        let slices: Vec<Arc<slice::Slice>> = targets.iter().map(|t| slice_for(loaded, caller, &groups, t)).collect();
        // Which target decides for which: tools alike in upstream and hints share a decision
        // when their slice never looks at the tool itself.
        let mut class_of: HashMap<Class<'_>, usize> = HashMap::new();
        let representative: Vec<Option<usize>> = targets
            .iter()
            .zip(&slices)
            .enumerate()
            .map(|(i, (t, s))| {
                if s.set.is_empty() {
                    return None;
                }
                if !s.by_hints {
                    return Some(i);
                }
                let class = (Arc::as_ptr(s), t.action, t.upstream, t.attrs);
                Some(*class_of.entry(class).or_insert(i))
            })
            .collect();
        let evaluated: Vec<usize> = (0..targets.len()).filter(|&i| representative[i] == Some(i)).collect();
        if evaluated.is_empty() {
            return Ok(vec![false; targets.len()]);
        }
        let mut upstreams = std::collections::HashSet::new();
        let mut seen = std::collections::HashSet::new();
        for &i in &evaluated {
            let t = &targets[i];
            if seen.insert((t.action, t.upstream, t.name)) {
                request::target_entities(t, upstreams.insert(t.upstream), &mut list)?;
            }
        }
        let entities = request::entities(list)?;
        let mut decided = vec![false; targets.len()];
        // One context per protocol: MCP's, A2A's and LLM's differ in what is unknown.
        let mut contexts: [Option<cedar_policy::Context>; 3] = [None, None, None];
        for &i in &evaluated {
            let action = targets[i].action;
            let protocol = match action {
                a if a.is_a2a() => 1,
                a if a.is_llm() => 2,
                _ => 0,
            };
            let context = match &mut contexts[protocol] {
                Some(context) => context.clone(),
                slot => slot
                    .insert(request::context(caller, action, None, None, None, None, &loaded.needs)?)
                    .clone(),
            };
            let request = cedar_request(caller, &targets[i], context)?;
            // Shown unless the policies deny it whatever the arguments are.
            decided[i] = self
                .authorizer
                .is_authorized_partial(&request, &slices[i].set, &entities)
                .decision()
                != Some(Decision::Deny);
        }
        Ok(representative.iter().map(|r| r.is_some_and(|i| decided[i])).collect())
    }
}

/// Why a request could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The arguments a policy reads cannot be given to it exactly: the caller's fault.
    Arguments(String),
    /// Anything else (an entity or context Cedar refuses): agentmux's, and a denial.
    Internal(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Arguments(e) | Self::Internal(e) => f.write_str(e),
        }
    }
}

/// Targets that get the same decision: one slice, action, upstream and attributes.
type Class<'a> = (*const slice::Slice, Action, &'a str, Attrs<'a>);

/// The policies that can apply to `target` for this caller.
fn slice_for(
    loaded: &Loaded,
    caller: &Caller,
    groups: &[cedar_policy::EntityUid],
    target: &Target<'_>,
) -> Arc<slice::Slice> {
    loaded.index.slice(&slice::Scope {
        principal: &request::principal_uid(&caller.principal),
        groups,
        action: &request::action_uid(target.action),
        resource: &request::target_uid(target),
        upstream: &request::uid("Upstream", target.upstream),
    })
}

fn cedar_request(caller: &Caller, target: &Target<'_>, context: cedar_policy::Context) -> Result<Request, String> {
    Request::new(
        request::principal_uid(&caller.principal),
        request::action_uid(target.action),
        request::target_uid(target),
        context,
        None,
    )
    .map_err(|e| e.to_string())
}

fn denial(reason: String) -> Verdict {
    Verdict {
        allowed: false,
        policies: Vec::new(),
        errors: vec![reason],
    }
}

/// What determined a response: the permits that allowed it, or the forbids that denied it.
///
/// Fail closed: Cedar skips a policy whose evaluation errors (a comparison of a string with a
/// number, say), and a skipped forbid would be an allow. So a forbid that errored denies, and
/// is named among the deciding policies; a permit that errored permits nothing, as in Cedar.
pub fn verdict(response: &Response, set: &PolicySet) -> Verdict {
    let diagnostics = response.diagnostics();
    let is_forbid = |id: &cedar_policy::PolicyId| set.policy(id).is_none_or(|p| p.effect() == Effect::Forbid);
    let mut failed_forbids: Vec<String> = diagnostics
        .errors()
        .map(|e| match e {
            cedar_policy::AuthorizationError::PolicyEvaluationError(e) => e.policy_id(),
        })
        .filter(|id| is_forbid(id))
        .map(ToString::to_string)
        .collect();
    let allowed = response.decision() == Decision::Allow && failed_forbids.is_empty();
    let mut policies: Vec<String> = diagnostics
        .reason()
        .filter(|id| {
            set.policy(id)
                .is_some_and(|p| (p.effect() == Effect::Permit) == allowed)
        })
        .map(ToString::to_string)
        .collect();
    policies.append(&mut failed_forbids);
    policies.sort();
    policies.dedup();
    let errors = diagnostics.errors().map(ToString::to_string).collect();
    Verdict {
        allowed,
        policies,
        errors,
    }
}

impl Gate for Authz {
    fn decide(&self, ask: &Ask<'_>) -> Result<Arc<Verdict>, Unreadable> {
        let loaded = self.loaded.load();
        let Some(loaded) = loaded.as_ref() else {
            return Ok(Arc::new(denial("no policy set is loaded".into())));
        };
        let key = memo::Memo::key(ask, &loaded.needs);
        if let Some(verdict) = key.as_ref().and_then(|k| loaded.memo.get(k)) {
            return Ok(verdict);
        }
        // Arguments without a declaration of their own are read by their JSON form.
        let verdict = match self.evaluate_with(loaded, ask, None, None) {
            Ok(response) => Arc::new(verdict(&response, &loaded.set)),
            // Not remembered: arguments that cannot be read are refused every time.
            Err(Problem::Arguments(reason)) => return Err(Unreadable(reason)),
            Err(Problem::Internal(reason)) => return Ok(Arc::new(denial(reason))),
        };
        if let Some(key) = key {
            loaded.memo.insert(key, Arc::clone(&verdict));
        }
        Ok(verdict)
    }

    fn visible(&self, caller: &Caller, targets: &[Target<'_>]) -> Vec<bool> {
        let loaded = self.loaded.load();
        let Some(loaded) = loaded.as_ref() else {
            return vec![false; targets.len()];
        };
        self.visible_with(loaded, caller, targets).unwrap_or_else(|e| {
            error!(error = %e, "cannot filter a list for {}; showing nothing", caller.principal);
            vec![false; targets.len()]
        })
    }

    fn loaded(&self) -> bool {
        self.loaded.load().is_some()
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
