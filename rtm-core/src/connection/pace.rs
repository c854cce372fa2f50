//! A pace: `burst` events at once, then one per `interval` (GCRA, the "generic cell rate
//! algorithm": one instant of state, the theoretical arrival time of the next event). Used
//! for the process-wide reconnect pace and for a client's opt-in send pace.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct Pace {
    interval: Duration,
    /// How far ahead of its theoretical time an event may go: what makes the burst.
    tolerance: Duration,
    /// The theoretical arrival time of the next event; `None` before the first.
    tat: Option<Instant>,
}

impl Pace {
    pub(crate) fn new(interval: Duration, burst: u32) -> Self {
        Pace {
            interval,
            tolerance: interval * burst.saturating_sub(1),
            tat: None,
        }
    }

    /// When the next event may go: `now` or later.
    pub(crate) fn next_allowed(&self, now: Instant) -> Instant {
        match self.tat {
            Some(tat) => now.max(tat.checked_sub(self.tolerance).unwrap_or(now)),
            None => now,
        }
    }

    /// Reserves the next slot and returns when it starts (`now` when the pace allows).
    pub(crate) fn reserve(&mut self, now: Instant) -> Instant {
        let start = self.next_allowed(now);
        let tat = self.tat.map_or(now, |tat| tat.max(now));
        self.tat = Some(tat + self.interval);
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_one_per_interval_then_a_fresh_burst_after_a_pause() {
        let mut pace = Pace::new(10 * MS, 20);
        let t0 = Instant::now();
        let starts: Vec<Duration> = (0..30).map(|_| pace.reserve(t0) - t0).collect();
        assert!(starts[..20].iter().all(|d| d.is_zero()), "{starts:?}");
        for (k, start) in starts[20..].iter().enumerate() {
            assert_eq!(*start, (k as u32 + 1) * 10 * MS);
        }
        let later = t0 + Duration::from_secs(2);
        assert_eq!(pace.next_allowed(later), later);
        assert_eq!(pace.reserve(later), later);
    }
}
