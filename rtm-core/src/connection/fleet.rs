//! A client's sockets as one client. A Socket Mode client runs one driver per socket, all
//! feeding one [`Shared`]; RTM runs one. This file keeps what the drivers share about each
//! other:
//! - each socket's state, folded into the one [`ConnectionState`] the application watches:
//!   `Connected` while at least one socket is open, `Reconnecting` only when none is (with
//!   the cause of the latest loss), `Closed` once every driver stopped;
//! - who still runs, so readers see the end once, after the last driver stopped;
//! - the first fatal error: it stops every driver, and readers see it.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::{mpsc, oneshot};

use super::{Command, Shared};
use crate::{ConnectionState, DisconnectCause, Error};

/// One driver's socket, as the fleet sees it.
#[derive(Debug, Clone)]
pub(super) enum SocketState {
    /// Not open yet (waiting its turn, or its first attempts failing).
    Opening,
    /// `hello` arrived; events flow.
    Open,
    /// Lost; the driver is reconnecting.
    Lost(DisconnectCause),
    /// The driver stopped for good.
    Stopped,
}

/// The drivers of one client.
pub(crate) struct Fleet {
    inner: Mutex<Inner>,
    /// Each driver's command channel, weak: every client handle dropped still closes the
    /// drivers (their channels end).
    commands: Vec<mpsc::WeakUnboundedSender<Command>>,
}

struct Inner {
    sockets: Vec<SocketState>,
    running: usize,
    /// The first fatal error of any driver: the client's.
    error: Option<Error>,
    /// Why a socket was last lost.
    last_loss: Option<DisconnectCause>,
}

impl Fleet {
    /// A fleet of one driver per command channel, none open yet.
    pub(super) fn new(commands: &[mpsc::UnboundedSender<Command>]) -> Self {
        Fleet {
            inner: Mutex::new(Inner {
                sockets: vec![SocketState::Opening; commands.len()],
                running: commands.len(),
                error: None,
                last_loss: None,
            }),
            commands: commands.iter().map(mpsc::UnboundedSender::downgrade).collect(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section is a few assignments: a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sockets open now.
    pub(crate) fn open(&self) -> usize {
        self.lock()
            .sockets
            .iter()
            .filter(|s| matches!(s, SocketState::Open))
            .count()
    }
}

impl Inner {
    /// The client's state from its sockets'.
    fn folded(&self) -> ConnectionState {
        let any = |f: fn(&SocketState) -> bool| self.sockets.iter().any(f);
        if any(|s| matches!(s, SocketState::Open)) {
            ConnectionState::Connected
        } else if self.running == 0 {
            ConnectionState::Closed {
                error: self.error.clone(),
            }
        } else if any(|s| matches!(s, SocketState::Lost(_)))
            && let Some(cause) = &self.last_loss
        {
            ConnectionState::Reconnecting { cause: cause.clone() }
        } else {
            ConnectionState::Connecting
        }
    }
}

impl Shared {
    /// Records socket `index`'s state and publishes the client's.
    pub(super) fn set_socket(&self, index: usize, state: SocketState) {
        let mut fleet = self.fleet.lock();
        if let SocketState::Lost(cause) = &state {
            fleet.last_loss = Some(cause.clone());
        }
        fleet.sockets[index] = state;
        // Published under the lock, so concurrent drivers publish in the order they record.
        self.state.send_replace(fleet.folded());
    }

    /// Driver `index` stopped for good with `result`. An error stops every other driver
    /// (each closes its socket cleanly); the last driver to stop ends the stream for readers,
    /// with the first error if there was one.
    pub(super) fn driver_stopped(&self, index: usize, result: Result<(), Error>) {
        let mut fleet = self.fleet.lock();
        fleet.sockets[index] = SocketState::Stopped;
        fleet.running -= 1;
        let stop_others = match result {
            Err(error) if fleet.error.is_none() => {
                fleet.error = Some(error);
                fleet.running > 0
            }
            _ => false,
        };
        self.state.send_replace(fleet.folded());
        if fleet.running == 0 {
            let end = fleet.error.clone().map_or(Ok(()), Err);
            drop(fleet);
            self.inbox.end(end);
            return;
        }
        drop(fleet);
        if stop_others {
            for (other, commands) in self.fleet.commands.iter().enumerate() {
                if other != index
                    && let Some(commands) = commands.upgrade()
                {
                    let (done, _) = oneshot::channel();
                    let _ = commands.send(Command::Close { done });
                }
            }
        }
    }
}
