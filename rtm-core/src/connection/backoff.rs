//! Reconnect delays: the first retry after a working connection is lost is immediate (with a
//! few milliseconds of jitter so that many bots do not reconnect in lockstep); each further
//! consecutive failure doubles the delay from `base` up to `max`, with "equal jitter" (a
//! random point in the upper half), so retries stay spread out but never collapse to zero.

use std::time::Duration;

/// Jitter of the immediate first retry.
const FIRST_RETRY_JITTER_MS: u64 = 25;

#[derive(Debug)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            failures: 0,
        }
    }

    /// A connection reached `hello`: the next loss retries at once.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// The delay before the next attempt; counts the attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let failures = self.failures;
        self.failures = self.failures.saturating_add(1);
        if failures == 0 {
            return Duration::from_millis(fastrand::u64(0..=FIRST_RETRY_JITTER_MS));
        }
        let exp = self
            .base
            .saturating_mul(1u32 << (failures - 1).min(20))
            .min(self.max);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediate_then_exponential_capped_then_reset() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        assert!(b.next_delay() <= Duration::from_millis(FIRST_RETRY_JITTER_MS));
        for expected in [1u64, 2, 4, 8, 8, 8] {
            let d = b.next_delay();
            let full = Duration::from_secs(expected);
            assert!(
                d >= full / 2 && d <= full,
                "{d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(FIRST_RETRY_JITTER_MS));
    }
}
