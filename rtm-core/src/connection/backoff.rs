//! When to try again: one retry policy for the first connect and for reconnects, plus the
//! process-wide pace of reconnects.
//!
//! The first attempt after a working connection is lost starts at once. Each further
//! consecutive failure doubles the delay from `base` up to `max`, with "equal jitter" (a random
//! point in the upper half), so retries stay spread out but never collapse to zero. A 429
//! waits exactly its `Retry-After`. Auth and configuration errors are never retried.
//!
//! Jitter exists to spread many simultaneous reconnects, so it is applied where they happen:
//! a connection that is the only one reconnecting goes at once, and when many connections of
//! one process lose their sockets together (a network blip under a multi-workspace bot), the
//! [`ReconnectPacer`] spreads their attempts to [`RECONNECTS_PER_SEC`] after a burst of
//! [`RECONNECT_BURST`].

use std::{
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use tokio::time::Instant;
use tracing::{info, warn};

use super::pace::Pace;
use crate::Error;

/// Reconnect attempts per second, process-wide, once the burst is used up.
pub(crate) const RECONNECTS_PER_SEC: u32 = 100;
/// Reconnect attempts that may start at once, process-wide.
pub(crate) const RECONNECT_BURST: u32 = 20;

/// Exponential backoff with equal jitter.
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

    /// The delay before the next attempt; counts the attempt. Zero for the first.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let failures = self.failures;
        self.failures = self.failures.saturating_add(1);
        if failures == 0 {
            return Duration::ZERO;
        }
        let exp = self
            .base
            .saturating_mul(1u32 << (failures - 1).min(20))
            .min(self.max);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    After(Duration),
    GiveUp,
}

/// The one retry policy. `limit` bounds consecutive failed attempts (the first connect,
/// so that a wrong URL fails `connect()` instead of hanging); reconnects are unbounded.
#[derive(Debug)]
pub(crate) struct RetryPolicy {
    backoff: Backoff,
    /// For losses that say "too many sockets" (Socket Mode's `too_many_websockets`): they
    /// come right after a successful `hello`, so they survive [`connected`](Self::connected)
    /// and only a loss for another reason resets them.
    over_cap: Backoff,
    limit: Option<u32>,
    failures: u32,
    rate_limited: u32,
}

impl RetryPolicy {
    /// For the first connect: at most `attempts` attempts that fail with retryable errors
    /// (and twice as many 429s, each waited out exactly).
    pub(crate) fn first_connect(base: Duration, max: Duration, attempts: u32) -> Self {
        let mut backoff = Backoff::new(base, max);
        backoff.next_delay(); // the first attempt is the immediate one
        RetryPolicy {
            over_cap: Backoff::new(base, max),
            backoff,
            limit: Some(attempts.max(1)),
            failures: 0,
            rate_limited: 0,
        }
    }

    /// A connection reached `hello`: from now on, retries are unbounded and the next loss
    /// retries at once.
    pub(crate) fn connected(&mut self) {
        self.backoff.failures = 0;
        self.limit = None;
        self.failures = 0;
        self.rate_limited = 0;
    }

    /// The delay before the first attempt after a loss (zero after a working connection).
    pub(crate) fn after_loss(&mut self) -> Duration {
        self.over_cap.failures = 0;
        self.backoff.next_delay()
    }

    /// The delay after a loss whose cause says reconnecting at once would make things worse
    /// (the app is over its socket limit): never zero, doubling with each such loss in a row
    /// up to the maximum, so a client that keeps hitting the cap never storms.
    pub(crate) fn after_over_cap(&mut self) -> Duration {
        if self.over_cap.failures == 0 {
            self.over_cap.failures = 1;
        }
        self.over_cap.next_delay()
    }

    /// What to do after `error`.
    pub(crate) fn on_failure(&mut self, error: &Error) -> Retry {
        match error {
            Error::RateLimited { retry_after } => {
                self.rate_limited += 1;
                if self.limit.is_some_and(|limit| self.rate_limited > limit * 2) {
                    return Retry::GiveUp;
                }
                let wait = if retry_after.is_zero() {
                    self.backoff.next_delay()
                } else {
                    *retry_after
                };
                info!(?wait, "rate limited; waiting exactly Retry-After");
                Retry::After(wait)
            }
            error if error.is_retryable() => {
                self.failures += 1;
                if self.limit.is_some_and(|limit| self.failures >= limit) {
                    return Retry::GiveUp;
                }
                let wait = self.backoff.next_delay();
                warn!(%error, attempt = self.failures, ?wait, "connect attempt failed; retrying");
                Retry::After(wait)
            }
            _ => Retry::GiveUp,
        }
    }
}

/// The process-wide pace of reconnect attempts. Only reconnects are paced: the application
/// decides how fast it starts clients.
#[derive(Debug)]
pub(crate) struct ReconnectPacer(Mutex<Pace>);

/// The pacer every client of this process shares.
pub(crate) static RECONNECT_PACER: LazyLock<Arc<ReconnectPacer>> =
    LazyLock::new(|| Arc::new(ReconnectPacer::new(RECONNECTS_PER_SEC, RECONNECT_BURST)));

impl ReconnectPacer {
    pub(crate) fn new(per_sec: u32, burst: u32) -> Self {
        ReconnectPacer(Mutex::new(Pace::new(
            Duration::from_secs(1) / per_sec.max(1),
            burst,
        )))
    }

    /// Reserves a slot: the instant at which this attempt may start (`now` when the process
    /// is not reconnecting in bulk).
    pub(crate) fn reserve(&self, now: Instant) -> Instant {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).reserve(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_cap_losses_back_off_across_connects_and_reset_on_another_loss() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(8);
        let mut policy = RetryPolicy::first_connect(base, max, 5);
        policy.connected();
        let mut ceilings = Vec::new();
        for _ in 0..6 {
            let wait = policy.after_over_cap();
            policy.connected();
            ceilings.push(wait);
        }
        // Equal jitter: each wait is in the upper half of 1, 2, 4, 8, 8, 8 s.
        for (wait, ceiling) in ceilings.iter().zip([1u64, 2, 4, 8, 8, 8]) {
            let ceiling = Duration::from_secs(ceiling);
            assert!(
                *wait >= ceiling / 2 && *wait <= ceiling,
                "{wait:?} vs {ceiling:?}"
            );
        }
        assert_eq!(policy.after_loss(), Duration::ZERO);
        policy.connected();
        let wait = policy.after_over_cap();
        assert!(wait >= base / 2 && wait <= base, "reset: {wait:?}");
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn immediate_then_exponential_capped() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        assert_eq!(b.next_delay(), Duration::ZERO);
        for expected in [1u64, 2, 4, 8, 8, 8] {
            let d = b.next_delay();
            let full = Duration::from_secs(expected);
            assert!(
                d >= full / 2 && d <= full,
                "{d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
    }

    #[test]
    fn first_connect_is_bounded_and_reconnects_are_not() {
        let mut p = RetryPolicy::first_connect(MS, 10 * MS, 3);
        let transient = Error::Timeout("test");
        assert!(matches!(p.on_failure(&transient), Retry::After(d) if d >= MS / 2 && d <= MS));
        assert!(matches!(p.on_failure(&transient), Retry::After(_)));
        assert_eq!(p.on_failure(&transient), Retry::GiveUp);
        let fatal = Error::Slack {
            code: "invalid_auth".into(),
        };
        assert_eq!(p.on_failure(&fatal), Retry::GiveUp);

        p.connected();
        assert_eq!(p.after_loss(), Duration::ZERO, "a lone loss retries at once");
        for _ in 0..100 {
            assert!(matches!(p.on_failure(&transient), Retry::After(d) if d <= 10 * MS));
        }
        assert_eq!(p.on_failure(&fatal), Retry::GiveUp, "fatal errors never loop");
    }

    #[test]
    fn rate_limits_wait_exactly_retry_after() {
        let mut p = RetryPolicy::first_connect(MS, 10 * MS, 2);
        let limited = Error::RateLimited {
            retry_after: Duration::from_secs(3),
        };
        for _ in 0..4 {
            assert_eq!(p.on_failure(&limited), Retry::After(Duration::from_secs(3)));
        }
        assert_eq!(p.on_failure(&limited), Retry::GiveUp);
    }
}
