//! The driver: gets a connection (one retry policy for the first connect and for
//! reconnects), runs a session on it, replaces it when it ends, and stops for good on a
//! close request or a fatal error. It knows nothing of any wire protocol.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use tokio::{
    sync::{mpsc, oneshot, watch},
    time::Instant,
};
use tracing::{debug, info, warn};

use super::{
    AckRoute, Command, Shared,
    backoff::{ReconnectPacer, Retry, RetryPolicy},
    dial::{Connected, Connector},
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

/// Connects (retrying per the first-connect policy), records `hello`, and spawns the driver.
pub(crate) async fn start<C: Connector>(
    connector: Arc<C>,
    config: &ClientConfig,
    counters: Arc<Counters>,
    pacer: Arc<ReconnectPacer>,
) -> Result<(Arc<Shared>, mpsc::UnboundedSender<Command>), Error> {
    let mut retry = RetryPolicy::first_connect(
        config.backoff_base,
        config.backoff_max,
        config.initial_connect_attempts,
    );
    let connected = loop {
        match connector.clone().connect().await {
            Ok(connected) => break connected,
            Err(error) => match retry.on_failure(&error) {
                Retry::After(wait) => tokio::time::sleep(wait).await,
                Retry::GiveUp => return Err(error),
            },
        }
    };
    retry.connected();

    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (state, _) = watch::channel(ConnectionState::Connecting);
    let shared = Arc::new(Shared {
        inbox: Inbox::new(config.event_buffer),
        state,
        counters,
        info: std::sync::Mutex::new(Arc::new(connected.info.clone())),
        reply_timeout: config.reply_timeout,
    });
    let mut driver = Driver {
        shared: shared.clone(),
        connector,
        commands,
        outbox: Outbox::new(config.reply_timeout, config.send_pace),
        timing: Timing {
            keepalive_interval: config.keepalive_interval,
            keepalive_timeout: config.keepalive_timeout,
            response_budget: config.response_budget,
        },
        route: AckRoute::new(&commands_tx),
        retry,
        pacer,
    };
    // Recorded before `connect()` returns, so state, stats and readers agree with it.
    driver.on_connected(&connected);
    tokio::spawn(driver.run(connected.socket));
    Ok((shared, commands_tx))
}

impl<C: Connector> Driver<C> {
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
                        .state
                        .send_replace(ConnectionState::Reconnecting { cause: cause.clone() });
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
        self.shared.state.send_replace(ConnectionState::Connected);
        Counters::add(&self.shared.counters.events, connected.first_events.len() as u64);
        // `hello` and any events that came before it, as one unit.
        self.shared.inbox.extend(connected.first_events.iter().cloned());
        for ack in &connected.first_acks {
            self.outbox.push_ack(ack.clone());
        }
    }

    /// Stops for good: readers drain what is buffered and then see `result`.
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
        in_flight: Option<Attempt<C::Socket>>,
        cause: &DisconnectCause,
    ) -> Result<Connected<C::Socket>, Result<Option<oneshot::Sender<()>>, Error>> {
        let mut attempt = match in_flight {
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
