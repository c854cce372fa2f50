//! The read gate: whether the session reads the socket, given how far behind the reader is.
//!
//! This is the one place of the read-past-full rule:
//! - **Reading**: the event buffer has room.
//! - **Paused**: the buffer is full, so the socket is not read; TCP pushes back on the server
//!   and memory stays bounded by the buffer.
//! - **Overflowing**: the buffer is full *and* the reader waits on a reply. Replies travel
//!   behind the events sent before them, so a reader that awaits a reply before reading on (a
//!   handler calling `ctx.reply(..).await`, a loop awaiting each send) would wait forever for a
//!   reply we never read. So the session reads past the limit until the reader makes room.
//!
//! The reader "waits on a reply" when sends await replies and either the reader says so (the
//! dispatcher with every permit held) or it has not made room for [`READER_STALL`].

use std::time::Duration;

use tokio::time::Instant;

/// How long a full buffer may stay untouched, with sends awaiting replies, before the session
/// reads past it. Longer than a reader needs to work through a full buffer; short enough that
/// a reader blocked on a reply barely notices.
pub(crate) const READER_STALL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadGate {
    Reading,
    /// `stall_at`: when the session reads past the full buffer, if replies are still pending.
    Paused {
        stall_at: Option<Instant>,
    },
    Overflowing,
}

impl ReadGate {
    pub(crate) fn is_reading(self) -> bool {
        !matches!(self, ReadGate::Paused { .. })
    }

    /// The buffer became full; returns whether reading stops.
    pub(crate) fn on_full(&mut self) -> bool {
        match self {
            ReadGate::Reading => {
                *self = ReadGate::Paused { stall_at: None };
                true
            }
            ReadGate::Paused { .. } => true,
            ReadGate::Overflowing => false,
        }
    }

    /// The reader made room.
    pub(crate) fn on_room(&mut self) {
        *self = ReadGate::Reading;
    }

    /// Arms or disarms the stall deadline as sends start or stop awaiting replies.
    pub(crate) fn on_replies_pending(&mut self, pending: bool, now: Instant) {
        if let ReadGate::Paused { stall_at } = self {
            *stall_at = match (pending, *stall_at) {
                (false, _) => None,
                (true, None) => Some(now + READER_STALL),
                (true, armed) => armed,
            };
        }
    }

    /// When the stall deadline passes, if armed.
    pub(crate) fn stall_deadline(self) -> Option<Instant> {
        match self {
            ReadGate::Paused { stall_at } => stall_at,
            _ => None,
        }
    }

    /// Time passed: reads past the buffer once the stall deadline is reached.
    pub(crate) fn on_time(&mut self, now: Instant) {
        if self.stall_deadline().is_some_and(|at| now >= at) {
            *self = ReadGate::Overflowing;
        }
    }

    /// The reader said it cannot go on until a reply arrives.
    pub(crate) fn on_reader_blocked(&mut self) {
        if matches!(self, ReadGate::Paused { stall_at: Some(_) }) {
            *self = ReadGate::Overflowing;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pauses_when_full_and_resumes_on_room() {
        let t0 = Instant::now();
        let mut gate = ReadGate::Reading;
        assert!(gate.on_full());
        assert!(!gate.is_reading());
        // No replies pending: a reader that is merely slow never makes us read past full.
        gate.on_replies_pending(false, t0);
        gate.on_time(t0 + Duration::from_secs(3600));
        assert!(!gate.is_reading());
        gate.on_reader_blocked();
        assert!(!gate.is_reading());
        gate.on_room();
        assert_eq!(gate, ReadGate::Reading);
    }

    #[tokio::test(start_paused = true)]
    async fn reads_past_full_after_the_stall_when_replies_are_pending() {
        let t0 = Instant::now();
        let mut gate = ReadGate::Reading;
        gate.on_full();
        gate.on_replies_pending(true, t0);
        assert_eq!(gate.stall_deadline(), Some(t0 + READER_STALL));
        gate.on_replies_pending(true, t0 + Duration::from_millis(50)); // stays armed from t0
        gate.on_time(t0 + READER_STALL - Duration::from_millis(1));
        assert!(!gate.is_reading());
        gate.on_time(t0 + READER_STALL);
        assert_eq!(gate, ReadGate::Overflowing);
        assert!(!gate.on_full(), "overflowing keeps reading");
        gate.on_room();
        assert_eq!(gate, ReadGate::Reading);
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_reader_with_replies_pending_reads_past_at_once() {
        let t0 = Instant::now();
        let mut gate = ReadGate::Reading;
        gate.on_full();
        gate.on_replies_pending(true, t0);
        gate.on_reader_blocked();
        assert_eq!(gate, ReadGate::Overflowing);
        // Replies all answered: the deadline disarms.
        let mut gate = ReadGate::Paused { stall_at: None };
        gate.on_replies_pending(true, t0);
        gate.on_replies_pending(false, t0);
        assert_eq!(gate.stall_deadline(), None);
    }
}
