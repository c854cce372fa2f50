//! The two limiters the emulator applies: a token bucket for client messages and a one-second
//! window for `rtm.connect`. Pure: the caller passes the time, so tests need no clock.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Token bucket: holds at most `burst` tokens, refilled at `per_second`.
#[derive(Debug)]
pub(super) struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. `burst` is raised to 1 so a configured limit never blocks everything.
    pub(super) fn new(per_second: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_second: f64::from(per_second),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub(super) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Allows at most `max` hits in any window of one second.
#[derive(Debug)]
pub(super) struct WindowLimiter {
    max: usize,
    hits: VecDeque<Instant>,
}

impl WindowLimiter {
    const WINDOW: Duration = Duration::from_secs(1);

    pub(super) fn new(max: u32) -> Self {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        Self {
            max,
            hits: VecDeque::with_capacity(max.min(64)),
        }
    }

    /// Records a hit and returns `true` if it fits in the window; a refused hit is not
    /// recorded, so a client that waits the advertised second gets through.
    pub(super) fn try_hit(&mut self, now: Instant) -> bool {
        while let Some(&first) = self.hits.front() {
            if now.saturating_duration_since(first) >= Self::WINDOW {
                self.hits.pop_front();
            } else {
                break;
            }
        }
        if self.hits.len() < self.max {
            self.hits.push_back(now);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(2, 3, t0);
        assert!(bucket.try_take(t0));
        assert!(bucket.try_take(t0));
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0));
        assert!(bucket.try_take(t0 + Duration::from_millis(500)));
        assert!(!bucket.try_take(t0 + Duration::from_millis(500)));
        // Never more than the burst, however long the pause.
        let later = t0 + Duration::from_secs(100);
        for _ in 0..3 {
            assert!(bucket.try_take(later));
        }
        assert!(!bucket.try_take(later));
    }

    #[test]
    fn bucket_with_zero_burst_still_allows_one() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(0, 0, t0);
        assert!(bucket.try_take(t0));
        assert!(!bucket.try_take(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn window_limits_hits_per_second() {
        let t0 = Instant::now();
        let mut window = WindowLimiter::new(2);
        assert!(window.try_hit(t0));
        assert!(window.try_hit(t0 + Duration::from_millis(10)));
        assert!(!window.try_hit(t0 + Duration::from_millis(20)));
        assert!(window.try_hit(t0 + Duration::from_millis(1000)));
        assert!(!window.try_hit(t0 + Duration::from_millis(1005)));
        assert!(window.try_hit(t0 + Duration::from_millis(1010)));
    }

    #[test]
    fn window_of_zero_refuses_all() {
        let mut window = WindowLimiter::new(0);
        assert!(!window.try_hit(Instant::now()));
    }
}
