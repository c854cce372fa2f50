//! The connection core: one task (a driver) owns each socket. Handles talk to it through a
//! command channel; it talks back through the inbox (events), reply slots (replies) and a
//! `watch` channel (lifecycle). An RTM client has one driver; a Socket Mode client has one per
//! socket, each with its own command channel, all sharing one inbox, one state and one
//! protocol object (so one dedupe).
//!
//! One file per concern:
//! - `protocol`: the seam: what a wire protocol provides ([`protocol::Protocol`]).
//! - `rtm`: RTM's implementation of it.
//! - `socket_mode`: Socket Mode's implementation (acks, dedupe, `disconnect`).
//! - `dial`: one connection attempt (URL, handshake, `hello`) and where sockets come from.
//! - `driver`: attempts, the retry policy, replacement on `goodbye`, stopping.
//! - `fleet`: a client's drivers as one: its state, its end, a fatal error stopping all.
//! - `session`: one socket's loop.
//! - `wire`: reads and writes driven from one poll, so no write blocks the session.
//! - `outbox`: what to write next, in order; ids and reply registration.
//! - `held_acks`: Socket Mode acks held back for an answer, until their response budget.
//! - `replies`: reply matching and reply deadlines.
//! - `keepalive`: quiet / probing / dead.
//! - `read_gate`: reading / paused (reader behind) / overflowing (reader waits on a reply).
//! - `backoff`: the retry policy and the process-wide reconnect pace.
//! - `pace`: burst-then-rate pacing (reconnects, and opt-in send pacing).

mod backoff;
mod dial;
mod driver;
mod fleet;
mod held_acks;
mod keepalive;
mod outbox;
mod pace;
mod protocol;
mod read_gate;
mod replies;
mod rtm;
mod session;
pub(crate) mod socket_mode;
mod wire;

#[cfg(test)]
mod tests;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{mpsc, oneshot, watch};

use crate::{
    ClientConfig, ConnectionInfo, ConnectionState, Error, inbox::Inbox, outgoing::Outgoing, reply::ReplySlot,
    state::Counters, web_api,
};

/// State shared between the handles and the task.
pub(crate) struct Shared {
    pub(crate) inbox: Inbox,
    pub(crate) state: watch::Sender<ConnectionState>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) info: Mutex<Arc<ConnectionInfo>>,
    pub(crate) reply_timeout: Duration,
    /// The drivers feeding this state: each one's socket, who still runs, the first error.
    pub(crate) fleet: fleet::Fleet,
}

impl Shared {
    /// Who the connection is for (updated on every reconnect).
    pub(crate) fn info(&self) -> Arc<ConnectionInfo> {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every buffered event, waiting until there is one; `None` once closed and drained.
    pub(crate) async fn read(&self) -> Result<Option<crate::Batch>, Error> {
        Ok(self.inbox.take().await?.map(crate::Batch::new))
    }

    /// Every buffered event without waiting (an empty batch when none); `None` once closed
    /// and drained.
    pub(crate) fn try_read(&self) -> Result<Option<crate::Batch>, Error> {
        use crate::inbox::Take;
        match self.inbox.try_take() {
            Take::Events(events) => Ok(Some(crate::Batch::new(events))),
            Take::Empty => Ok(Some(crate::Batch::default())),
            Take::Ended(Ok(())) => Ok(None),
            Take::Ended(Err(e)) => Err(e),
        }
    }
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
    /// Answers the held ack of `envelope_id` (`done`, when given, learns how). `done` is
    /// dropped unanswered when the connection stops first.
    Answer {
        envelope_id: Box<str>,
        with: AckWith,
        done: Option<oneshot::Sender<Answer>>,
    },
}

pub(crate) use held_acks::{AckWith, Answer};

/// The way back to the connection task that received an envelope, for its held ack. Weak,
/// so events still buffered or kept by the application never keep a connection open.
#[derive(Clone)]
pub(crate) struct AckRoute(mpsc::WeakUnboundedSender<Command>);

impl AckRoute {
    pub(crate) fn new(commands: &mpsc::UnboundedSender<Command>) -> Self {
        AckRoute(commands.downgrade())
    }

    /// Hands the answer to the connection; `None` when that connection is gone.
    pub(crate) async fn answer(&self, envelope_id: &str, with: AckWith) -> Option<Answer> {
        let (done, answered) = oneshot::channel();
        let command = Command::Answer {
            envelope_id: envelope_id.into(),
            with,
            done: Some(done),
        };
        self.0.upgrade()?.send(command).ok()?;
        answered.await.ok()
    }

    /// Releases the held ack now, empty, without waiting (a no-op when none is held or the
    /// connection is gone).
    pub(crate) fn release(&self, envelope_id: &str) {
        if let Some(commands) = self.0.upgrade() {
            let _ = commands.send(Command::Answer {
                envelope_id: envelope_id.into(),
                with: AckWith::Nothing,
                done: None,
            });
        }
    }
}

/// Connects over RTM (retrying transient failures a bounded number of times) and spawns the
/// connection task. When it returns, `hello` has been recorded: the state is `Connected` and
/// `hello` is readable.
pub(crate) async fn start(
    config: ClientConfig,
) -> Result<(Arc<Shared>, mpsc::UnboundedSender<Command>), Error> {
    let protocol = rtm::Rtm::new(config.clone());
    let (shared, mut commands) = start_with(config, protocol, 1).await?;
    Ok((shared, commands.swap_remove(0)))
}

/// Connects over Socket Mode with `app_token` and spawns one driver per socket
/// ([`ClientConfig::socket_mode_connections`]); `info` is who the bot token belongs to. Returns
/// once the first socket said `hello` (its connect retries transient failures a bounded number
/// of times); the others open one after another in the background. The senders are the
/// drivers', in socket order.
pub(crate) async fn start_socket_mode(
    config: ClientConfig,
    app_token: crate::Token,
    info: ConnectionInfo,
) -> Result<(Arc<Shared>, Vec<mpsc::UnboundedSender<Command>>), Error> {
    let sockets = config.socket_mode_connections;
    crate::config::check_socket_mode_connections(sockets)?;
    let protocol = socket_mode::SocketMode::new(config.clone(), app_token, info);
    start_with(config, protocol, sockets).await
}

/// The connection core over `protocol` with `sockets` drivers, the process's HTTP client and
/// reconnect pace. The drivers share one dialer, hence one protocol object.
async fn start_with<P: protocol::Protocol>(
    config: ClientConfig,
    protocol: P,
    sockets: usize,
) -> Result<(Arc<Shared>, Vec<mpsc::UnboundedSender<Command>>), Error> {
    let http = web_api::http_client()?;
    let counters = Arc::new(Counters::default());
    let dialer = dial::Dialer::new(config.clone(), protocol, http, counters.clone());
    driver::start(
        Arc::new(dialer),
        &config,
        counters,
        backoff::RECONNECT_PACER.clone(),
        sockets,
    )
    .await
}
