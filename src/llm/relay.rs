//! Sending a request to the candidates in turn, and the answer back to the client. A candidate
//! that cannot be reached, does not answer in time, or answers 429 or 5xx is passed over while
//! another remains (nothing has reached the client yet); the last one's answer is the client's,
//! whatever it is. A candidate whose provider speaks another API gets the request translated,
//! and its answer is translated back. A JSON answer is relayed whole; an event stream event by
//! event as each arrives (`stream.rs`).

use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Map, Value};

use super::api::{self, Api};
use super::guards::{AnswerGuard, Rejected};
use super::record::{Ended, Hop, OnEnd, Usage};
use super::request::Inbound;
use super::retry::{Plan, retry_after, retry_delay_in_body};
use super::route::Candidate;
use super::stream::{self, Framing, Shape};
use super::translate::{self, Way};
use crate::config::{ProviderKind, Retries};
use crate::egress::http_client::{self, describe, read_prefix};

/// The largest JSON answer read from a provider.
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;
/// Response headers a client may need: request ids and rate-limit state.
const PASSED_HEADERS: [&str; 4] = ["retry-after", "x-request-id", "request-id", "openai-processing-ms"];

/// How an answer goes back.
pub struct Relaying {
    /// When the request came in.
    pub started: Instant,
    /// The usage chunk of an OpenAI stream was asked for by agentmux, not by the client, and
    /// does not reach it.
    pub strip_usage: bool,
    /// The guards the answer's text passes.
    pub answers: Option<AnswerGuard>,
    pub retries: Retries,
}

/// Tries `candidates` in order; the response the client gets.
pub async fn forward(
    api: Api,
    candidates: &[Candidate],
    inbound: &mut Inbound,
    client: &HeaderMap,
    relaying: Relaying,
    on_end: OnEnd,
) -> Response {
    let family = api.family();
    let mut hops = Vec::new();
    let mut plan = Plan::new(candidates.len(), relaying.retries, relaying.started);
    let mut next = (!candidates.is_empty()).then_some(0);
    while let Some(index) = next {
        let candidate = &candidates[index];
        plan.made += 1;
        let provider = &candidate.provider;
        let started = Instant::now();
        let way = translation(api, candidate);
        let stream = inbound.stream;
        let outbound = match way {
            None => provider.request(api, stream, &candidate.model, &mut inbound.body, client),
            Some(way) => {
                let mut body = inbound.body.clone();
                body.insert("model".into(), Value::String(candidate.model.clone()));
                match translate::request(way, &body) {
                    Ok(mut translated) => {
                        provider.request(provider_api(way), stream, &candidate.model, &mut translated, client)
                    }
                    Err(problem) => {
                        // The client's request, not the provider: no other candidate does better
                        // with what cannot be said in its API.
                        let message = format!("`{}` cannot take this request: {problem}", candidate.full_name());
                        on_end(Ended::unserved(hops));
                        return api::error(family, StatusCode::BAD_REQUEST, &message);
                    }
                }
            }
        };
        let outbound = match outbound {
            Ok(outbound) => outbound,
            Err(problem) => {
                tracing::error!(model = %candidate.full_name(), %problem, "LLM request could not be prepared");
                hops.push(Hop::new(candidate, started, problem));
                next = plan.after(index, None);
                continue;
            }
        };
        let timeouts = provider.spec.timeouts;
        let http = match http_client::on_this_thread(&timeouts) {
            Ok(http) => http,
            Err(e) => {
                hops.push(Hop::new(candidate, started, e.to_string()));
                next = plan.after(index, None);
                continue;
            }
        };
        // The budget says whether a try starts, not how long a started one may take: a
        // reasoning model's whole answer can take longer than any retry budget.
        let first_byte = timeouts.first_byte;
        let send = http
            .post(outbound.url)
            .headers(outbound.headers)
            .header(header::CONTENT_TYPE, "application/json")
            .body(outbound.body)
            .send();
        let response = match tokio::time::timeout(first_byte, send).await {
            Err(_) => Err(format!("no answer within {first_byte:?}")),
            Ok(Err(e)) => Err(describe(&e)),
            Ok(Ok(response)) => Ok(response),
        };
        let response = match response {
            Ok(response) => response,
            Err(problem) => {
                tracing::warn!(model = %candidate.full_name(), %problem, "LLM provider failed; trying the next");
                provider.health.failed();
                hops.push(Hop::new(candidate, started, problem));
                next = plan.after(index, None);
                continue;
            }
        };
        let status = response.status();
        let refused = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
        if refused {
            provider.health.failed();
            let after = retry_after(response.headers());
            if let Some(after) = after {
                provider.health.rest(after);
            }
            if let Some(then) = plan.after(index, after) {
                tracing::warn!(model = %candidate.full_name(), status = status.as_u16(), "LLM provider refused; trying again");
                hops.push(Hop::new(candidate, started, status.as_u16().to_string()));
                if then == 0
                    && let Some(after) = after
                {
                    tokio::time::sleep(after).await;
                }
                next = Some(then);
                continue;
            }
        } else {
            // The client's own mistakes (other 4xx) say nothing against the provider.
            provider.health.succeeded(started.elapsed());
        }
        let mut headers = HeaderMap::new();
        passed_headers(response.headers(), &mut headers);
        let framing = Framing::of(&response).filter(|_| status.is_success());
        let name = candidate.full_name();
        let ended = |hops| Ended {
            hops,
            served_by: Some(name.clone()),
            provider: Some(provider.spec.kind.id()),
            status: status.as_u16(),
            usage: Usage::default(),
            first_token: None,
            masked: Vec::new(),
        };
        let Some(framing) = framing else {
            hops.push(Hop::new(candidate, started, status.as_u16().to_string()));
            let base64 = inbound.body.get("encoding_format").and_then(Value::as_str) == Some("base64");
            let answer = Answer {
                family,
                model: name.clone(),
                asked_as: &inbound.model,
                request: &inbound.body,
                base64,
                total: timeouts.total,
                way,
                guard: relaying.answers,
                headers,
            };
            return whole(response, answer, ended(hops), on_end).await;
        };
        // Nothing has reached the client until the stream's first bytes have come: a stream
        // that breaks off, ends or stalls before them is a failure like any other.
        let mut bytes = Box::pin(response.bytes_stream());
        let wait = first_byte;
        let first = match tokio::time::timeout(wait, bytes.next()).await {
            Ok(Some(Ok(first))) => first,
            outcome => {
                let problem = match outcome {
                    Ok(Some(Err(e))) => format!("the stream broke off before its first byte: {}", describe(&e)),
                    Ok(None) => "the stream ended before its first byte".to_string(),
                    _ => format!("no stream byte within {wait:?}"),
                };
                tracing::warn!(model = %name, %problem, "LLM provider failed; trying the next");
                provider.health.failed();
                hops.push(Hop::new(candidate, started, problem));
                next = plan.after(index, None);
                continue;
            }
        };
        hops.push(Hop::new(candidate, started, status.as_u16().to_string()));
        let shape = Shape {
            family,
            model: name.clone(),
            total: timeouts.total,
            started: relaying.started,
            strip_usage: relaying.strip_usage,
            // The client's own usage chunk, when it asked for one.
            translator: way
                .map(|way| translate::Stream::new(way, &inbound.model, !relaying.strip_usage, &inbound.body)),
            guard: relaying.answers.map(AnswerGuard::stream),
        };
        let bytes = futures_util::stream::iter([Ok(first)]).chain(bytes);
        return stream::relay(bytes, framing, headers, shape, ended(hops), on_end);
    }
    let message = match hops.last() {
        Some(hop) => format!(
            "no provider could serve the request; last: {} ({})",
            hop.model, hop.outcome
        ),
        None => "no provider could serve the request".to_string(),
    };
    on_end(Ended::unserved(hops));
    api::error(family, StatusCode::BAD_GATEWAY, &message)
}

/// How `candidate` is reached for `api`: as it is (`None`), or through a translation when its
/// provider speaks the other of OpenAI's chat completions and Anthropic's messages, or its own
/// API (Gemini, Bedrock Converse). Responses requests reach providers that do not speak them
/// through chat.
pub fn translation(api: Api, candidate: &Candidate) -> Option<Way> {
    let provider = &candidate.provider;
    if provider.speaks(api) {
        return None;
    }
    match (api, provider.spec.kind) {
        (Api::Chat, ProviderKind::Gemini) => Some(Way::ChatToGemini),
        (Api::Messages, ProviderKind::Gemini) => Some(Way::MessagesToGemini),
        (Api::Embeddings, ProviderKind::Gemini) => Some(Way::EmbeddingsToGemini),
        (Api::CountTokens, ProviderKind::Gemini) => Some(Way::CountTokensToGemini),
        (Api::Chat, ProviderKind::Bedrock) => Some(Way::ChatToConverse),
        (Api::Messages, ProviderKind::Bedrock) => Some(Way::MessagesToConverse),
        (Api::Chat, _) if provider.speaks(Api::Messages) => Some(Way::ChatToMessages),
        (Api::Messages, _) if provider.speaks(Api::Chat) => Some(Way::MessagesToChat),
        (Api::Responses, ProviderKind::Gemini) => Some(Way::ResponsesToGemini),
        (Api::Responses, ProviderKind::Bedrock) => Some(Way::ResponsesToConverse),
        (Api::Responses, _) if provider.speaks(Api::Messages) => Some(Way::ResponsesToMessages),
        (Api::Responses, _) if provider.speaks(Api::Chat) => Some(Way::ResponsesToChat),
        _ => None,
    }
}

/// The API a translated request is sent in (for Gemini and Bedrock: generation or embeddings).
fn provider_api(way: Way) -> Api {
    match way {
        Way::ChatToMessages | Way::ResponsesToMessages => Api::Messages,
        Way::EmbeddingsToGemini => Api::Embeddings,
        Way::CountTokensToGemini => Api::CountTokens,
        Way::MessagesToChat
        | Way::ChatToGemini
        | Way::MessagesToGemini
        | Way::ChatToConverse
        | Way::MessagesToConverse
        | Way::ResponsesToChat
        | Way::ResponsesToGemini
        | Way::ResponsesToConverse => Api::Chat,
    }
}

/// The provider's headers that go back to the client.
fn passed_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        let name_text = name.as_str();
        if PASSED_HEADERS.contains(&name_text)
            || name_text.starts_with("x-ratelimit-")
            || name_text.starts_with("anthropic-ratelimit-")
        {
            to.insert(name.clone(), value.clone());
        }
    }
}

/// A whole answer on its way back: whose it is, how long it may take, and what it passes.
struct Answer<'a> {
    family: api::Family,
    /// `<entry>/<model>`.
    model: String,
    /// The model as the client named it (a translated answer names it so).
    asked_as: &'a str,
    /// The client's request (a translated Responses answer echoes its settings).
    request: &'a Map<String, Value>,
    /// The client asked for embeddings in base64.
    base64: bool,
    total: Duration,
    way: Option<Way>,
    guard: Option<AnswerGuard>,
    headers: HeaderMap,
}

async fn whole(response: reqwest::Response, answer: Answer<'_>, mut ended: Ended, on_end: OnEnd) -> Response {
    let Answer {
        family,
        model,
        asked_as,
        request,
        base64,
        total,
        way,
        guard,
        headers,
    } = answer;
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let error_type = aws_error_type(response.headers());
    let mut body = match tokio::time::timeout(total, read_prefix(response, MAX_ANSWER_BYTES)).await {
        Ok(Ok((body, false))) => body,
        Ok(Ok((_, true))) => {
            return fail(
                family,
                ended,
                on_end,
                format!("`{model}` answered more than {MAX_ANSWER_BYTES} bytes"),
            );
        }
        Ok(Err(e)) => return fail(family, ended, on_end, format!("`{model}`: {}", describe(&e))),
        Err(_) => {
            return fail(
                family,
                ended,
                on_end,
                format!("`{model}` did not finish its answer within {total:?}"),
            );
        }
    };
    let mut value = serde_json::from_slice::<Value>(&body).ok();
    if let Some(value) = &value {
        ended.usage.read(value);
    }
    let mut headers = headers;
    if status == StatusCode::TOO_MANY_REQUESTS
        && !headers.contains_key(header::RETRY_AFTER)
        && let Some(delay) = value.as_ref().and_then(retry_delay_in_body)
    {
        // The client's SDK backs off on `retry-after`; Gemini says it only in its body.
        let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(way) = way {
        if status.is_success() {
            let Some(answer) = &value else {
                return fail(
                    family,
                    ended,
                    on_end,
                    format!("`{model}` answered with something that is not JSON"),
                );
            };
            let mut translated = translate::response(way, answer, asked_as, request);
            if base64 && way == Way::EmbeddingsToGemini {
                translate::embeddings_as_base64(&mut translated);
            }
            body = serde_json::to_vec(&translated).unwrap_or_default();
            value = Some(translated);
        } else {
            body = translate::error(way, status.as_u16(), error_type.as_deref(), &body);
        }
    }
    if let (Some(guard), Some(value)) = (guard.filter(|_| status.is_success()), value.as_mut()) {
        match guard.whole(value) {
            Ok(masked) if masked.is_empty() => {}
            Ok(masked) => {
                ended.masked.extend(masked);
                body = serde_json::to_vec(value).unwrap_or_default();
            }
            Err(Rejected(name)) => {
                return fail(
                    family,
                    ended,
                    on_end,
                    format!("the answer of `{model}` was withheld by guard `{name}`"),
                );
            }
        }
    }
    on_end(ended);
    let mut out = (status, body).into_response();
    *out.headers_mut() = headers;
    let json = HeaderValue::from_static("application/json");
    let content_type = if way.is_some() {
        json
    } else {
        content_type.unwrap_or(json)
    };
    out.headers_mut().insert(header::CONTENT_TYPE, content_type);
    out
}

/// Bedrock's error type (`x-amzn-ErrorType: ThrottlingException:http://…`), its name only.
fn aws_error_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-amzn-errortype")?.to_str().ok()?;
    Some(value.split(':').next().unwrap_or(value).to_string())
}

fn fail(family: api::Family, mut ended: Ended, on_end: OnEnd, message: String) -> Response {
    ended.status = StatusCode::BAD_GATEWAY.as_u16();
    on_end(ended);
    api::error(family, StatusCode::BAD_GATEWAY, &message)
}
