//! How far one request goes trying providers (`llm.retries`): the candidates in turn, at most
//! `attempts` tries, none started once the request is `budget` old; and when the last candidate
//! asked to be retried soon (`retry-after` within `wait`), once more from the first after that
//! wait, rather than passing the refusal on.

use std::time::{Duration, Instant};

use http::HeaderMap;
use serde_json::Value;

use crate::config::Retries;

/// Which attempt comes next, within the request's retries.
pub struct Plan {
    candidates: usize,
    retries: Retries,
    started: Instant,
    /// Attempts made so far.
    pub made: u32,
}

impl Plan {
    pub fn new(candidates: usize, retries: Retries, started: Instant) -> Self {
        Self {
            candidates,
            retries,
            started,
            made: 0,
        }
    }

    /// After the candidate at `index` failed (`retry_after`: what it asked for): the next
    /// candidate's index, `0` again when the last asked to be retried within `retries.wait`
    /// (the caller waits first), or `None` when this answer is the client's.
    pub fn after(&self, index: usize, retry_after: Option<Duration>) -> Option<usize> {
        let left = self.left();
        if self.made >= self.retries.attempts || left.is_zero() {
            return None;
        }
        if index + 1 < self.candidates {
            return Some(index + 1);
        }
        retry_after
            .filter(|after| *after <= self.retries.wait && *after < left)
            .map(|_| 0)
    }

    /// What remains of the budget.
    pub fn left(&self) -> Duration {
        self.retries.budget.saturating_sub(self.started.elapsed())
    }
}

/// How long a provider asked to be left alone: `retry-after-ms` (OpenAI), else `retry-after`
/// in seconds. An HTTP date is not read: providers send seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let read = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let seconds = read("retry-after-ms")
        .map(|ms| ms / 1e3)
        .or_else(|| read("retry-after"))?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

/// Google's `RetryInfo` in an error body (`error.details[].retryDelay: "2s"`): how Gemini says
/// when to retry, having no `retry-after` header.
pub fn retry_delay_in_body(body: &Value) -> Option<Duration> {
    let details = body.pointer("/error/details")?.as_array()?;
    let delay = details.iter().find_map(|d| d.get("retryDelay")?.as_str())?;
    let seconds = delay.strip_suffix('s')?.parse::<f64>().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retries(attempts: u32, wait_s: u64) -> Retries {
        Retries {
            attempts,
            budget: Duration::from_secs(30),
            wait: Duration::from_secs(wait_s),
        }
    }

    #[test]
    fn candidates_are_tried_in_turn_within_the_attempts() {
        let mut plan = Plan::new(3, retries(2, 0), Instant::now());
        plan.made = 1;
        assert_eq!(plan.after(0, None), Some(1));
        plan.made = 2;
        assert_eq!(plan.after(1, None), None, "two attempts made");
    }

    #[test]
    fn the_last_candidates_retry_after_is_waited_out_only_within_wait() {
        let mut plan = Plan::new(2, retries(4, 2), Instant::now());
        plan.made = 2;
        assert_eq!(
            plan.after(1, None),
            None,
            "nothing asked for: the refusal is the client's"
        );
        assert_eq!(plan.after(1, Some(Duration::from_secs(1))), Some(0));
        assert_eq!(plan.after(1, Some(Duration::from_secs(3))), None, "longer than `wait`");
        let no_wait = Plan {
            made: 2,
            ..Plan::new(2, retries(4, 0), Instant::now())
        };
        assert_eq!(
            no_wait.after(1, Some(Duration::from_secs(1))),
            None,
            "waiting is opt-in"
        );
    }

    #[test]
    fn no_attempt_starts_after_the_budget() {
        let spent = Instant::now() - Duration::from_secs(31);
        let mut plan = Plan::new(3, retries(4, 0), spent);
        plan.made = 1;
        assert_eq!(plan.left(), Duration::ZERO);
        assert_eq!(plan.after(0, None), None);
    }

    #[test]
    fn retry_after_reads_milliseconds_first_then_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        headers.insert("retry-after-ms", "soon".parse().unwrap());
        headers.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None, "dates are not read");
    }

    #[test]
    fn googles_retry_info_is_read_from_the_body() {
        let body = serde_json::json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}]}});
        assert_eq!(retry_delay_in_body(&body), Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_delay_in_body(&serde_json::json!({"error": {"message": "x"}})),
            None
        );
    }
}
