//! Tool-call ids. OpenAI clients answer a tool call by its id; Gemini matches answers by the
//! function's name and gives no id (newer models may give their own, which is kept). Gemini 3
//! also signs the function calls of each step with a `thoughtSignature` that must come back
//! with them in the next request, or the request is refused; an OpenAI tool call has no place
//! for it but its id, which clients echo word for word. So the signature travels in the id,
//! after `__thought__`, as LiteLLM carries it (a conversation can move between the gateways).

/// Between an id and the thought signature it carries.
const SEPARATOR: &str = "__thought__";

/// The thought signature Google documents for function calls the model did not make (another
/// model's history, a client's own): Gemini skips the check instead of refusing the request.
const SKIP: &str = "skip_thought_signature_validator";

/// The id of a tool call in an answer: Gemini's own `id` if it gave one, else a new unique one;
/// with the call's thought signature, if it has one, after the separator.
pub fn make(given: Option<&str>, signature: Option<&str>) -> String {
    let id = given
        .filter(|id| !id.is_empty())
        .map_or_else(|| format!("call_{}", uuid::Uuid::new_v4().simple()), str::to_string);
    match signature.filter(|s| !s.is_empty()) {
        Some(signature) => format!("{id}{SEPARATOR}{signature}"),
        None => id,
    }
}

/// The `thoughtSignature` to send with a function call of the client's history: the one its id
/// carries; else, for the first call of an assistant turn (the only one Gemini checks), the
/// skip sentinel, unless `model` is one from before Gemini 3, which never asked for signatures.
pub fn signature<'a>(id: &'a str, first: bool, model: &str) -> Option<&'a str> {
    if let Some((_, signature)) = id.split_once(SEPARATOR).filter(|(_, s)| !s.is_empty()) {
        return Some(signature);
    }
    let model = model.strip_prefix("models/").unwrap_or(model);
    let unsigned = ["gemini-1", "gemini-2", "gemma"]
        .iter()
        .any(|old| model.starts_with(old));
    (first && !unsigned).then_some(SKIP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_gemini_s_or_new_and_carry_the_signature() {
        assert_eq!(make(Some("fc_1"), None), "fc_1");
        assert_eq!(make(Some("fc_1"), Some("CiQB")), "fc_1__thought__CiQB");
        let (a, b) = (make(None, None), make(Some(""), Some("")));
        assert!(a.starts_with("call_") && a.len() == 37, "{a}");
        assert!(b.starts_with("call_") && a != b);
        let signed = make(None, Some("CiQB"));
        assert!(signed.starts_with("call_") && signed.ends_with("__thought__CiQB"));
    }

    #[test]
    fn a_carried_signature_goes_back_else_the_first_call_skips_the_check() {
        assert_eq!(
            signature("call_9__thought__CiQB", false, "gemini-2.5-flash"),
            Some("CiQB")
        );
        assert_eq!(signature("call_9", true, "gemini-3-pro-preview"), Some(SKIP));
        assert_eq!(signature("call_9", true, "models/gemini-3.1-flash"), Some(SKIP));
        assert_eq!(signature("call_9", false, "gemini-3-pro-preview"), None);
        assert_eq!(signature("call_9", true, "gemini-2.5-pro"), None);
        assert_eq!(signature("call_9__thought__", true, "models/gemini-2.0-flash"), None);
    }
}
