//! Keepalive: is the peer still there?
//!
//! Any inbound frame proves the peer alive. Every `interval` the connection is checked, and
//! probed with a ping if nothing arrived for at least half the interval (a busy connection is
//! never pinged). One that stays silent for `timeout` is dead, and so is one whose peer has
//! not taken a write for `timeout` (it stopped reading: its receive window is full). A dead
//! connection is dropped without a close handshake, which such a peer would never answer.
//!
//! The checks keep a fixed cadence, so an idle connection costs one wake-up per interval (the
//! probe), not one per answer.
//!
//! While the session does not read (the application is behind), silence says nothing about
//! the peer, so the clock restarts when reading resumes.

use std::time::Duration;

use tokio::time::Instant;

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
    /// When the next check is due.
    next_check: Instant,
    state: State,
}

impl Keepalive {
    pub(crate) fn new(interval: Duration, timeout: Duration, now: Instant) -> Self {
        Keepalive {
            interval,
            timeout,
            last_seen: now,
            next_check: now + interval,
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
            self.next_check = now + self.interval;
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

    fn keepalive(start: Instant) -> Keepalive {
        Keepalive::new(5000 * MS, 10_000 * MS, start)
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
        // The overdue check finds traffic just now: no probe, the next check an interval later.
        assert_eq!(
            k.check(t0 + 60_001 * MS, true, None),
            Verdict::WaitUntil(t0 + 65_001 * MS)
        );
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
