//! The driver: gets a connection (one retry policy for the first connect and for
//! reconnects), runs a session on it, replaces it when it ends, and stops for good on a
//! close request or a fatal error. It knows nothing of any wire protocol.
//!
//! A client has one driver per socket ([`start`] spawns them); each has its own command
//! channel, outbox, keepalive and retry policy, and they meet only in [`Shared`] (the inbox,
//! the counters, and the fleet's state and end). Each runs in a `connection` span with its
//! index, so its logs say which socket they are about.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use tokio::{
    sync::{mpsc, oneshot, watch},
    time::Instant,
};
use tracing::{Instrument, Span, debug, info, info_span, warn};

use super::{
    AckRoute, Command, Shared,
    backoff::{ReconnectPacer, Retry, RetryPolicy},
    dial::{Connected, Connector},
    fleet::{Fleet, SocketState},
    outbox::{Outbox, Send},
};
use crate::{
    ClientConfig, ConnectionState, DisconnectCause, Error, SendError, inbox::Inbox, state::Counters,
};

/// An attempt in flight.
pub(super) type Attempt<S> = BoxFuture<'static, Result<Connected<S>, Error>>;

/// Timings the driver and its sessions follow.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    pub(super) keepalive_interval: Duration,
    pub(super) keepalive_timeout: Duration,
    /// How long an ack that takes a response payload is held for the application's answer.
    pub(super) response_budget: Duration,
}

pub(super) struct Driver<C: Connector> {
    /// Which of the client's sockets this driver owns (0 for RTM's only one).
    index: usize,
    pub(super) shared: Arc<Shared>,
    pub(super) connector: Arc<C>,
    pub(super) commands: mpsc::UnboundedReceiver<Command>,
    pub(super) outbox: Outbox,
    pub(super) timing: Timing,
    /// This connection's way back for answers to the acks it holds (carried by the events).
    pub(super) route: AckRoute,
    retry: RetryPolicy,
    /// The process-wide reconnect pace (its own in tests, whose clocks may be paused).
    pacer: Arc<ReconnectPacer>,
    /// Lets the next driver open its socket: fired at this one's first `hello`, dropped when
    /// it stops.
    go_next: Option<oneshot::Sender<()>>,
    /// Set while a session handles a burst of frames that have already arrived.
    pub(super) batching: bool,
    /// The burst buffered an event into an empty inbox: readers are owed one wake-up.
    pub(super) wake_owed: bool,
}

/// Why a session ended.
pub(super) enum SessionEnd<S> {
    /// Closed on request (or every handle was dropped).
    Close(Option<oneshot::Sender<()>>),
    /// The connection is gone; `next` is an attempt already in flight (after `goodbye`).
    Lost {
        cause: DisconnectCause,
        next: Option<Attempt<S>>,
    },
    /// Make before break: the next connection is ready and the old one is let go.
    Replaced(Box<Connected<S>>),
    /// The replacement connection hit a fatal error.
    Fatal(Error),
}

/// Connects one socket (retrying per the first-connect policy), records its `hello`, and
/// spawns `sockets` drivers: the first on that socket, each other one opening its own once the
/// one before it said `hello` (or stopped), so a client never opens its sockets in a burst.
/// Returns each driver's command sender, in socket order.
pub(crate) async fn start<C: Connector>(
    connector: Arc<C>,
    config: &ClientConfig,
    counters: Arc<Counters>,
    pacer: Arc<ReconnectPacer>,
    sockets: usize,
) -> Result<(Arc<Shared>, Vec<mpsc::UnboundedSender<Command>>), Error> {
    let sockets = sockets.max(1);
    let mut retry = RetryPolicy::first_connect(
        config.backoff_base,
        config.backoff_max,
        config.initial_connect_attempts,
    );
    let connected = async {
        loop {
            match connector.clone().connect().await {
                Ok(connected) => return Ok(connected),
                Err(error) => match retry.on_failure(&error) {
                    Retry::After(wait) => tokio::time::sleep(wait).await,
                    Retry::GiveUp => return Err(error),
                },
            }
        }
    }
    .instrument(span(0))
    .await?;
    retry.connected();

    let (senders, receivers): (Vec<_>, Vec<_>) = (0..sockets).map(|_| mpsc::unbounded_channel()).unzip();
    let (state, _) = watch::channel(ConnectionState::Connecting);
    let shared = Arc::new(Shared {
        inbox: Inbox::new(config.event_buffer),
        state,
        counters,
        info: std::sync::Mutex::new(Arc::new(connected.info.clone())),
        reply_timeout: config.reply_timeout,
        fleet: Fleet::new(&senders),
    });
    let mut first = Some((connected, retry));
    let mut turn: Option<oneshot::Receiver<()>> = None;
    for (index, commands) in receivers.into_iter().enumerate() {
        let (go_next, next_turn) = if index + 1 < sockets {
            let (go, turn) = oneshot::channel();
            (Some(go), Some(turn))
        } else {
            (None, None)
        };
        let mut driver = Driver {
            index,
            shared: shared.clone(),
            connector: connector.clone(),
            commands,
            outbox: Outbox::new(config.reply_timeout, config.send_pace),
            timing: Timing {
                keepalive_interval: config.keepalive_interval,
                keepalive_timeout: config.keepalive_timeout,
                response_budget: config.response_budget,
            },
            route: AckRoute::new(&senders[index]),
            // Replaced for the first driver; the others retry without limit from the start.
            retry: RetryPolicy::first_connect(config.backoff_base, config.backoff_max, 1),
            pacer: pacer.clone(),
            go_next,
            batching: false,
            wake_owed: false,
        };
        match (first.take(), turn.take()) {
            (Some((connected, retry)), _) => {
                driver.retry = retry;
                // Recorded before `connect()` returns, so state, stats and readers agree.
                driver.on_connected(&connected);
                tokio::spawn(driver.run(connected.socket).instrument(span(index)));
            }
            (None, Some(turn)) => {
                driver.retry.connected();
                tokio::spawn(driver.open_after(turn).instrument(span(index)));
            }
            (None, None) => unreachable!("every driver after the first waits its turn"),
        }
        turn = next_turn;
    }
    Ok((shared, senders))
}

/// The span a driver's logs carry: which of the client's sockets they are about.
fn span(index: usize) -> Span {
    info_span!("connection", index)
}

impl<C: Connector> Driver<C> {
    /// A driver after the first: opens its socket when `turn` comes (the previous driver's
    /// `hello`, or its end), retrying transient failures without limit, then runs.
    async fn open_after(mut self, turn: oneshot::Receiver<()>) {
        let delay = self.retry.after_loss();
        let first = self.attempt_after(delay);
        let attempt: Attempt<C::Socket> = Box::pin(async move {
            let _ = turn.await;
            first.await
        });
        match self.connect_until(attempt).await {
            Ok(connected) => {
                self.on_connected(&connected);
                self.run(connected.socket).await;
            }
            Err(Ok(done)) => self.finish(Ok(()), done),
            Err(Err(error)) => self.finish(Err(error), None),
        }
    }

    async fn run(mut self, mut socket: C::Socket) {
        loop {
            let end = self.session(socket).await;
            self.outbox.replies.fail_all(&SendError::ConnectionLost);
            self.outbox.drop_probes();
            let connected = match end {
                SessionEnd::Replaced(next) => {
                    info!("the server retired the connection; switched to a new one");
                    *next
                }
                SessionEnd::Close(done) => return self.finish(Ok(()), done),
                SessionEnd::Fatal(error) => return self.finish(Err(error), None),
                SessionEnd::Lost { cause, next } => {
                    info!(%cause, "connection lost; reconnecting");
                    self.shared
                        .set_socket(self.index, SocketState::Lost(cause.clone()));
                    match self.reconnect(next, &cause).await {
                        Ok(next) => next,
                        Err(Ok(done)) => return self.finish(Ok(()), done),
                        Err(Err(error)) => return self.finish(Err(error), None),
                    }
                }
            };
            Counters::bump(&self.shared.counters.reconnects);
            self.on_connected(&connected);
            socket = connected.socket;
        }
    }

    fn on_connected(&mut self, connected: &Connected<C::Socket>) {
        debug!(team = %connected.info.team.id, user = %connected.info.self_user.id, "connected");
        self.retry.connected();
        *self.shared.info.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(connected.info.clone());
        self.shared.set_socket(self.index, SocketState::Open);
        Counters::add(&self.shared.counters.events, connected.first_events.len() as u64);
        if let Some(go) = self.go_next.take() {
            let _ = go.send(());
        }
        // `hello` and any events that came before it, as one unit.
        self.shared.inbox.extend(connected.first_events.iter().cloned());
        for ack in &connected.first_acks {
            self.outbox.push_ack(ack.clone());
        }
    }

    /// Stops this driver for good. The last of the client's drivers to stop ends the stream:
    /// readers drain what is buffered and then see `result` (or another driver's error); an
    /// error stops the other drivers too.
    fn finish(mut self, result: Result<(), Error>, done: Option<oneshot::Sender<()>>) {
        match &result {
            Ok(()) => debug!("client closed"),
            Err(error) => warn!(%error, "client stopped"),
        }
        self.commands.close();
        self.outbox.replies.fail_all(&SendError::ConnectionLost);
        self.outbox.fail_queued(&SendError::Closed);
        while let Ok(command) = self.commands.try_recv() {
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
                // Dropping `done` tells the application the connection is gone.
                Command::Answer { .. } => {}
            }
        }
        self.go_next = None;
        self.shared.driver_stopped(self.index, result);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// Retries until connected, closed on request (`Err(Ok)`) or a fatal error (`Err(Err)`).
    async fn reconnect(
        &mut self,
        in_flight: Option<Attempt<C::Socket>>,
        cause: &DisconnectCause,
    ) -> Result<Connected<C::Socket>, Result<Option<oneshot::Sender<()>>, Error>> {
        let attempt = match in_flight {
            Some(attempt) => attempt,
            None => {
                let delay = if cause.needs_backoff() {
                    let delay = self.retry.after_over_cap();
                    warn!(%cause, ?delay, "backing off before reconnecting");
                    delay
                } else {
                    self.retry.after_loss()
                };
                self.attempt_after(delay)
            }
        };
        self.connect_until(attempt).await
    }

    /// Awaits `attempt`, retrying per the policy, until connected, closed on request
    /// (`Err(Ok)`) or a fatal error (`Err(Err)`).
    async fn connect_until(
        &mut self,
        mut attempt: Attempt<C::Socket>,
    ) -> Result<Connected<C::Socket>, Result<Option<oneshot::Sender<()>>, Error>> {
        loop {
            match self.serve_commands_while(attempt).await.map_err(Ok)? {
                Ok(connected) => return Ok(connected),
                Err(error) => match self.retry.on_failure(&error) {
                    Retry::After(wait) => attempt = self.attempt_after(wait),
                    Retry::GiveUp => return Err(Err(error)),
                },
            }
        }
    }

    /// An answer to a held ack: queued on whatever socket is current (or the next one).
    pub(super) fn answer(
        &mut self,
        envelope_id: &str,
        with: super::AckWith,
        done: Option<oneshot::Sender<super::Answer>>,
    ) {
        let answer = self.outbox.answer(envelope_id, with);
        debug!(envelope_id, ?answer, "answer to a held ack");
        if let Some(done) = done {
            let _ = done.send(answer);
        }
    }

    /// An attempt that starts after `delay`, at the process-wide reconnect pace.
    pub(super) fn attempt_after(&self, delay: Duration) -> Attempt<C::Socket> {
        let connector = self.connector.clone();
        let pacer = self.pacer.clone();
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let start = pacer.reserve(Instant::now());
            if start > Instant::now() {
                debug!(wait = ?(start - Instant::now()), "many reconnects at once; pacing this one");
                tokio::time::sleep_until(start).await;
            }
            connector.connect().await
        })
    }

    /// Awaits `attempt` while queueing sends (they keep their deadlines); returns early on a
    /// close request.
    async fn serve_commands_while(
        &mut self,
        mut attempt: Attempt<C::Socket>,
    ) -> Result<Result<Connected<C::Socket>, Error>, Option<oneshot::Sender<()>>> {
        loop {
            let next_expiry = self.outbox.next_deadline(false);
            tokio::select! {
                result = &mut attempt => return Ok(result),
                command = self.commands.recv() => match command {
                    Some(Command::Close { done }) => return Err(Some(done)),
                    None => return Err(None),
                    Some(Command::Send { frame, reply }) => self.outbox.push(Send { frame, reply }),
                    Some(Command::Answer { envelope_id, with, done }) => self.answer(&envelope_id, with, done),
                },
                () = sleep_until_some(next_expiry) => self.outbox.expire(Instant::now(), false),
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
pub(super) async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Awaits the attempt in `slot` if there is one; pending forever otherwise.
pub(super) async fn in_flight<S>(slot: &mut Option<Attempt<S>>) -> Result<Connected<S>, Error> {
    match slot.as_mut() {
        Some(attempt) => {
            let result = attempt.await;
            *slot = None;
            result
        }
        None => std::future::pending().await,
    }
}
