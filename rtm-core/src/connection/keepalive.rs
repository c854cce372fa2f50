//! Keepalive: is the peer still there?
//!
//! Any inbound frame proves the peer alive. Every `interval` the connection is checked, and
//! probed with a ping if nothing arrived for at least half the interval (a busy connection is
//! never pinged). One that stays silent for `timeout` is dead, and so is one whose peer has
//! not taken a write for `timeout` (it stopped reading: its receive window is full). A dead
//! connection is dropped without a close handshake, which such a peer would never answer.
//!
//! The checks keep a fixed cadence, so an idle connection costs one wake-up per interval (the
//! probe), not one per answer. They also fall on a grid shared by every connection of the
//! process (a twentieth of the interval), so that many idle connections are checked, probed
//! and answered together: ten thousand of them wake the runtime a few dozen times a second
//! instead of a few thousand, and each wake-up handles a batch.
//!
//! While the session does not read (the application is behind), silence says nothing about
//! the peer, so the clock restarts when reading resumes.

use std::{sync::OnceLock, time::Duration};

use tokio::time::Instant;

/// The grid's step is the interval divided by this.
pub(super) const GRID_PARTS: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A frame arrived since the last probe (or none was sent yet).
    Quiet,
    /// A probe went out at this instant and nothing has arrived since.
    Probing { since: Instant },
}

/// What the session must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing until this instant.
    WaitUntil(Instant),
    /// Send a probe now (then ask again).
    Probe,
    /// The peer is gone.
    Dead,
}

#[derive(Debug)]
pub(crate) struct Keepalive {
    interval: Duration,
    timeout: Duration,
    last_seen: Instant,
    /// When the next check is due (on the grid).
    next_check: Instant,
    grid: Grid,
    state: State,
}

/// Instants every `step` from `origin`: checks are rounded up to the next of them.
#[derive(Debug, Clone, Copy)]
struct Grid {
    origin: Instant,
    step: Duration,
}

impl Grid {
    /// The grid every connection of the process shares for this interval.
    fn shared(interval: Duration) -> Self {
        // From the real clock: a paused test clock only runs ahead of it, never behind.
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        Grid {
            origin: *ORIGIN.get_or_init(|| Instant::from_std(std::time::Instant::now())),
            step: interval / GRID_PARTS,
        }
    }

    /// The first grid instant at or after `at` (`at` itself before the origin).
    fn round_up(self, at: Instant) -> Instant {
        let step = self.step.as_nanos();
        let since = at.saturating_duration_since(self.origin).as_nanos();
        match since.checked_rem(step) {
            Some(0) | None => at,
            Some(rem) => at + Duration::from_nanos((step - rem) as u64),
        }
    }
}

impl Keepalive {
    pub(crate) fn new(interval: Duration, timeout: Duration, now: Instant) -> Self {
        Self::on_grid(interval, timeout, now, Grid::shared(interval))
    }

    fn on_grid(interval: Duration, timeout: Duration, now: Instant, grid: Grid) -> Self {
        Keepalive {
            interval,
            timeout,
            last_seen: now,
            next_check: grid.round_up(now + interval),
            grid,
            state: State::Quiet,
        }
    }

    /// A frame arrived (or reading resumed after a pause): the peer is alive.
    pub(crate) fn seen(&mut self, now: Instant) {
        self.last_seen = now;
        self.state = State::Quiet;
    }

    /// What to do at `now`. `reading` is false while the session has paused reads;
    /// `write_stuck_since` is when the oldest waiting write started to wait.
    pub(crate) fn check(
        &mut self,
        now: Instant,
        reading: bool,
        write_stuck_since: Option<Instant>,
    ) -> Verdict {
        let write_deadline = write_stuck_since.map(|since| since + self.timeout);
        if write_deadline.is_some_and(|due| now >= due) {
            return Verdict::Dead;
        }
        if !reading {
            return write_deadline.map_or(Verdict::WaitUntil(now + self.timeout), Verdict::WaitUntil);
        }
        let silence_deadline = self.last_seen + self.timeout;
        if now >= silence_deadline {
            return Verdict::Dead;
        }
        if now >= self.next_check {
            // The cadence counts from when the check was due, so that timer lateness (a
            // millisecond, say) does not push every later check a grid step further; a check
            // overdue by more than a step (reads were paused) counts from now.
            let due = self.next_check;
            let from = if now - due < self.grid.step { due } else { now };
            self.next_check = self.grid.round_up(from + self.interval);
            if self.state == State::Quiet && now - self.last_seen >= self.interval / 2 {
                self.state = State::Probing { since: now };
                return Verdict::Probe;
            }
        }
        let next = self.next_check.min(silence_deadline);
        Verdict::WaitUntil(write_deadline.map_or(next, |due| next.min(due)))
    }

    /// Whether a probe is out and unanswered (for logs and tests).
    #[cfg(test)]
    fn probing(&self) -> bool {
        matches!(self.state, State::Probing { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A keepalive whose grid (250 ms steps) starts at `origin`.
    fn keepalive_on(start: Instant, origin: Instant) -> Keepalive {
        let interval = 5000 * MS;
        let grid = Grid {
            origin,
            step: interval / GRID_PARTS,
        };
        Keepalive::on_grid(interval, 10_000 * MS, start, grid)
    }

    fn keepalive(start: Instant) -> Keepalive {
        keepalive_on(start, start)
    }

    #[tokio::test(start_paused = true)]
    async fn probes_a_quiet_connection_then_declares_it_dead() {
        let t0 = Instant::now();
        let mut k = keepalive(t0);
        assert_eq!(k.check(t0, true, None), Verdict::WaitUntil(t0 + 5000 * MS));
        assert_eq!(
            k.check(t0 + 4999 * MS, true, None),
            Verdict::WaitUntil(t0 + 5000 * MS)
        );
        assert_eq!(k.check(t0 + 5000 * MS, true, None), Verdict::Probe);
        assert!(k.probing());
        // One probe per silence: then wait for the deadline.
        assert_eq!(
            k.check(t0 + 5001 * MS, true, None),
            Verdict::WaitUntil(t0 + 10_000 * MS)
        );
        assert_eq!(
            k.check(t0 + 9999 * MS, true, None),
            Verdict::WaitUntil(t0 + 10_000 * MS)
        );
        assert_eq!(k.check(t0 + 10_000 * MS, true, None), Verdict::Dead);
    }

    #[tokio::test(start_paused = true)]
    async fn any_frame_answers_the_probe() {
        let t0 = Instant::now();
        let mut k = keepalive(t0);
        assert_eq!(k.check(t0 + 5000 * MS, true, None), Verdict::Probe);
        k.seen(t0 + 5020 * MS);
        assert!(!k.probing());
        // Checks keep their cadence: the next probe goes at 10 s, one wake-up per interval.
        assert_eq!(
            k.check(t0 + 5020 * MS, true, None),
            Verdict::WaitUntil(t0 + 10_000 * MS)
        );
        assert_eq!(k.check(t0 + 10_000 * MS, true, None), Verdict::Probe);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_is_never_probed() {
        let t0 = Instant::now();
        let mut k = keepalive(t0);
        for ms in (1000..60_000).step_by(1000) {
            k.seen(t0 + ms * MS);
            assert_ne!(k.check(t0 + ms * MS, true, None), Verdict::Probe, "at {ms} ms");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn silence_while_not_reading_says_nothing() {
        let t0 = Instant::now();
        let mut k = keepalive(t0);
        // Paused for a minute: not dead.
        assert_eq!(
            k.check(t0 + 60_000 * MS, false, None),
            Verdict::WaitUntil(t0 + 70_000 * MS)
        );
        k.seen(t0 + 60_000 * MS); // reading resumed
        // The overdue check finds traffic just now: no probe, the next check an interval later
        // (rounded up to the grid).
        assert_eq!(
            k.check(t0 + 60_001 * MS, true, None),
            Verdict::WaitUntil(t0 + 65_250 * MS)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn connections_opened_apart_are_checked_together() {
        let origin = Instant::now();
        // Opened 10 ms and 180 ms after the grid's origin: both first checked at 5.25 s.
        let mut a = keepalive_on(origin + 10 * MS, origin);
        let mut b = keepalive_on(origin + 180 * MS, origin);
        let first = Verdict::WaitUntil(origin + 5250 * MS);
        assert_eq!(a.check(origin + 10 * MS, true, None), first);
        assert_eq!(b.check(origin + 180 * MS, true, None), first);
        // Woken a little late, both probe; once answered, their next checks stay together on
        // the grid.
        let late = origin + 5253 * MS;
        assert_eq!(a.check(late, true, None), Verdict::Probe);
        assert_eq!(b.check(late, true, None), Verdict::Probe);
        a.seen(late + MS);
        b.seen(late + 2 * MS);
        // An interval after the check was due, not after it ran.
        let next = Verdict::WaitUntil(origin + 10_250 * MS);
        assert_eq!(a.check(late, true, None), next);
        assert_eq!(b.check(late, true, None), next);
    }

    #[test]
    fn the_grid_rounds_up_and_keeps_instants_already_on_it() {
        let origin = Instant::now();
        let grid = Grid {
            origin,
            step: 250 * MS,
        };
        assert_eq!(grid.round_up(origin), origin);
        assert_eq!(grid.round_up(origin + MS), origin + 250 * MS);
        assert_eq!(grid.round_up(origin + 500 * MS), origin + 500 * MS);
        // Before the origin (another runtime's clock): left as it is.
        let before = origin.checked_sub(MS).unwrap_or(origin);
        assert_eq!(grid.round_up(before), before);
        // A zero step (no grid) changes nothing.
        let none = Grid {
            origin,
            step: Duration::ZERO,
        };
        assert_eq!(none.round_up(origin + MS), origin + MS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_takes_is_death_even_while_frames_arrive() {
        let t0 = Instant::now();
        let mut k = keepalive(t0);
        let stuck = t0 + 1000 * MS;
        for ms in [1000, 4000, 8000, 10_999] {
            k.seen(t0 + ms * MS); // the peer keeps sending
            assert_ne!(
                k.check(t0 + ms * MS, true, Some(stuck)),
                Verdict::Dead,
                "at {ms} ms"
            );
        }
        assert_eq!(
            k.check(t0 + 10_999 * MS, true, Some(stuck)),
            Verdict::WaitUntil(t0 + 11_000 * MS)
        );
        assert_eq!(k.check(t0 + 11_000 * MS, true, Some(stuck)), Verdict::Dead);
        // Also while reads are paused.
        let mut k = keepalive(t0);
        assert_eq!(k.check(t0 + 11_000 * MS, false, Some(stuck)), Verdict::Dead);
    }
}
