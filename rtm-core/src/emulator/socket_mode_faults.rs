//! Socket Mode fault injection (protocol §7.6, checklist §8): the faults RTM sockets have
//! (an abrupt drop, silence, a server that stops reading), plus what only Socket Mode has:
//! upgrades refused with HTTP 409, and envelopes routed to ghost registrations.
//!
//! Each switch takes effect at once on every Socket Mode socket, open or opened later, and
//! leaves RTM sockets alone (their faults are in `faults.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::time::Instant;
use tracing::debug;

use super::Emulator;
use super::gate::Gate;
use super::state::lock;

/// The Socket Mode fault switches, kept in the Socket Mode state.
#[derive(Debug, Default)]
pub(super) struct SocketModeFaults {
    /// Writes are held (no envelopes, no pings, no pongs) while set; TCP stays open.
    silent: Arc<AtomicBool>,
    /// Client frames are not read (so pings go unanswered) while set; writes go on.
    reading_stopped: Arc<AtomicBool>,
    /// Upgrades still to refuse with 409.
    refuse_upgrades: usize,
    /// Envelopes may go to ghost registrations (and are lost there).
    pub(super) route_to_ghosts: bool,
    /// Replaces the builder's socket cap while set.
    pub(super) max_sockets: Option<usize>,
}

impl SocketModeFaults {
    /// A gate for a new socket, following the silence and stop-reading switches.
    pub(super) fn gate(&self) -> Arc<Gate> {
        Arc::new(Gate::new(
            Arc::clone(&self.silent),
            Arc::clone(&self.reading_stopped),
        ))
    }

    /// Whether this upgrade is to be refused (counting it down).
    pub(super) fn take_refusal(&mut self) -> bool {
        let refuse = self.refuse_upgrades > 0;
        self.refuse_upgrades = self.refuse_upgrades.saturating_sub(1);
        refuse
    }
}

impl Emulator {
    /// Socket Mode: cuts every open socket abruptly: no `disconnect`, no close frame, the TCP
    /// connection just ends, as when a network path dies. Slack never saw a close, so each
    /// stays registered as a ghost for the builder's
    /// [`socket_mode_ghost_lifetime`](super::EmulatorBuilder::socket_mode_ghost_lifetime).
    pub fn socket_mode_drop_connections(&self) {
        debug!("fault: dropping every socket mode socket");
        let state = lock(&self.shared().socket_mode);
        for socket in state.sockets.values().filter(|s| s.ghost_until.is_none()) {
            socket.gate.abort();
        }
    }

    /// Socket Mode: while `true`, every socket goes silent but keeps its TCP connection:
    /// no envelopes, no websocket pings, no pongs, no `hello` on new sockets. What would have
    /// been sent is held and sent once silence ends. Client frames are still read. A client
    /// notices only through its own keepalive.
    pub fn socket_mode_set_silent(&self, silent: bool) {
        debug!(silent, "fault: socket mode silence");
        let state = lock(&self.shared().socket_mode);
        state.faults.silent.store(silent, Ordering::SeqCst);
        if !silent {
            state.sockets.values().for_each(|s| s.gate.wake_writer());
        }
    }

    /// Socket Mode: while `true`, no socket reads its client's frames (acks and pings pile up
    /// unread, pings go unanswered) while envelopes and pings keep going out: a server that
    /// stalled.
    pub fn socket_mode_stop_reading(&self, stopped: bool) {
        debug!(stopped, "fault: socket mode stall");
        let state = lock(&self.shared().socket_mode);
        state.faults.reading_stopped.store(stopped, Ordering::SeqCst);
        if !stopped {
            state.sockets.values().for_each(|s| s.gate.wake_reader());
        }
    }

    /// Socket Mode: answers the next `times` websocket upgrades on `/link/` with HTTP 409
    /// (their tickets are used up), as Slack answers a URL that is reused or expired.
    pub fn socket_mode_refuse_upgrades(&self, times: usize) {
        lock(&self.shared().socket_mode).faults.refuse_upgrades = times;
    }

    /// Socket Mode: while `true`, envelopes are routed to ghost registrations too (one pick
    /// among every registered socket, as Slack does), where they are lost unacked; un-acked
    /// `events_api` envelopes then come back on the retry schedule. Default `false`: ghosts
    /// only count against the cap.
    pub fn socket_mode_route_to_ghosts(&self, route: bool) {
        lock(&self.shared().socket_mode).faults.route_to_ghosts = route;
    }

    /// Socket Mode: replaces the builder's per-app socket cap from now on (`None` restores
    /// it): sockets opened beyond it get `hello`, `disconnect` with `too_many_websockets` and
    /// a close. Open sockets are left alone.
    pub fn socket_mode_limit_sockets(&self, max: Option<usize>) {
        lock(&self.shared().socket_mode).faults.max_sockets = max;
    }

    /// Socket Mode: ghost registrations now (sockets that ended without a close handshake,
    /// within their lifetime).
    #[must_use]
    pub fn socket_mode_ghosts(&self) -> usize {
        let mut state = lock(&self.shared().socket_mode);
        state.forget_ghosts(Instant::now());
        state.sockets.values().filter(|s| s.ghost_until.is_some()).count()
    }

    /// Socket Mode: the most sockets that were open at once so far, counting those refused
    /// over the cap while they lasted: what a client's socket count peaked at.
    #[must_use]
    pub fn socket_mode_most_open(&self) -> usize {
        super::socket_mode::most_open(self.shared())
    }

    /// Socket Mode: the most sockets that were open (and under the cap) at the same time, to
    /// check that a client never holds more than it was configured for.
    #[must_use]
    pub fn socket_mode_peak_connections(&self) -> usize {
        lock(&self.shared().socket_mode).peak_connections
    }
}
