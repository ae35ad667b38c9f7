//! What agentmux has seen of each provider entry lately, passively (from the requests it sent):
//! consecutive failures, and the latency of its answers. An entry that failed `EJECT_AFTER`
//! times in a row is ejected for `EJECTION`: tried only after every other candidate. Once that
//! time is over, the next request that reaches it is its recovery probe: a success restores it,
//! a failure ejects it again. Latency is an exponentially weighted moving average of the time to
//! the first byte, which balancing reads to prefer the faster of two equal targets. A provider
//! that answers with `retry-after` is put at the back until then, as if ejected.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Consecutive failures that eject an entry.
const EJECT_AFTER: u32 = 3;
/// How long an ejected entry waits before it is tried first again.
const EJECTION: Duration = Duration::from_secs(30);
/// The longest a provider's `retry-after` keeps it at the back.
const MAX_REST: Duration = Duration::from_secs(300);
/// Weight of the newest latency in the average (1/8).
const EWMA_SHIFT: u32 = 3;

#[derive(Default)]
pub struct Health {
    failures: AtomicU32,
    /// Unix milliseconds until which the entry is ejected (0: never was).
    ejected_until: AtomicU64,
    /// Microseconds; 0 until the first answer.
    latency_us: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Health {
    pub fn succeeded(&self, first_byte: Duration) {
        self.failures.store(0, Ordering::Relaxed);
        self.ejected_until.store(0, Ordering::Relaxed);
        let sample = first_byte.as_micros().min(u128::from(u64::MAX)) as u64;
        // A lost update between two answers only weights one sample less: no lock needed.
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - (old >> EWMA_SHIFT) + (sample >> EWMA_SHIFT)
        };
        self.latency_us.store(new.max(1), Ordering::Relaxed);
    }

    /// A connection error, a timeout, a 429 or a 5xx.
    pub fn failed(&self) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= EJECT_AFTER {
            let until = now_ms() + EJECTION.as_millis() as u64;
            if self.ejected_until.swap(until, Ordering::Relaxed) < now_ms() {
                tracing::warn!(failures, "LLM provider ejected for {EJECTION:?} after failing in a row");
            }
        }
    }

    /// The provider asked to be left alone for `wait` (`retry-after` on a 429 or 5xx): it is
    /// tried after every other candidate until then (at most `MAX_REST`, whatever it asked).
    pub fn rest(&self, wait: Duration) {
        let until = now_ms() + wait.min(MAX_REST).as_millis() as u64;
        self.ejected_until.fetch_max(until, Ordering::Relaxed);
    }

    pub fn ejected(&self) -> bool {
        self.ejected_until.load(Ordering::Relaxed) > now_ms()
    }

    /// The average time to the first byte; `None` before any answer.
    pub fn latency(&self) -> Option<Duration> {
        match self.latency_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_in_a_row_eject_and_a_success_restores() {
        let health = Health::default();
        health.failed();
        health.failed();
        assert!(!health.ejected(), "two are not enough");
        health.succeeded(Duration::from_millis(10));
        health.failed();
        health.failed();
        assert!(!health.ejected(), "a success starts the count again");
        health.failed();
        assert!(health.ejected());
        health.succeeded(Duration::from_millis(10));
        assert!(!health.ejected(), "the recovery probe succeeded");
    }

    #[test]
    fn a_retry_after_puts_the_entry_at_the_back_until_then() {
        let health = Health::default();
        health.rest(Duration::from_millis(0));
        assert!(!health.ejected(), "nothing asked for");
        health.rest(Duration::from_secs(60));
        assert!(health.ejected());
        health.rest(Duration::from_millis(1));
        assert!(health.ejected(), "a shorter wait never cuts a longer one short");
        health.succeeded(Duration::from_millis(10));
        assert!(!health.ejected(), "an answer shows it is back");
    }

    #[test]
    fn latency_is_a_moving_average() {
        let health = Health::default();
        assert_eq!(health.latency(), None);
        health.succeeded(Duration::from_millis(80));
        assert_eq!(health.latency(), Some(Duration::from_millis(80)));
        health.succeeded(Duration::from_millis(0));
        assert_eq!(
            health.latency(),
            Some(Duration::from_millis(70)),
            "1/8 of the way to the new sample"
        );
    }
}
