//! Why a model stopped: OpenAI's `finish_reason`, Anthropic's `stop_reason` (whose words
//! Bedrock's Converse `stopReason` shares, adding two of its own) and Gemini's `finishReason`.
//!
//! | Anthropic `stop_reason` / Converse `stopReason` | OpenAI `finish_reason` |
//! |---|---|
//! | `end_turn`, `stop_sequence`, `pause_turn` | `stop` |
//! | `max_tokens`, `model_context_window_exceeded` | `length` |
//! | `tool_use` | `tool_calls` |
//! | `refusal`; Converse `guardrail_intervened`, `content_filtered` | `content_filter` |
//!
//! and back: `stop` → `end_turn`, `length` → `max_tokens`, `tool_calls` and the legacy
//! `function_call` → `tool_use`, `content_filter` → `refusal`. OpenAI does not say whether a stop
//! sequence ended the answer, so `stop_sequence` is never produced. `pause_turn` (a server tool
//! loop paused) has no OpenAI word; the answer so far is complete as far as a client can tell.
//! An unknown or missing reason reads as a plain stop.
//!
//! | Gemini `finishReason` | OpenAI `finish_reason` |
//! |---|---|
//! | `STOP` | `stop`, or `tool_calls` when the candidate called functions |
//! | `MAX_TOKENS` | `length` |
//! | `SAFETY`, `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, `IMAGE_SAFETY` | `content_filter` |
//! | anything else (`OTHER`, `LANGUAGE`, `MALFORMED_FUNCTION_CALL` …) | `stop` |
//!
//! Gemini says `STOP` after function calls too; OpenAI clients look for `tool_calls` to know
//! they must run them.
//!
//! The Responses API has no finish reason: a response is `completed`, or `incomplete` with
//! `incomplete_details.reason` `max_output_tokens` (chat's `length`) or `content_filter`. A
//! function call is said by the `function_call` items of the output alone.

/// Anthropic's `stop_reason` (or Converse's `stopReason`) as OpenAI's `finish_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal" | "guardrail_intervened" | "content_filtered") => "content_filter",
        _ => "stop",
    }
}

/// OpenAI's `finish_reason` as Anthropic's `stop_reason`.
pub fn stop_reason(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// Why a Responses answer is `incomplete`, for chat's `finish_reason`; None: it is `completed`.
pub fn incomplete_reason(finish_reason: Option<&str>) -> Option<&'static str> {
    match finish_reason {
        Some("length") => Some("max_output_tokens"),
        Some("content_filter") => Some("content_filter"),
        _ => None,
    }
}

/// Gemini's `finishReason` as OpenAI's `finish_reason`; `called` says whether the candidate
/// holds function calls.
pub fn gemini_finish_reason(reason: Option<&str>, called: bool) -> &'static str {
    match reason {
        Some("MAX_TOKENS") => "length",
        Some("SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY") => {
            "content_filter"
        }
        _ if called => "tool_calls",
        _ => "stop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_reasons_read_as_openai_ones() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("pause_turn", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
            ("something_new", "stop"),
        ] {
            assert_eq!(finish_reason(Some(stop)), finish, "{stop}");
        }
        assert_eq!(finish_reason(None), "stop");
    }

    #[test]
    fn openai_reasons_read_as_anthropic_ones() {
        for (finish, stop) in [
            ("stop", "end_turn"),
            ("length", "max_tokens"),
            ("tool_calls", "tool_use"),
            ("function_call", "tool_use"),
            ("content_filter", "refusal"),
            ("something_new", "end_turn"),
        ] {
            assert_eq!(stop_reason(Some(finish)), stop, "{finish}");
        }
        assert_eq!(stop_reason(None), "end_turn");
    }

    #[test]
    fn each_openai_reason_survives_a_round_trip() {
        for finish in ["stop", "length", "tool_calls", "content_filter"] {
            assert_eq!(finish_reason(Some(stop_reason(Some(finish)))), finish);
        }
    }

    #[test]
    fn only_cut_answers_are_incomplete_responses() {
        assert_eq!(incomplete_reason(Some("length")), Some("max_output_tokens"));
        assert_eq!(incomplete_reason(Some("content_filter")), Some("content_filter"));
        for finish in [Some("stop"), Some("tool_calls"), None] {
            assert_eq!(incomplete_reason(finish), None);
        }
    }

    #[test]
    fn gemini_reasons_read_as_openai_ones() {
        for (reason, called, finish) in [
            ("STOP", false, "stop"),
            ("STOP", true, "tool_calls"),
            ("MAX_TOKENS", false, "length"),
            ("MAX_TOKENS", true, "length"),
            ("SAFETY", false, "content_filter"),
            ("RECITATION", false, "content_filter"),
            ("BLOCKLIST", false, "content_filter"),
            ("PROHIBITED_CONTENT", true, "content_filter"),
            ("SPII", false, "content_filter"),
            ("OTHER", false, "stop"),
            ("MALFORMED_FUNCTION_CALL", false, "stop"),
        ] {
            assert_eq!(gemini_finish_reason(Some(reason), called), finish, "{reason} {called}");
        }
        assert_eq!(gemini_finish_reason(None, false), "stop");
    }
}
