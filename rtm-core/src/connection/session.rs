//! One socket's loop. It reads like its list of sources: commands from handles, the socket
//! (reads and writes from one poll, so a write never blocks it), room in the event buffer, a
//! reader that says it is blocked, one timer for every deadline (keepalive, replies, the read
//! gate), and the replacement connection after `goodbye`.

use std::time::Duration;

use futures::future::poll_fn;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tracing::{debug, warn};

use super::{
    Command,
    dial::{Connector, WsSocket},
    driver::{Attempt, Driver, SessionEnd, in_flight},
    keepalive::{Keepalive, Verdict},
    outbox::{AcksOnly, Nothing, Send},
    protocol::{Inbound, Protocol},
    read_gate::ReadGate,
    wire::{Io, Wire},
};
use crate::{DisconnectCause, state::Counters};

/// Frames handled per wake-up when a burst has already arrived.
const READ_BATCH: usize = 256;
/// Commands taken per wake-up when many are queued.
const COMMAND_BATCH: usize = 256;
/// Sends held while the socket does not take them; beyond this, commands wait in their
/// channel.
const MAX_QUEUED: usize = 1024;
/// How long a requested close waits for replies to frames already written.
const CLOSE_REPLY_GRACE: Duration = Duration::from_secs(2);
/// How long a close waits for the server's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a socket being replaced may still deliver replies to frames written on it.
const REPLACE_GRACE: Duration = Duration::from_millis(50);
/// Frames a socket being replaced may deliver from what it has already received.
const REPLACE_DRAIN: usize = 4096;

/// What one frame asks of the session.
enum Control {
    Continue,
    BufferFull,
    Retiring,
    Ended(DisconnectCause),
    Fatal(crate::Error),
}

impl<C: Connector> Driver<C> {
    /// Runs one connection until it ends.
    pub(super) async fn session(&mut self, socket: C::Socket) -> SessionEnd<C::Socket> {
        let mut wire = Wire::new(socket);
        let start = Instant::now();
        let mut keepalive = Keepalive::new(
            self.timing.keepalive_interval,
            self.timing.keepalive_timeout,
            start,
        );
        let mut gate = ReadGate::Reading;
        let mut next: Option<Attempt<C::Socket>> = None;
        let mut retiring = false;
        let mut was_reading = true;
        let wake = tokio::time::sleep_until(start);
        tokio::pin!(wake);
        let mut wake_at = start;

        loop {
            if !gate.is_reading() {
                // A queued send is about to be written and awaited just like a written one.
                let awaiting = !self.outbox.replies.is_empty() || self.outbox.queued() > 0;
                gate.on_replies_pending(awaiting, Instant::now());
            }
            if let Some(at) = earliest(self.outbox.next_deadline(true), gate.stall_deadline())
                && at < wake_at
            {
                wake.as_mut().reset(at);
                wake_at = at;
            }
            let reading = gate.is_reading();
            if reading && !was_reading {
                // We were not reading, so that silence said nothing about the peer.
                keepalive.seen(Instant::now());
            }
            was_reading = reading;
            tokio::select! {
                command = self.commands.recv(), if self.outbox.queued() < MAX_QUEUED => {
                    if let Some(done) = self.take_commands(command) {
                        return self.close(wire, done).await;
                    }
                }
                io = poll_fn(|cx| if retiring {
                    // A retiring socket takes no new sends, but still acknowledges what it
                    // delivered.
                    wire.poll_io(cx, reading, &mut AcksOnly(&mut self.outbox))
                } else {
                    wire.poll_io(cx, reading, &mut self.outbox)
                }) => match io {
                    Io::WriteFailed(e) => return lost(DisconnectCause::Io(e.to_string()), next),
                    Io::Inbound(frame) => {
                        keepalive.seen(Instant::now());
                        // Frames that have already arrived are handled in this same wake-up
                        // (up to a batch): a burst costs one pass through this loop per batch,
                        // and wakes the reader once, at its end (on every way out).
                        self.batching = true;
                        let mut frame = frame;
                        let end = 'burst: {
                            for handled in 1.. {
                                match self.on_frame(frame) {
                                    Control::Continue => {}
                                    Control::BufferFull => {
                                        if gate.on_full() {
                                            debug!("event buffer full; pausing reads until the reader catches up");
                                            break;
                                        }
                                    }
                                    Control::Retiring => {
                                        if next.is_none() {
                                            debug!("goodbye: opening the next connection before this one closes");
                                            next = Some(self.attempt_after(Duration::ZERO));
                                        }
                                        retiring = true;
                                    }
                                    stop @ (Control::Ended(_) | Control::Fatal(_)) => break 'burst Some(stop),
                                }
                                if handled == READ_BATCH {
                                    break;
                                }
                                match wire.next_ready() {
                                    Some(more) => frame = more,
                                    None => break,
                                }
                            }
                            None
                        };
                        self.end_batch();
                        match end {
                            Some(Control::Ended(cause)) => return lost(cause, next),
                            Some(Control::Fatal(error)) => return SessionEnd::Fatal(error),
                            _ => {}
                        }
                    }
                },
                () = self.shared.inbox.wait_writable(), if gate != ReadGate::Reading => gate.on_room(),
                () = self.shared.inbox.wait_reader_blocked(), if gate.stall_deadline().is_some() => {
                    debug!("reader blocked with replies pending; reading past the full buffer");
                    gate.on_reader_blocked();
                }
                () = &mut wake => {
                    let now = Instant::now();
                    if gate.stall_deadline().is_some_and(|at| now >= at) {
                        debug!("reader stalled with replies pending; reading past the full buffer");
                    }
                    gate.on_time(now);
                    if gate.is_reading() && !was_reading {
                        // Reading resumes: the pause said nothing about the peer.
                        keepalive.seen(now);
                        was_reading = true;
                    }
                    self.outbox.expire(now, true);
                    let mut verdict = keepalive.check(now, gate.is_reading(), wire.stuck_since());
                    if verdict == Verdict::Probe {
                        let protocol = self.connector.protocol();
                        self.outbox.push_probe(|id| protocol.ping(id));
                        self.outbox.replies.sweep();
                        verdict = keepalive.check(now, gate.is_reading(), wire.stuck_since());
                    }
                    let keepalive_at = match verdict {
                        Verdict::WaitUntil(at) => at,
                        Verdict::Probe => now + self.timing.keepalive_interval,
                        Verdict::Dead => {
                            // Dead, half-open, or not reading: drop the socket without waiting
                            // for a close handshake the peer will never answer.
                            warn!(timeout = ?self.timing.keepalive_timeout, stuck_write = wire.stuck_since().is_some(), "peer silent or not reading past the keepalive timeout; reconnecting");
                            return lost(DisconnectCause::KeepaliveTimeout, next);
                        }
                    };
                    wake_at = earliest(Some(keepalive_at), earliest(self.outbox.next_deadline(true), gate.stall_deadline())).unwrap_or(keepalive_at);
                    wake.as_mut().reset(wake_at);
                }
                result = in_flight(&mut next) => match result {
                    Ok(connected) => {
                        self.retire(wire).await;
                        return SessionEnd::Replaced(Box::new(connected));
                    }
                    Err(error) if error.is_retryable() => {
                        // Keep using the old socket until it closes, then reconnect normally.
                        warn!(%error, "could not open the next connection after goodbye");
                        retiring = false;
                    }
                    Err(error) => return SessionEnd::Fatal(error),
                },
            }
        }
    }

    /// Queues the send just received and whatever else is waiting (up to a batch). Returns a
    /// close request found behind them (`Some(None)` when every handle is gone), to be handled
    /// after them, in order.
    fn take_commands(&mut self, first: Option<Command>) -> Option<Option<tokio::sync::oneshot::Sender<()>>> {
        let mut command = first;
        for taken in 1.. {
            match command {
                None => return Some(None),
                Some(Command::Close { done }) => return Some(Some(done)),
                Some(Command::Send { frame, reply }) => self.outbox.push(Send { frame, reply }),
                Some(Command::Answer {
                    envelope_id,
                    with,
                    done,
                }) => self.answer(&envelope_id, with, done),
            }
            if taken == COMMAND_BATCH || self.outbox.queued() >= MAX_QUEUED {
                break;
            }
            command = match self.commands.try_recv() {
                Ok(command) => Some(command),
                Err(_) => break,
            };
        }
        None
    }

    /// What one websocket message means for the session.
    fn on_frame(&mut self, frame: Option<Result<Message, WsError>>) -> Control {
        match frame {
            Some(Ok(Message::Text(text))) => self.on_text(text),
            Some(Ok(Message::Binary(_))) => {
                self.malformed("binary frame");
                Control::Continue
            }
            Some(Ok(Message::Close(_))) | None => Control::Ended(DisconnectCause::Closed),
            Some(Err(e)) => Control::Ended(DisconnectCause::Io(e.to_string())),
            Some(Ok(_)) => Control::Continue, // websocket ping/pong: tungstenite answers pings
        }
    }

    /// The per-frame hot path: classify, route replies, buffer events.
    fn on_text(&mut self, text: Utf8Bytes) -> Control {
        match self.connector.protocol().classify(text) {
            Inbound::Event(event) | Inbound::Hello(event) => {
                if self.deliver(event) {
                    Control::BufferFull
                } else {
                    Control::Continue
                }
            }
            Inbound::Reply(reply) => {
                let reply_to = reply.reply_to();
                if !self.outbox.replies.resolve(reply) {
                    debug!(reply_to, "reply to a frame nobody waits for");
                    Counters::bump(&self.shared.counters.unmatched_replies);
                }
                Control::Continue
            }
            // A pong to an application's own `ping` resolves its send; any other is the
            // keepalive's, and arriving at all was its job.
            Inbound::Pong(Some(reply)) => {
                self.outbox.replies.resolve(reply);
                Control::Continue
            }
            Inbound::Pong(None) => Control::Continue,
            Inbound::Retiring(event) => {
                self.deliver(event);
                Control::Retiring
            }
            Inbound::Ended(cause, event) => {
                if let Some(event) = event {
                    self.deliver(event);
                }
                Control::Ended(cause)
            }
            Inbound::Ack { ack, event } => {
                self.outbox.push_ack(ack);
                match event.map(|event| self.deliver(event)) {
                    Some(true) => Control::BufferFull,
                    _ => Control::Continue,
                }
            }
            Inbound::Held {
                ack,
                mut event,
                ack_unanswered,
            } => {
                let held = event
                    .envelope_mut()
                    .map(|envelope| envelope.hold(self.route.clone()));
                match event.shared_envelope() {
                    Some(envelope) if held.is_some() => {
                        // A manual ack waits for the application as long as Slack may still
                        // redeliver (a late ack still stops its retries).
                        let wait = if ack_unanswered {
                            self.timing.response_budget
                        } else {
                            super::socket_mode::DEDUPE_WINDOW
                        };
                        let deadline = Instant::now() + wait;
                        self.outbox
                            .hold_ack(envelope.clone(), ack, ack_unanswered, deadline);
                    }
                    _ => self.outbox.push_ack(ack),
                }
                if self.deliver(event) {
                    Control::BufferFull
                } else {
                    Control::Continue
                }
            }
            Inbound::Fatal(error) => Control::Fatal(error),
            Inbound::Malformed(reason) => {
                self.malformed(reason);
                Control::Continue
            }
        }
    }

    /// Buffers an event; returns whether the buffer is now full.
    ///
    /// Readers sleep only on an empty buffer, so only an event that made it non-empty needs to
    /// wake them; during a burst that wake-up waits for the burst's end ([`Self::end_batch`]).
    /// A reader that is already awake takes the events at once either way. The owed wake-up
    /// is this socket's own: with several sockets feeding one inbox, each wakes readers for
    /// the events it buffered.
    fn deliver(&mut self, event: crate::Event) -> bool {
        Counters::bump(&self.shared.counters.events);
        let pushed = self.shared.inbox.push_quiet(event);
        if pushed.was_empty {
            if self.batching {
                self.wake_owed = true;
            } else {
                self.shared.inbox.wake_readers();
            }
        }
        pushed.full
    }

    /// Ends a burst: wakes readers once if it buffered into an empty inbox.
    fn end_batch(&mut self) {
        self.batching = false;
        if std::mem::take(&mut self.wake_owed) {
            self.shared.inbox.wake_readers();
        }
    }

    fn malformed(&self, reason: &'static str) {
        warn!(reason, "skipping a malformed frame");
        Counters::bump(&self.shared.counters.malformed_frames);
    }

    /// A requested close: writes what is queued and lets replies to written frames arrive
    /// (bounded by [`CLOSE_REPLY_GRACE`] and the reply timeout) while still buffering events,
    /// then closes (bounded by [`CLOSE_GRACE`], so a dead peer cannot hang us).
    async fn close(
        &mut self,
        mut wire: Wire<C::Socket>,
        done: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> SessionEnd<C::Socket> {
        self.outbox.replies.sweep();
        // Nobody will answer held acks any more: they go out empty, before the close.
        self.outbox.release_held();
        let grace = CLOSE_REPLY_GRACE.min(self.shared.reply_timeout);
        let _ = tokio::time::timeout(grace, async {
            use super::outbox::FrameSource;
            while self.outbox.has_frames() || !wire.is_idle() || !self.outbox.replies.is_empty() {
                match poll_fn(|cx| wire.poll_io(cx, true, &mut self.outbox)).await {
                    Io::Inbound(Some(Ok(Message::Text(text)))) => {
                        // Control events do not matter any more: we are closing. An ack held
                        // for an answer goes out at once.
                        let _ = self.on_text(text);
                        self.outbox.release_held();
                    }
                    Io::Inbound(Some(Ok(_))) => {}
                    Io::Inbound(_) | Io::WriteFailed(_) => break,
                }
            }
        })
        .await;
        let mut socket = wire.into_socket();
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            use futures::{SinkExt, StreamExt};
            let _ = socket.close().await;
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    let _ = self.on_text(text);
                }
            }
        })
        .await;
        SessionEnd::Close(done)
    }

    /// Make before break: the replacement said `hello`. Delivers what this socket has already
    /// received, gives replies to frames written on it a short grace, and lets it go without
    /// waiting for the server to close it.
    async fn retire(&mut self, mut wire: Wire<C::Socket>) {
        for _ in 0..REPLACE_DRAIN {
            match wire.next_ready() {
                Some(frame) => {
                    if let Control::Ended(_) | Control::Fatal(_) = self.on_frame(frame) {
                        break;
                    }
                }
                None => break,
            }
        }
        if !self.outbox.replies.is_empty() {
            let _ = tokio::time::timeout(REPLACE_GRACE, async {
                while !self.outbox.replies.is_empty() {
                    match poll_fn(|cx| wire.poll_io(cx, true, &mut Nothing)).await {
                        Io::Inbound(frame @ Some(Ok(_))) => {
                            if let Control::Ended(_) | Control::Fatal(_) = self.on_frame(frame) {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
            })
            .await;
        }
        wire.close_detached(CLOSE_GRACE);
    }
}

fn lost<S: WsSocket>(cause: DisconnectCause, next: Option<Attempt<S>>) -> SessionEnd<S> {
    SessionEnd::Lost { cause, next }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
