//! Prompt guards (`llm.guards`): recognizers of what may not pass (card numbers that pass the
//! Luhn check, e-mail addresses, IBANs that pass mod 97, API-key shapes, US social security
//! numbers, or a regex) applied to the text of requests and of answers, whole or streamed. A
//! guard rejects (the request or answer is refused, named by the guard, never by what it found)
//! or masks (each finding becomes `[REDACTED:<guard>]`).
//!
//! Webhook guards (`webhook.rs`) ask a service about each request, after the recognizers.
//!
//! A streamed answer is guarded as it passes: the text of each delta is held back only as far as
//! a finding could still be growing (`HOLD` bytes), so the client reads the answer while it is
//! written, and a finding split across deltas is still found.

use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::config::{Builtin, Guard, GuardAction, Recognizer, WebhookGuard};
use crate::egress::EgressError;

mod webhook;

use webhook::Webhook;
pub use webhook::{Asking, Stop};

/// The longest finding a streamed answer holds back for (IBANs run to 34 characters, spaced
/// ones to 42; keys to ~100).
const HOLD: usize = 128;

/// Request fields whose text is guarded, and keys inside them that are not text a person wrote
/// (image payloads, signatures of thinking blocks).
const REQUEST_FIELDS: [&str; 6] = ["messages", "system", "input", "prompt", "instructions", "tools"];
const NOT_TEXT: [&str; 5] = ["data", "url", "signature", "id", "tool_call_id"];

pub struct Guards {
    guards: Vec<Guard>,
    webhooks: Vec<Webhook>,
}

/// A guard's rejection: its name (the finding itself is never repeated).
pub struct Rejected(pub String);

/// Why a request does not go on.
pub enum Blocked {
    /// A recognizer guard that rejects found something.
    Rejected(String),
    /// A webhook guard denied it or could not decide.
    Webhook(Stop),
}

impl Guards {
    pub fn new(guards: Vec<Guard>, webhooks: &[WebhookGuard]) -> Result<Self, EgressError> {
        let webhooks = webhooks.iter().map(Webhook::new).collect::<Result<_, _>>()?;
        Ok(Self { guards, webhooks })
    }

    /// The guards for a request that names `models` (as the client named it, and every model it
    /// may reach: a guard on any of them applies).
    fn applying(&self, models: &[String], response: bool) -> Vec<&Guard> {
        self.guards
            .iter()
            .filter(|g| if response { g.on_response } else { g.on_request })
            .filter(|g| g.models.is_empty() || g.models.iter().any(|m| models.contains(m)))
            .collect()
    }

    /// Guards a request body in place: recognizers first (masked findings rewritten), then each
    /// webhook guard that applies, in config order (each sees the body as the ones before left
    /// it). The names of the guards that masked something, or why the request stops.
    pub async fn request(&self, asking: &Asking<'_>, body: &mut Map<String, Value>) -> Result<Vec<String>, Blocked> {
        let masked = self
            .recognize(asking.models, body)
            .map_err(|Rejected(guard)| Blocked::Rejected(guard))?;
        if self.webhooks.iter().any(|w| w.applies(asking.models)) {
            // Boxed so that a request no webhook applies to carries no network future in its
            // state, and pays nothing here.
            Box::pin(self.ask_webhooks(asking, body))
                .await
                .map_err(Blocked::Webhook)?;
        }
        Ok(masked)
    }

    async fn ask_webhooks(&self, asking: &Asking<'_>, body: &mut Map<String, Value>) -> Result<(), Stop> {
        for webhook in self.webhooks.iter().filter(|w| w.applies(asking.models)) {
            webhook.check(asking, body).await?;
        }
        Ok(())
    }

    /// The recognizer guards on a request body, in place.
    fn recognize(&self, models: &[String], body: &mut Map<String, Value>) -> Result<Vec<String>, Rejected> {
        let guards = self.applying(models, false);
        if guards.is_empty() {
            return Ok(Vec::new());
        }
        let mut masked = Vec::new();
        for field in REQUEST_FIELDS {
            if let Some(value) = body.get_mut(field) {
                walk(value, &mut |text| apply(&guards, text, &mut masked))?;
            }
        }
        Ok(masked)
    }

    /// The guards on answers for a request naming `models`; `None` when there are none.
    pub fn answers(&self, models: &[String]) -> Option<AnswerGuard> {
        let guards: Vec<Guard> = self.applying(models, true).into_iter().cloned().collect();
        (!guards.is_empty()).then_some(AnswerGuard { guards })
    }
}

/// The guards one request's answer passes.
pub struct AnswerGuard {
    guards: Vec<Guard>,
}

impl AnswerGuard {
    /// Guards a whole answer in place: the text under `content` and `text` keys (chat messages,
    /// Anthropic content blocks, Responses output) and the tool calls it asks for.
    pub fn whole(&self, answer: &mut Value) -> Result<Vec<String>, Rejected> {
        let guards: Vec<&Guard> = self.guards.iter().collect();
        let mut masked = Vec::new();
        answer_text(answer, &mut |text| apply(&guards, text, &mut masked))?;
        Ok(masked)
    }

    /// A guard for the answer as a stream.
    pub fn stream(self) -> StreamGuard {
        StreamGuard {
            guards: self.guards,
            pending: Vec::new(),
            masked: Vec::new(),
        }
    }
}

/// Every string in `value` outside keys that hold no prose.
fn walk(value: &mut Value, f: &mut impl FnMut(&mut String) -> Result<(), Rejected>) -> Result<(), Rejected> {
    match value {
        Value::String(text) => f(text),
        Value::Array(items) => items.iter_mut().try_for_each(|v| walk(v, f)),
        Value::Object(map) => map
            .iter_mut()
            .filter(|(k, _)| !NOT_TEXT.contains(&k.as_str()))
            .try_for_each(|(_, v)| walk(v, f)),
        _ => Ok(()),
    }
}

/// The strings under `content` or `text` keys of an answer, however deep, and the strings of the
/// tool calls it asks for: OpenAI's `arguments` (JSON text: its strings, so a mask keeps it
/// JSON) and Anthropic's `input` (an object).
fn answer_text(value: &mut Value, f: &mut impl FnMut(&mut String) -> Result<(), Rejected>) -> Result<(), Rejected> {
    match value {
        Value::Array(items) => items.iter_mut().try_for_each(|v| answer_text(v, f)),
        Value::Object(map) => map.iter_mut().try_for_each(|(k, v)| match (k.as_str(), v) {
            ("content" | "text", Value::String(text)) => f(text),
            ("arguments", Value::String(text)) => arguments(text, f),
            ("input", input @ Value::Object(_)) => walk(input, f),
            (_, v) => answer_text(v, f),
        }),
        _ => Ok(()),
    }
}

/// A tool call's JSON arguments, guarded string by string and written again only when a mask
/// changed one; text that is not JSON is guarded as it is.
fn arguments(text: &mut String, f: &mut impl FnMut(&mut String) -> Result<(), Rejected>) -> Result<(), Rejected> {
    let Ok(mut parsed) = serde_json::from_str::<Value>(text) else {
        return f(text);
    };
    let mut changed = false;
    walk(&mut parsed, &mut |s| {
        let before = s.clone();
        f(s)?;
        changed |= *s != before;
        Ok(())
    })?;
    if changed {
        *text = parsed.to_string();
    }
    Ok(())
}

/// Applies `guards` to one text: `Err` for a rejecting guard that finds something, else every
/// masking guard's findings replaced.
fn apply(guards: &[&Guard], text: &mut String, masked: &mut Vec<String>) -> Result<(), Rejected> {
    for guard in guards {
        let found = findings(&guard.recognizer, text);
        if found.is_empty() {
            continue;
        }
        if guard.action == GuardAction::Reject {
            return Err(Rejected(guard.name.clone()));
        }
        *text = mask(text, &found, &guard.name);
        if !masked.contains(&guard.name) {
            masked.push(guard.name.clone());
        }
    }
    Ok(())
}

fn mask(text: &str, found: &[Range<usize>], name: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for range in found {
        out.push_str(&text[at..range.start]);
        out.push_str("[REDACTED:");
        out.push_str(name);
        out.push(']');
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where `recognizer` finds something in `text`, in order, not overlapping.
fn findings(recognizer: &Recognizer, text: &str) -> Vec<Range<usize>> {
    match recognizer {
        Recognizer::Regex(regex) => regex.find_iter(text).map(|m| m.range()).collect(),
        Recognizer::Builtin(builtin) => {
            let (regex, valid) = builtin_pattern(*builtin);
            regex
                .find_iter(text)
                .filter(|m| valid(m.as_str()))
                .map(|m| m.range())
                .collect()
        }
    }
}

type Check = fn(&str) -> bool;

fn builtin_pattern(builtin: Builtin) -> (&'static Regex, Check) {
    static PATTERNS: OnceLock<[Regex; 5]> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()));
        [
            compile(r"\b\d(?:[ -]?\d){12,18}\b"),
            compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
            compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"),
            compile(
                r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|xox[abposr]-[A-Za-z0-9-]{10,})",
            ),
            compile(r"\b\d{3}-\d{2}-\d{4}\b"),
        ]
    });
    match builtin {
        Builtin::CreditCard => (&patterns[0], luhn),
        Builtin::Email => (&patterns[1], |_| true),
        Builtin::Iban => (&patterns[2], iban),
        Builtin::ApiKey => (&patterns[3], |_| true),
        Builtin::UsSsn => (&patterns[4], ssn),
    }
}

/// A card number: 13 to 19 digits whose Luhn checksum holds.
fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// An IBAN: country, check digits and account, whose mod-97 check (ISO 13616) gives 1.
fn iban(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u64 = 0;
    for c in tail.chars().chain(head.chars()) {
        let value = match c.to_digit(36) {
            Some(v) => v as u64,
            None => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// A US SSN as the SSA issues them: no area 000, 666 or 9xx, no group 00, no serial 0000.
fn ssn(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [area, group, serial] = parts.as_slice() else {
        return false;
    };
    !(*area == "000" || *area == "666" || area.starts_with('9') || *group == "00" || *serial == "0000")
}

/// One streamed answer's guard: text deltas pass as they come, less what a finding could still
/// be growing into; that rest goes out masked with the next delta or when the text ends.
pub struct StreamGuard {
    guards: Vec<Guard>,
    /// Text held back, per choice (OpenAI) or content block (Anthropic): (index, text).
    pending: Vec<(u64, String)>,
    /// The guards that masked something so far, for the audit line.
    pub masked: Vec<String>,
}

/// Where a streamed event's text delta is, by API.
enum Delta {
    /// OpenAI chat: `choices[i].delta.content`.
    Chat,
    /// Anthropic: `delta.text` of a `content_block_delta`.
    Messages,
    /// OpenAI Responses: `delta` of `response.output_text.delta`.
    Responses,
}

impl StreamGuard {
    /// One event's data as it goes on, or the rejecting guard. Events that end a text (a
    /// choice's finish, a block's stop, the stream's end) first get what was held back.
    pub fn event(&mut self, data: &str) -> Result<Vec<String>, Rejected> {
        let kind = if data.contains("\"text_delta\"") {
            Some(Delta::Messages)
        } else if data.contains("\"response.output_text.delta\"") {
            Some(Delta::Responses)
        } else if data.contains("\"delta\"") && data.contains("\"content\"") && data.contains("\"choices\"") {
            Some(Delta::Chat)
        } else {
            None
        };
        let Ok(mut value) = serde_json::from_str::<Value>(data) else {
            // `[DONE]` and anything else that is not JSON: the end of every text.
            return self.flush_all(vec![data.to_string()], None);
        };
        let Some(kind) = kind else {
            if ends_text(&value) {
                return self.flush_all(vec![data.to_string()], Some(&value));
            }
            return Ok(vec![data.to_string()]);
        };
        let mut out = Vec::with_capacity(1);
        self.deltas(&mut value, &kind)?;
        out.push(value.to_string());
        Ok(out)
    }

    /// Takes in each delta of `value`, replacing its text with what may go out now.
    fn deltas(&mut self, value: &mut Value, kind: &Delta) -> Result<(), Rejected> {
        let slots: Vec<(u64, &mut Value)> = match kind {
            Delta::Chat => value
                .get_mut("choices")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
                    c.pointer_mut("/delta/content").map(|v| (index, v))
                })
                .collect(),
            Delta::Messages => {
                let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
                value
                    .pointer_mut("/delta/text")
                    .map(|v| (index, v))
                    .into_iter()
                    .collect()
            }
            Delta::Responses => {
                let index = value.get("output_index").and_then(Value::as_u64).unwrap_or(0);
                value.get_mut("delta").map(|v| (index, v)).into_iter().collect()
            }
        };
        for (index, slot) in slots {
            let Value::String(text) = slot else { continue };
            let ready = self.take(index, text)?;
            *text = ready;
        }
        Ok(())
    }

    /// Adds `text` to what choice or block `index` holds; returns what may go out now, masked.
    fn take(&mut self, index: u64, text: &str) -> Result<String, Rejected> {
        let guards: Vec<&Guard> = self.guards.iter().collect();
        let at = match self.pending.iter().position(|(i, _)| *i == index) {
            Some(at) => at,
            None => {
                self.pending.push((index, String::new()));
                self.pending.len() - 1
            }
        };
        let pending = &mut self.pending[at].1;
        pending.push_str(text);
        // Where it is safe to cut: before the last HOLD bytes, and never inside a finding.
        let mut cut = pending.len().saturating_sub(HOLD);
        while !pending.is_char_boundary(cut) {
            cut -= 1;
        }
        for guard in &guards {
            for found in findings(&guard.recognizer, pending) {
                if guard.action == GuardAction::Reject && found.start < cut {
                    return Err(Rejected(guard.name.clone()));
                }
                if found.start < cut && found.end > cut {
                    cut = found.start;
                }
            }
        }
        let rest = pending.split_off(cut);
        let mut ready = std::mem::replace(pending, rest);
        apply(&guards, &mut ready, &mut self.masked)?;
        Ok(ready)
    }

    /// What every text still holds, sent before `event`: appended to nothing the client has
    /// seen, so it goes as a delta event of its own built from the ending event's shape.
    fn flush_all(&mut self, mut tail: Vec<String>, ending: Option<&Value>) -> Result<Vec<String>, Rejected> {
        let guards: Vec<&Guard> = self.guards.iter().collect();
        let mut out = Vec::new();
        // An Anthropic block's stop ends only that block; a chat finish only its choice.
        let only: Option<u64> = ending.and_then(|v| match v.get("type").and_then(Value::as_str) {
            Some("content_block_stop") => v.get("index").and_then(Value::as_u64),
            _ => None,
        });
        let mut keep = Vec::new();
        for (index, mut text) in std::mem::take(&mut self.pending) {
            if only.is_some_and(|i| i != index) || text.is_empty() {
                if !text.is_empty() {
                    keep.push((index, text));
                }
                continue;
            }
            apply(&guards, &mut text, &mut self.masked)?;
            out.push(delta_event(ending, index, text));
        }
        self.pending = keep;
        out.append(&mut tail);
        Ok(out)
    }
}

/// Whether an event ends a text, so what is held back must go before it: a block's stop, the
/// message's end, a choice's finish, a Responses text's end.
fn ends_text(event: &Value) -> bool {
    let ending_type = event.get("type").and_then(Value::as_str).is_some_and(|t| {
        matches!(
            t,
            "content_block_stop"
                | "message_delta"
                | "message_stop"
                | "response.output_text.done"
                | "response.completed"
        )
    });
    let finished_choice = event.get("choices").and_then(Value::as_array).is_some_and(|choices| {
        choices
            .iter()
            .any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null()))
    });
    ending_type || finished_choice
}

/// A delta event carrying `text` for choice or block `index`, in the shape of the stream
/// (`ending` tells which API: Anthropic's events have a `type`, chat chunks `choices`).
fn delta_event(ending: Option<&Value>, index: u64, text: String) -> String {
    match ending {
        Some(v) if v.get("type").and_then(Value::as_str).is_some_and(|t| t.starts_with("content_block") || t.starts_with("message")) => {
            serde_json::json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})
                .to_string()
        }
        Some(v) if v.get("type").and_then(Value::as_str).is_some_and(|t| t.starts_with("response.")) => {
            serde_json::json!({"type": "response.output_text.delta", "output_index": index, "content_index": 0, "delta": text})
                .to_string()
        }
        Some(v) => {
            let mut chunk = v.clone();
            if let Some(choices) = chunk.get_mut("choices") {
                *choices = serde_json::json!([{"index": index, "delta": {"content": text}, "finish_reason": null}]);
            }
            chunk.to_string()
        }
        None => serde_json::json!({"choices": [{"index": index, "delta": {"content": text}, "finish_reason": null}]}).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Builtin;

    fn guard(name: &str, builtin: Builtin, action: GuardAction) -> Guard {
        Guard {
            name: name.into(),
            recognizer: Recognizer::Builtin(builtin),
            action,
            on_request: true,
            on_response: true,
            models: Vec::new(),
        }
    }

    fn recognizers(guards: Vec<Guard>) -> Guards {
        Guards {
            guards,
            webhooks: Vec::new(),
        }
    }

    #[test]
    fn recognizers_check_what_they_find() {
        let find = |b, t: &str| findings(&Recognizer::Builtin(b), t).len();
        assert_eq!(find(Builtin::CreditCard, "card 4111 1111 1111 1111 ok"), 1);
        assert_eq!(find(Builtin::CreditCard, "order 4111 1111 1111 1112"), 0, "Luhn fails");
        assert_eq!(find(Builtin::Email, "write to jane.doe@example.co.uk today"), 1);
        assert_eq!(find(Builtin::Iban, "IBAN GB82 WEST 1234 5698 7654 32 please"), 1);
        assert_eq!(find(Builtin::Iban, "GB82WEST12345698765433"), 0, "mod 97 fails");
        assert_eq!(
            find(
                Builtin::ApiKey,
                "key sk-proj-abcdefghijklmnop1234 and AKIAIOSFODNN7EXAMPLE"
            ),
            2
        );
        assert_eq!(
            find(Builtin::UsSsn, "ssn 123-45-6789, not 000-12-3456 or 666-12-3456"),
            1
        );
    }

    #[test]
    fn requests_are_masked_or_rejected() {
        let guards = recognizers(vec![guard("cards", Builtin::CreditCard, GuardAction::Mask)]);
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "pay 4111-1111-1111-1111 now"}]}]});
        let body = body.as_object_mut().unwrap();
        let models = ["m".to_string()];
        let masked = guards.recognize(&models, body).ok().unwrap();
        assert_eq!(masked, ["cards"]);
        assert_eq!(body["messages"][0]["content"][0]["text"], "pay [REDACTED:cards] now");
        let strict = recognizers(vec![guard("no-keys", Builtin::ApiKey, GuardAction::Reject)]);
        let mut leaky = json!({"messages": [{"role": "user", "content": "use AKIAIOSFODNN7EXAMPLE"}]});
        let rejected = strict.recognize(&models, leaky.as_object_mut().unwrap()).err().unwrap();
        assert_eq!(rejected.0, "no-keys");
    }

    #[test]
    fn tool_calls_in_whole_answers_are_guarded_and_stay_json() {
        let guards = recognizers(vec![guard("cards", Builtin::CreditCard, GuardAction::Mask)]);
        let answer_guard = guards.answers(&["m".to_string()]).unwrap();
        let arguments = json!({"card": "4111 1111 1111 1111", "amount": 5}).to_string();
        let mut chat = json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "pay", "arguments": arguments}}]}}]});
        assert_eq!(answer_guard.whole(&mut chat).ok().unwrap(), ["cards"]);
        let sent = chat
            .pointer("/choices/0/message/tool_calls/0/function/arguments")
            .unwrap();
        let sent: Value = serde_json::from_str(sent.as_str().unwrap()).unwrap();
        assert_eq!(sent, json!({"card": "[REDACTED:cards]", "amount": 5}));
        let mut anthropic = json!({"content": [{"type": "tool_use", "id": "t", "name": "pay",
                                               "input": {"card": "4111111111111111"}}]});
        answer_guard.whole(&mut anthropic).ok().unwrap();
        assert_eq!(anthropic["content"][0]["input"]["card"], "[REDACTED:cards]");
        let untouched = json!({"q": "weather in Paris"}).to_string().replace(':', ": ");
        let mut plain =
            json!({"choices": [{"message": {"tool_calls": [{"function": {"arguments": untouched.clone()}}]}}]});
        assert!(answer_guard.whole(&mut plain).ok().unwrap().is_empty());
        assert_eq!(
            plain["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            untouched.as_str(),
            "as the provider wrote it"
        );
        let strict = recognizers(vec![guard("no-cards", Builtin::CreditCard, GuardAction::Reject)]);
        let mut again = json!({"output": [{"type": "function_call", "arguments": arguments}]});
        let rejected = strict
            .answers(&["m".to_string()])
            .unwrap()
            .whole(&mut again)
            .err()
            .unwrap();
        assert_eq!(rejected.0, "no-cards");
    }

    #[test]
    fn a_finding_split_across_stream_deltas_is_masked() {
        let guards = recognizers(vec![guard("cards", Builtin::CreditCard, GuardAction::Mask)]);
        let mut stream = guards.answers(&["m".to_string()]).unwrap().stream();
        let chunk = |text: &str| {
            json!({"id": "c", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]}).to_string()
        };
        let mut seen = String::new();
        let mut read = |events: Vec<String>| {
            for e in events {
                if let Ok(v) = serde_json::from_str::<Value>(&e) {
                    seen.push_str(
                        v.pointer("/choices/0/delta/content")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                    );
                }
            }
        };
        read(stream.event(&chunk("my card is 4111 11")).ok().unwrap());
        read(stream.event(&chunk("11 1111 1111, thanks")).ok().unwrap());
        let finish = json!({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string();
        read(stream.event(&finish).ok().unwrap());
        read(stream.event("[DONE]").ok().unwrap());
        assert_eq!(seen, "my card is [REDACTED:cards], thanks");
    }

    #[test]
    fn long_streams_flow_while_they_are_written() {
        let guards = recognizers(vec![guard("mail", Builtin::Email, GuardAction::Mask)]);
        let mut stream = guards.answers(&["m".to_string()]).unwrap().stream();
        let delta = |text: &str| {
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
                .to_string()
        };
        let words = "lorem ipsum ".repeat(40);
        let out = stream.event(&delta(&words)).ok().unwrap();
        let passed: Value = serde_json::from_str(&out[0]).unwrap();
        let text = passed.pointer("/delta/text").and_then(Value::as_str).unwrap();
        assert_eq!(text.len(), words.len() - HOLD, "all but what a finding could grow into");
        let stop = stream
            .event(&json!({"type": "content_block_stop", "index": 0}).to_string())
            .ok()
            .unwrap();
        assert_eq!(stop.len(), 2, "the rest, then the stop");
    }
}
