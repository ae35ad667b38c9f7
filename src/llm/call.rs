//! One model call: read the body once, resolve the model name, ask the policies (a virtual
//! model first, then each provider model it may reach), and forward to the allowed candidates
//! that speak the API. Refusals come in the called API's own error shape; a denied model reads
//! like one that does not exist unless `authz.denied: forbidden`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::Llm;
use super::api::{self, Api};
use super::guards::{AnswerGuard, Asking, Blocked, Stop};
use super::limits::{Charge, Over, Refusal};
use super::prompts;
use super::record::Ended;
use super::record::{Call, Outcome};
use super::relay;
use super::request::{self, Inbound};
use super::route::{self, Candidate, Route};
use super::tokens::Encoding;
use crate::authz::{Action, Ask, Caller, ModelCall, Target, Verdict};
use crate::config::Denied;
use crate::identity::Requester;

pub async fn chat(state: State<Arc<Llm>>, who: Requester, headers: HeaderMap, body: Body) -> Response {
    run(state.0, Api::Chat, who, headers, body).await
}

pub async fn responses(state: State<Arc<Llm>>, who: Requester, headers: HeaderMap, body: Body) -> Response {
    run(state.0, Api::Responses, who, headers, body).await
}

pub async fn embeddings(state: State<Arc<Llm>>, who: Requester, headers: HeaderMap, body: Body) -> Response {
    run(state.0, Api::Embeddings, who, headers, body).await
}

pub async fn messages(state: State<Arc<Llm>>, who: Requester, headers: HeaderMap, body: Body) -> Response {
    run(state.0, Api::Messages, who, headers, body).await
}

pub async fn count_tokens(state: State<Arc<Llm>>, who: Requester, headers: HeaderMap, body: Body) -> Response {
    run(state.0, Api::CountTokens, who, headers, body).await
}

/// The caller as policies see it.
pub fn caller(who: &Requester, endpoint: &str) -> Caller {
    Caller {
        principal: Arc::clone(&who.principal),
        endpoint: endpoint.into(),
        // Policies read `context.version` and `era` as "" for model calls.
        version: "",
        client_ip: who.client_ip,
    }
}

fn endpoint(api: Api) -> &'static str {
    match api {
        Api::Chat => "/v1/chat/completions",
        Api::Responses => "/v1/responses",
        Api::Embeddings => "/v1/embeddings",
        Api::Messages => "/v1/messages",
        Api::CountTokens => "/v1/messages/count_tokens",
    }
}

async fn run(llm: Arc<Llm>, api: Api, who: Requester, headers: HeaderMap, body: Body) -> Response {
    let family = api.family();
    let Ok(body) = axum::body::to_bytes(body, llm.max_body_bytes).await else {
        let message = format!(
            "the request body is over {} bytes (server.max_body_bytes)",
            llm.max_body_bytes
        );
        return api::error(family, StatusCode::PAYLOAD_TOO_LARGE, &message);
    };
    let mut inbound = match request::read(api, &body) {
        Ok(inbound) => inbound,
        Err(problem) => return api::error(family, StatusCode::BAD_REQUEST, &problem),
    };
    let caller = caller(&who, endpoint(api));
    let call = Call {
        caller: &caller,
        api: api.id(),
        model: &inbound.model,
    };
    let unknown = || {
        api::error(
            family,
            StatusCode::NOT_FOUND,
            &format!(
                "The model `{}` does not exist or you do not have access to it.",
                inbound.model
            ),
        )
    };
    let Some(route) = route::resolve(&inbound.model, &llm.providers, &llm.virtual_models) else {
        return unknown();
    };
    if llm.count_tokens
        && let Some(first) = route.first()
        && let Some(encoding) = Encoding::of(first.provider.spec.kind, &first.model)
    {
        inbound.estimated_tokens = encoding.count(&inbound.body) + inbound.max_tokens;
    }
    let ask = ModelCall {
        api: api.id(),
        stream: inbound.stream,
        estimated_tokens: inbound.estimated_tokens,
        max_tokens: inbound.max_tokens,
        tools: inbound.tools,
    };
    let candidates = match route {
        Route::Direct(candidate) => vec![candidate],
        Route::Virtual(name, candidates) => {
            let resource = format!("Model::{name:?}");
            if let Some(verdict) = llm.decide(&caller, Target::virtual_model(&name), ask)
                && !verdict.allowed
            {
                call.write(&llm.security.audit, &resource, Some(&verdict), None, None);
                return llm.denied(family, &inbound.model);
            }
            candidates
        }
    };
    let mut allowed = Vec::with_capacity(candidates.len());
    let mut denied_any = false;
    for candidate in candidates {
        let provider = candidate.provider.spec.kind.id();
        let target = Target::model(candidate.provider.name(), &candidate.model, provider);
        let verdict = llm.decide(&caller, target, ask);
        match verdict {
            Some(verdict) if !verdict.allowed => {
                denied_any = true;
                let resource = format!("Model::{:?}", candidate.full_name());
                call.write(&llm.security.audit, &resource, Some(&verdict), None, None);
            }
            _ => allowed.push(candidate),
        }
    }
    if allowed.is_empty() {
        return if denied_any {
            llm.denied(family, &inbound.model)
        } else {
            unknown()
        };
    }
    let (speaking, other): (Vec<Candidate>, Vec<Candidate>) = allowed
        .into_iter()
        .partition(|c| c.provider.speaks(api) || relay::translation(api, c).is_some());
    if speaking.is_empty() {
        let kinds: Vec<&str> = other.iter().map(|c| c.provider.spec.kind.id()).collect();
        let message = format!(
            "`{}` is served by {} provider(s), which {} does not reach (no translation between those APIs)",
            inbound.model,
            kinds.join(", "),
            endpoint(api)
        );
        return api::error(family, StatusCode::BAD_REQUEST, &message);
    }
    let charge = match llm
        .limits
        .admit(&who.principal, &inbound.model, inbound.estimated_tokens)
        .await
    {
        Ok(charge) => charge,
        Err(Refusal::Over(over)) => {
            let resource = format!("Model::{:?}", inbound.model);
            let reason = format!("limit `{}`", over.limit);
            call.write(&llm.security.audit, &resource, None, Some(&reason), None);
            return too_many(family, &over);
        }
        Err(Refusal::Unavailable(problem)) => {
            tracing::error!(%problem, "LLM rate limits could not be checked; refusing");
            let resource = format!("Model::{:?}", inbound.model);
            call.write(
                &llm.security.audit,
                &resource,
                None,
                Some("rate limits could not be checked"),
                None,
            );
            let message = "rate limits could not be checked; try again";
            return api::error(family, StatusCode::SERVICE_UNAVAILABLE, message);
        }
    };
    // Guards and prompts name models as clients do: the name asked for, or any it may reach.
    let mut names = vec![inbound.model.clone()];
    names.extend(speaking.iter().map(Candidate::full_name));
    let asking = Asking {
        models: &names,
        model: &inbound.model,
        api: api.id(),
        principal: &who.principal,
    };
    let masked = match llm.guards.request(&asking, &mut inbound.body).await {
        Ok(masked) => masked,
        Err(blocked) => {
            let (status, reason, message) = refusal(blocked);
            let resource = format!("Model::{:?}", inbound.model);
            call.write(&llm.security.audit, &resource, None, Some(&reason), None);
            llm.limits.settle(charge, Some(0)).await;
            return api::error(family, status, &message);
        }
    };
    prompts::apply(&llm.prompts, &names, api, &mut inbound.body);
    let answers = llm.guards.answers(&names);
    forward(
        &llm,
        api,
        &caller,
        speaking,
        &mut inbound,
        &headers,
        Admitted {
            charge,
            answers,
            masked,
        },
    )
    .await
}

/// A request a guard stopped: its status, the audit line's reason, the client's message. A
/// webhook that could not decide is not the client's fault: 503, as when limits cannot be read.
fn refusal(blocked: Blocked) -> (StatusCode, String, String) {
    let blocked_by = |guard: &str| format!("the request was blocked by guard `{guard}`");
    match blocked {
        Blocked::Rejected(guard) | Blocked::Webhook(Stop::Denied { guard, reason: None }) => {
            (StatusCode::BAD_REQUEST, format!("guard `{guard}`"), blocked_by(&guard))
        }
        Blocked::Webhook(Stop::Denied {
            guard,
            reason: Some(reason),
        }) => (
            StatusCode::BAD_REQUEST,
            format!("guard `{guard}`: {reason}"),
            format!("{}: {reason}", blocked_by(&guard)),
        ),
        // The problem (an address, a status) stays in the audit log and is not the client's.
        Blocked::Webhook(Stop::Undecided { guard, problem }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("guard `{guard}` could not decide: {problem}"),
            format!("{}: it could not decide; try again", blocked_by(&guard)),
        ),
    }
}

/// What an admitted request carries to its answer: the tokens it was charged, the guards its
/// answer passes.
struct Admitted {
    charge: Charge,
    answers: Option<AnswerGuard>,
    /// The guards that masked the request's text.
    masked: Vec<String>,
}

/// 429 in the API's shape, with `retry-after` and the API's own rate-limit headers.
fn too_many(family: api::Family, over: &Over) -> Response {
    let mut response = api::error(family, StatusCode::TOO_MANY_REQUESTS, &over.message);
    let reset = over.retry_after;
    let mut set = |name: String, value: String| {
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(name), http::HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    };
    set("retry-after".into(), reset.to_string());
    match family {
        api::Family::OpenAi => {
            set(format!("x-ratelimit-limit-{}", over.kind), over.allowed.to_string());
            set(
                format!("x-ratelimit-remaining-{}", over.kind),
                over.remaining.to_string(),
            );
            set(format!("x-ratelimit-reset-{}", over.kind), format!("{reset}s"));
        }
        api::Family::Anthropic => {
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                + reset;
            set(
                format!("anthropic-ratelimit-{}-limit", over.kind),
                over.allowed.to_string(),
            );
            set(
                format!("anthropic-ratelimit-{}-remaining", over.kind),
                over.remaining.to_string(),
            );
            set(
                format!("anthropic-ratelimit-{}-reset", over.kind),
                crate::audit::rfc3339(at as i64, 0),
            );
        }
    }
    response
}

async fn forward(
    llm: &Arc<Llm>,
    api: Api,
    caller: &Caller,
    candidates: Vec<Candidate>,
    inbound: &mut Inbound,
    headers: &HeaderMap,
    admitted: Admitted,
) -> Response {
    let Admitted {
        charge,
        answers,
        masked,
    } = admitted;
    let started = Instant::now();
    let audit = Arc::clone(&llm.security.audit);
    let limits = Arc::clone(&llm.limits);
    let prices = Arc::clone(&llm.prices);
    // Metric labels stay bounded: a model an entry passes through by any name is `<entry>/*`.
    let listed = candidates
        .iter()
        .all(|c| c.provider.spec.models != crate::config::ModelSet::Any);
    let wildcard = candidates
        .first()
        .map_or_else(String::new, |c| format!("{}/*", c.provider.name()));
    let caller = caller.clone();
    let model = inbound.model.clone();
    let on_end = Box::new(move |mut ended: Ended| {
        let mut masked = masked;
        for name in std::mem::take(&mut ended.masked) {
            if !masked.contains(&name) {
                masked.push(name);
            }
        }
        let call = Call {
            caller: &caller,
            api: api.id(),
            model: &model,
        };
        let resource = match &ended.served_by {
            Some(served) => format!("Model::{served:?}"),
            None => format!("Model::{model:?}"),
        };
        let cost_usd = ended
            .served_by
            .as_ref()
            .and_then(|served| prices.get(served))
            .map(|price| price.cost(ended.usage.tokens_in, ended.usage.tokens_out));
        let outcome = Outcome {
            served_by: ended.served_by.as_deref(),
            status: ended.status,
            usage: ended.usage,
            cost_usd,
            ms: started.elapsed().as_secs_f64() * 1e3,
            hops: &ended.hops,
            masked: &masked,
        };
        call.write(&audit, &resource, None, None, Some(outcome));
        if let (Some(served), Some(provider)) = (&ended.served_by, ended.provider) {
            crate::metrics::metrics().model_call(&crate::metrics::ModelCallMetrics {
                operation: api.operation(),
                provider,
                model: if listed { served } else { &wildcard },
                group: caller.principal.groups.first().map_or("", String::as_str),
                tokens_in: ended.usage.tokens_in,
                tokens_out: ended.usage.tokens_out,
                took: started.elapsed(),
                first_token: ended.first_token,
                cost_usd,
            });
        }
        // Nothing served: nothing used. Served without a usage read: the estimate stands.
        let used = match (&ended.served_by, ended.usage) {
            (None, _) => Some(0),
            (Some(_), usage) if usage.tokens_in + usage.tokens_out > 0 => Some(usage.tokens_in + usage.tokens_out),
            _ => None,
        };
        tokio::spawn(async move { limits.settle(charge, used).await });
    });
    let strip_usage = ask_for_usage(api, inbound);
    let relaying = relay::Relaying {
        started,
        strip_usage,
        answers,
        retries: llm.retries,
    };
    relay::forward(api, &candidates, inbound, headers, relaying, on_end).await
}

/// A streamed chat completion reports its usage only when asked (`stream_options.include_usage`):
/// agentmux asks, to charge and audit it, and `true` when the client had not (its usage chunk is
/// then kept from it).
fn ask_for_usage(api: Api, inbound: &mut Inbound) -> bool {
    if api != Api::Chat || !inbound.stream {
        return false;
    }
    let options = inbound
        .body
        .entry("stream_options")
        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    let Some(options) = options.as_object_mut() else {
        // Not an object: the provider will say what it thinks of it.
        return false;
    };
    let asked = options.get("include_usage").and_then(serde_json::Value::as_bool) == Some(true);
    options.insert("include_usage".into(), serde_json::Value::Bool(true));
    !asked
}

impl Llm {
    /// Decides `call_model` on a model; `None` when no policies are configured.
    fn decide(&self, caller: &Caller, target: Target<'_>, ask: ModelCall<'_>) -> Option<Arc<Verdict>> {
        let gate = self.security.gate.as_ref()?;
        let verdict = gate
            .decide(&Ask {
                caller,
                target,
                arguments: None,
                method: None,
                llm: Some(ask),
            })
            .unwrap_or_else(|e| {
                Arc::new(Verdict {
                    allowed: false,
                    policies: Vec::new(),
                    errors: vec![e.0],
                })
            });
        crate::metrics::metrics().decision(Action::CallModel.id(), verdict.allowed);
        Some(verdict)
    }

    fn denied(&self, family: api::Family, model: &str) -> Response {
        match self.security.denied {
            Denied::Forbidden => api::error(
                family,
                StatusCode::FORBIDDEN,
                &format!("You are not allowed to use the model `{model}`."),
            ),
            _ => api::error(
                family,
                StatusCode::NOT_FOUND,
                &format!("The model `{model}` does not exist or you do not have access to it."),
            ),
        }
    }
}
