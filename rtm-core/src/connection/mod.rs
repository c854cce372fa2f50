//! The one task that owns the socket. Handles talk to it through a command channel; it talks
//! back through the inbox (events), the pending-reply table (replies) and a `watch` channel
//! (lifecycle). It also owns keepalive and reconnects.
//!
//! Transport-neutral pieces (backoff, pending replies, the inbox, keepalive timing) are kept
//! apart from the RTM framing (`dial` for `rtm.connect` + `hello`, `handle_text` for RTM
//! control events) so that a Socket Mode transport can reuse them.

mod backoff;
mod dial;
mod pending;

use std::{
    collections::VecDeque,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{FutureExt, SinkExt, StreamExt};
use tokio::{
    sync::{mpsc, oneshot, watch},
    time::{Instant, MissedTickBehavior},
};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tracing::{debug, info, warn};

use self::{
    backoff::Backoff,
    dial::{Connected, Dialer, Socket},
    pending::Pending,
};
use crate::{
    ClientConfig, ConnectionInfo, ConnectionState, DisconnectCause, Error, SendError,
    event::{Frame, classify},
    inbox::Inbox,
    outgoing::Outgoing,
    reply::ReplySlot,
    state::Counters,
    web_api,
};

/// How long a clean close waits for the server's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a requested close waits for replies to frames already written.
const CLOSE_REPLY_GRACE: Duration = Duration::from_secs(2);
/// Sends written per batch before the socket is flushed.
const WRITE_BATCH: usize = 256;
/// Frames handled per wake-up when a burst has already arrived.
const READ_BATCH: usize = 256;
/// How long a full buffer may stay untouched, with sends awaiting replies, before the task
/// reads past it (see `Task::session`). Longer than a reader needs to work through a full
/// buffer; short enough that a reader blocked on a reply barely notices.
const READER_STALL: Duration = Duration::from_millis(100);

/// State shared between the handles and the task.
pub(crate) struct Shared {
    pub(crate) inbox: Inbox,
    pub(crate) state: watch::Sender<ConnectionState>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) info: Mutex<Arc<ConnectionInfo>>,
    pub(crate) reply_timeout: Duration,
}

/// Requests from handles to the task.
pub(crate) enum Command {
    /// Write a frame; `reply` receives Slack's answer (or is `None` for frames Slack does
    /// not answer, such as `typing`).
    Send {
        frame: Outgoing,
        reply: Option<ReplySlot>,
    },
    /// Close cleanly; `done` fires once the socket is closed.
    Close { done: oneshot::Sender<()> },
}

type Attempt = Pin<Box<dyn Future<Output = Result<Connected, Error>> + Send>>;

/// Connects (retrying transient failures a bounded number of times) and spawns the task.
pub(crate) async fn start(
    config: ClientConfig,
) -> Result<(Arc<Shared>, mpsc::UnboundedSender<Command>), Error> {
    let http = web_api::http_client()?;
    let counters = Arc::new(Counters::default());
    let mut backoff = Backoff::new(config.backoff_base, config.backoff_max);
    let attempts = config.initial_connect_attempts;
    let (state, _) = watch::channel(ConnectionState::Connecting);
    let inbox = Inbox::new(config.event_buffer);
    let reply_timeout = config.reply_timeout;
    let dialer = Arc::new(Dialer::new(config, http, counters.clone()));

    backoff.next_delay(); // the initial connect has no "immediate" retry
    let mut failures = 0;
    let mut rate_limited = 0;
    let connected = loop {
        match dialer.clone().dial().await {
            Ok(connected) => break connected,
            Err(Error::RateLimited { retry_after }) if rate_limited < attempts * 2 => {
                rate_limited += 1;
                let wait = if retry_after.is_zero() {
                    backoff.next_delay()
                } else {
                    retry_after
                };
                info!(?wait, "rtm.connect rate limited; waiting");
                tokio::time::sleep(wait).await;
            }
            Err(e) if e.is_retryable() && failures + 1 < attempts => {
                failures += 1;
                let wait = backoff.next_delay();
                warn!(error = %e, attempt = failures, ?wait, "connect failed; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    };
    backoff.reset();

    let (commands_tx, commands) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        inbox,
        state,
        counters,
        info: Mutex::new(Arc::new(connected.info.clone())),
        reply_timeout,
    });
    let task = Task {
        shared: shared.clone(),
        dialer,
        commands,
        backlog: VecDeque::new(),
        pending: Pending::default(),
        next_id: 1,
        backoff,
    };
    tokio::spawn(task.run(connected));
    Ok((shared, commands_tx))
}

struct Task {
    shared: Arc<Shared>,
    dialer: Arc<Dialer>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// Sends received while no connection could carry them, in call order.
    backlog: VecDeque<Command>,
    pending: Pending,
    /// Ids are unique for the client's lifetime, so a late reply from an old connection can
    /// never be mistaken for the reply to a new frame.
    next_id: u64,
    backoff: Backoff,
}

/// Why a session ended.
enum SessionEnd {
    /// Closed on request (or every handle was dropped).
    Close(Option<oneshot::Sender<()>>),
    /// The connection is gone; `next` is an attempt already in flight (after `goodbye`).
    Lost {
        cause: DisconnectCause,
        next: Option<Attempt>,
    },
    /// Make before break: the next connection is ready and the old one was closed.
    Replaced(Box<Connected>),
    /// The replacement connection hit a fatal error.
    Fatal(Error),
}

/// What a frame asks the session to do.
enum Control {
    Continue,
    BufferFull,
    Goodbye,
    Reconnect(DisconnectCause),
}

impl Task {
    async fn run(mut self, mut connected: Connected) {
        let mut first = true;
        loop {
            if !first {
                Counters::bump(&self.shared.counters.reconnects);
            }
            first = false;
            self.on_connected(&connected);
            let end = self.session(connected.socket).await;
            self.pending.fail_all(&SendError::ConnectionLost);
            connected = match end {
                SessionEnd::Replaced(next) => {
                    info!(cause = %DisconnectCause::Goodbye, "switched to a new connection");
                    *next
                }
                SessionEnd::Close(done) => return self.finish(Ok(()), done),
                SessionEnd::Fatal(error) => return self.finish(Err(error), None),
                SessionEnd::Lost { cause, next } => {
                    info!(%cause, "connection lost; reconnecting");
                    self.shared
                        .state
                        .send_replace(ConnectionState::Reconnecting { cause });
                    match self.reconnect(next).await {
                        Ok(next) => next,
                        Err(Ok(done)) => return self.finish(Ok(()), done),
                        Err(Err(error)) => return self.finish(Err(error), None),
                    }
                }
            };
        }
    }

    fn on_connected(&mut self, connected: &Connected) {
        debug!(team = %connected.info.team.id, user = %connected.info.self_user.id, "connected");
        self.backoff.reset();
        *self.shared.info.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(connected.info.clone());
        self.shared.state.send_replace(ConnectionState::Connected);
        Counters::add(&self.shared.counters.events, connected.first_events.len() as u64);
        // `hello` and any events that came before it, as one unit.
        self.shared.inbox.extend(connected.first_events.iter().cloned());
    }

    /// Stops for good: readers drain what is buffered and then see `result`.
    fn finish(mut self, result: Result<(), Error>, done: Option<oneshot::Sender<()>>) {
        match &result {
            Ok(()) => debug!("client closed"),
            Err(error) => warn!(%error, "client stopped"),
        }
        self.commands.close();
        self.pending.fail_all(&SendError::ConnectionLost);
        for command in self
            .backlog
            .drain(..)
            .chain(std::iter::from_fn(|| self.commands.try_recv().ok()))
        {
            match command {
                Command::Send {
                    reply: Some(slot), ..
                } => {
                    slot.send(Err(SendError::Closed));
                }
                Command::Send { reply: None, .. } => {}
                Command::Close { done } => {
                    let _ = done.send(());
                }
            }
        }
        self.shared.state.send_replace(ConnectionState::Closed {
            error: result.as_ref().err().cloned(),
        });
        self.shared.inbox.end(result);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// Retries until connected, closed on request (`Err(Ok)`) or a fatal error (`Err(Err)`).
    async fn reconnect(
        &mut self,
        mut in_flight: Option<Attempt>,
    ) -> Result<Connected, Result<Option<oneshot::Sender<()>>, Error>> {
        loop {
            let attempt = match in_flight.take() {
                Some(attempt) => attempt,
                None => {
                    let delay = self.backoff.next_delay();
                    self.attempt_after(delay)
                }
            };
            let result = self.serve_commands_while(attempt).await.map_err(Ok)?;
            match result {
                Ok(connected) => return Ok(connected),
                Err(Error::RateLimited { retry_after }) if !retry_after.is_zero() => {
                    info!(
                        ?retry_after,
                        "rtm.connect rate limited; waiting exactly Retry-After"
                    );
                    in_flight = Some(self.attempt_after(retry_after));
                }
                Err(error) if error.is_retryable() => warn!(%error, "reconnect attempt failed"),
                Err(error) => return Err(Err(error)),
            }
        }
    }

    fn attempt_after(&self, delay: Duration) -> Attempt {
        let dialer = self.dialer.clone();
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            dialer.dial().await
        })
    }

    /// Awaits `attempt` while queueing sends; returns early on a close request.
    async fn serve_commands_while(
        &mut self,
        mut attempt: Attempt,
    ) -> Result<Result<Connected, Error>, Option<oneshot::Sender<()>>> {
        loop {
            // Queued sends keep their reply timeout while no connection can carry them.
            let next_expiry = self.backlog.iter().find_map(|command| match command {
                Command::Send {
                    reply: Some(slot), ..
                } => Some(slot.deadline),
                _ => None,
            });
            tokio::select! {
                result = &mut attempt => return Ok(result),
                command = self.commands.recv() => match command {
                    Some(Command::Close { done }) => return Err(Some(done)),
                    None => return Err(None),
                    Some(send) => self.backlog.push_back(send),
                },
                () = sleep_until_some(next_expiry) => self.expire_backlog(),
            }
        }
    }

    /// Fails queued sends whose reply timeout passed; they are never written.
    fn expire_backlog(&mut self) {
        let now = Instant::now();
        let timeout = self.dialer.config.reply_timeout;
        let mut kept = VecDeque::with_capacity(self.backlog.len());
        for command in self.backlog.drain(..) {
            match command {
                Command::Send {
                    reply: Some(slot), ..
                } if slot.deadline <= now => {
                    slot.send(Err(SendError::Timeout(timeout)));
                }
                other => kept.push_back(other),
            }
        }
        self.backlog = kept;
    }

    /// Runs one connection until it ends.
    async fn session(&mut self, mut socket: Socket) -> SessionEnd {
        let keepalive = self.dialer.config.keepalive_interval;
        let timeout = self.dialer.config.keepalive_timeout;
        if let Err(e) = self.flush_backlog(&mut socket).await {
            return SessionEnd::Lost {
                cause: DisconnectCause::Io(e.to_string()),
                next: None,
            };
        }
        let mut ping_timer = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
        ping_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_seen = Instant::now();
        let deadline = tokio::time::sleep_until(last_seen + timeout);
        tokio::pin!(deadline);
        // The reader is behind: stop reading the socket, so TCP pushes back on Slack and memory
        // stays bounded by the buffer. One exception: replies travel behind the events sent
        // before them, so a reader that awaits a reply before reading on (a dispatcher handler
        // calling `ctx.reply(..).await`, or a loop awaiting each send) would wait forever for
        // a reply we never read. So when sends await replies and the reader has not made room
        // within `READER_STALL` (or says it is blocked, as the dispatcher does), the task
        // reads on past the limit until the reader next makes room. A reader that keeps
        // draining never triggers this, however many replies it has in flight.
        let mut buffer_full = self.shared.inbox.is_full();
        let mut overflowing = false;
        let reader_stall = READER_STALL.min(self.dialer.config.reply_timeout / 4);
        let stall = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(stall);
        let mut stall_armed = false;
        let mut next: Option<Attempt> = None;
        let mut was_reading = true;
        // One timer for every reply deadline, re-armed lazily to the oldest pending send.
        let reply_timeout = self.dialer.config.reply_timeout;
        let expiry = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(expiry);
        let mut expiry_armed = false;

        loop {
            if !expiry_armed && let Some(deadline) = self.pending.next_deadline() {
                expiry.as_mut().reset(deadline);
                expiry_armed = true;
            }
            let may_overflow = buffer_full && !overflowing && !self.pending.is_empty();
            if !may_overflow {
                stall_armed = false;
            } else if !stall_armed {
                stall.as_mut().reset(Instant::now() + reader_stall);
                stall_armed = true;
            }
            let reading = !buffer_full || overflowing;
            if reading && !was_reading {
                // We were not reading, so that silence says nothing about the peer.
                last_seen = Instant::now();
            }
            was_reading = reading;
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Close { done }) => {
                        self.close(socket).await;
                        return SessionEnd::Close(Some(done));
                    }
                    None => {
                        self.close(socket).await;
                        return SessionEnd::Close(None);
                    }
                    Some(Command::Send { frame, reply }) => match self.write_sends(&mut socket, frame, reply).await {
                        Ok(None) => {}
                        Ok(Some(done)) => {
                            self.close(socket).await;
                            return SessionEnd::Close(Some(done));
                        }
                        Err(e) => return SessionEnd::Lost { cause: DisconnectCause::Io(e.to_string()), next },
                    },
                },
                message = socket.next(), if reading => {
                    last_seen = Instant::now();
                    // Frames that have already arrived are handled in this same wake-up (up
                    // to a batch), so a burst costs one pass through this loop per batch
                    // rather than per frame.
                    let mut message = message;
                    let mut frames = 1;
                    let lost = loop {
                        match self.on_message(message) {
                            Control::Continue => {}
                            Control::BufferFull => {
                                buffer_full = true;
                                if !overflowing {
                                    debug!("event buffer full; pausing reads until the reader catches up");
                                    break None;
                                }
                            }
                            Control::Goodbye => {
                                if next.is_none() {
                                    debug!("goodbye: opening the next connection before this one closes");
                                    next = Some(self.attempt_after(Duration::ZERO));
                                }
                            }
                            Control::Reconnect(cause) => break Some(cause),
                        }
                        if frames == READ_BATCH {
                            break None;
                        }
                        // A noop waker is fine here: the select above polls the socket again
                        // with the task's own waker before the task sleeps.
                        match socket.next().now_or_never() {
                            Some(more) => message = more,
                            None => break None,
                        }
                        frames += 1;
                    };
                    if let Some(cause) = lost {
                        return SessionEnd::Lost { cause, next };
                    }
                }
                () = self.shared.inbox.wait_writable(), if buffer_full => {
                    buffer_full = false;
                    overflowing = false;
                }
                () = &mut stall, if stall_armed => {
                    debug!("reader stalled with replies pending; reading past the full buffer");
                    stall_armed = false;
                    overflowing = true;
                }
                () = self.shared.inbox.wait_reader_blocked(), if may_overflow => {
                    debug!("reader blocked with replies pending; reading past the full buffer");
                    stall_armed = false;
                    overflowing = true;
                }
                _ = ping_timer.tick() => {
                    // Ping only a quiet connection: any inbound frame already proves the peer
                    // alive. An RTM `ping`, not a websocket ping: a server whose websocket
                    // library answers protocol pings on its own can stall at the RTM level
                    // (the "silent" failure) and still pong; its `pong` proves RTM is alive.
                    if last_seen.elapsed() >= keepalive / 2
                        && let Err(e) = socket.send(Message::Text(ping_frame(self.take_id()))).await
                    {
                        return SessionEnd::Lost { cause: DisconnectCause::Io(e.to_string()), next };
                    }
                    self.pending.sweep();
                }
                () = &mut expiry, if expiry_armed => {
                    expiry_armed = false;
                    self.pending.expire(Instant::now(), reply_timeout);
                }
                () = &mut deadline, if reading => {
                    let due = last_seen + timeout;
                    if Instant::now() >= due {
                        // Dead or half-open: drop the socket without waiting for a close
                        // handshake the peer will never answer.
                        warn!(?timeout, "no frame within the keepalive timeout; reconnecting");
                        return SessionEnd::Lost { cause: DisconnectCause::KeepaliveTimeout, next };
                    }
                    deadline.as_mut().reset(due);
                }
                result = in_flight(&mut next) => match result {
                    Ok(connected) => {
                        // Everything the old socket still carries comes before the new one's
                        // events; the new socket buffers meanwhile.
                        self.close_socket(socket).await;
                        return SessionEnd::Replaced(Box::new(connected));
                    }
                    Err(error) if error.is_retryable() => {
                        // Keep the old socket until it closes, then reconnect normally.
                        warn!(%error, "could not open the next connection after goodbye");
                        next = None;
                    }
                    Err(error) => return SessionEnd::Fatal(error),
                },
            }
        }
    }

    /// A requested close: lets replies to frames already written arrive (bounded by
    /// [`CLOSE_REPLY_GRACE`] and the reply timeout) while still buffering events, then closes.
    async fn close(&mut self, mut socket: Socket) {
        self.pending.sweep();
        let grace = CLOSE_REPLY_GRACE.min(self.dialer.config.reply_timeout);
        let _ = tokio::time::timeout(grace, async {
            while !self.pending.is_empty() {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        // Control events do not matter any more: we are closing.
                        let _ = self.handle_text(text);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                }
            }
        })
        .await;
        self.close_socket(socket).await;
    }

    /// Sends a close frame and reads until the server's close (bounded by [`CLOSE_GRACE`], so
    /// a dead peer cannot hang us). Frames that arrive meanwhile are still delivered.
    async fn close_socket(&mut self, mut socket: Socket) {
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            let _ = socket.close(None).await;
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    let _ = self.handle_text(text);
                }
            }
        })
        .await;
    }

    /// What one websocket message means for the session.
    fn on_message(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Control {
        match message {
            Some(Ok(Message::Text(text))) => self.handle_text(text),
            Some(Ok(Message::Binary(_))) => {
                self.malformed("binary frame");
                Control::Continue
            }
            Some(Ok(Message::Close(_))) | None => Control::Reconnect(DisconnectCause::Closed),
            Some(Err(e)) => Control::Reconnect(DisconnectCause::Io(e.to_string())),
            Some(Ok(_)) => Control::Continue, // websocket ping/pong: tungstenite answers pings
        }
    }

    /// The per-frame hot path: classify, route replies, buffer events.
    fn handle_text(&mut self, text: Utf8Bytes) -> Control {
        match classify(text) {
            Frame::Event(event) => {
                let control = match event.kind() {
                    "goodbye" => Control::Goodbye,
                    "team_migration_started" => Control::Reconnect(DisconnectCause::TeamMigration),
                    "error" => error_event_control(&event),
                    _ => Control::Continue,
                };
                Counters::bump(&self.shared.counters.events);
                let full = self.shared.inbox.push(event);
                match control {
                    Control::Continue if full => Control::BufferFull,
                    other => other,
                }
            }
            Frame::Reply { reply_to, text, .. } => {
                if !self.pending.resolve(reply_to, text) {
                    debug!(reply_to, "reply to a frame nobody waits for");
                    Counters::bump(&self.shared.counters.unmatched_replies);
                }
                Control::Continue
            }
            Frame::Pong => Control::Continue,
            Frame::Malformed(reason) => {
                self.malformed(reason);
                Control::Continue
            }
        }
    }

    fn malformed(&self, reason: &'static str) {
        warn!(reason, "skipping a malformed frame");
        Counters::bump(&self.shared.counters.malformed_frames);
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Assigns the id and registers the reply slot; `None` when the sender already gave up.
    fn prepare(&mut self, frame: Outgoing, reply: Option<ReplySlot>) -> Option<Message> {
        match reply {
            Some(slot) if slot.is_closed() => None,
            // Its time ran out while it was queued (e.g. during a reconnect): never write it.
            Some(slot) if slot.deadline <= Instant::now() => {
                slot.send(Err(SendError::Timeout(self.dialer.config.reply_timeout)));
                None
            }
            Some(slot) => {
                let id = self.take_id();
                self.pending.insert(id, slot);
                Some(Message::Text(frame.with_id(id)))
            }
            None => Some(Message::Text(frame.with_id(self.take_id()))),
        }
    }

    /// Writes one send plus whatever else is queued (up to a batch), then flushes once.
    /// Returns a close request found behind the sends, to be handled after them, in order.
    async fn write_sends(
        &mut self,
        socket: &mut Socket,
        frame: Outgoing,
        reply: Option<ReplySlot>,
    ) -> Result<Option<oneshot::Sender<()>>, tokio_tungstenite::tungstenite::Error> {
        if let Some(message) = self.prepare(frame, reply) {
            socket.feed(message).await?;
        }
        let mut close = None;
        for _ in 1..WRITE_BATCH {
            match self.commands.try_recv() {
                Ok(Command::Send { frame, reply }) => {
                    if let Some(message) = self.prepare(frame, reply) {
                        socket.feed(message).await?;
                    }
                }
                Ok(Command::Close { done }) => {
                    close = Some(done);
                    break;
                }
                Err(_) => break,
            }
        }
        socket.flush().await?;
        Ok(close)
    }

    /// Writes sends queued while there was no connection, in call order.
    async fn flush_backlog(
        &mut self,
        socket: &mut Socket,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let mut wrote = false;
        while let Some(command) = self.backlog.pop_front() {
            if let Command::Send { frame, reply } = command
                && let Some(message) = self.prepare(frame, reply)
            {
                socket.feed(message).await?;
                wrote = true;
            }
        }
        if wrote {
            socket.flush().await?;
        }
        Ok(())
    }
}

/// Code 1 means the socket URL expired: the connection is useless. Other codes are handed to
/// the application and the connection is kept (Slack closes it if it must).
fn error_event_control(event: &crate::Event) -> Control {
    #[derive(serde::Deserialize)]
    struct ErrorEvent {
        #[serde(default)]
        error: Option<Detail>,
    }
    #[derive(serde::Deserialize)]
    struct Detail {
        #[serde(default)]
        code: i64,
        #[serde(default)]
        msg: String,
    }
    match event.parse::<ErrorEvent>().ok().and_then(|e| e.error) {
        Some(Detail { code: 1, msg }) => Control::Reconnect(DisconnectCause::ErrorEvent { code: 1, msg }),
        Some(Detail { code, msg }) => {
            warn!(code, msg, "slack sent an error event");
            Control::Continue
        }
        None => Control::Continue,
    }
}

/// `{"id":N,"type":"ping"}`: Slack answers with `{"type":"pong","reply_to":N}`.
fn ping_frame(id: u64) -> Utf8Bytes {
    format!(r#"{{"id":{id},"type":"ping"}}"#).into()
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Awaits the attempt in `slot` if there is one; pending forever otherwise.
async fn in_flight(slot: &mut Option<Attempt>) -> Result<Connected, Error> {
    match slot.as_mut() {
        Some(attempt) => {
            let result = attempt.await;
            *slot = None;
            result
        }
        None => std::future::pending().await,
    }
}
