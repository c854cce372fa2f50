//! The connection's lifecycle as the application observes it, and the client's counters.

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

use crate::Error;

/// Where the client is in its lifecycle. Observe it without polling through
/// [`RtmClient::state`](crate::RtmClient::state) or
/// [`SocketModeClient::state`](crate::SocketModeClient::state), a `tokio::sync::watch`
/// receiver. A Socket Mode client with several sockets reports itself, not one socket: it is
/// `Connected` while at least one socket is open, `Reconnecting` only when none is, and
/// `Closed` once every socket is closed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionState {
    /// The first connection is being set up.
    Connecting,
    /// Connected: `hello` arrived and events flow.
    Connected,
    /// The connection was lost and a new one is being set up; events received before the
    /// loss are still delivered.
    Reconnecting {
        /// Why the previous connection ended.
        cause: DisconnectCause,
    },
    /// Stopped for good. `error` is `None` after [`RtmClient::disconnect`](crate::RtmClient::disconnect)
    /// (or when every handle was dropped), and the fatal error otherwise.
    Closed {
        /// The fatal error, if the client did not stop on request.
        error: Option<Error>,
    },
}

impl ConnectionState {
    /// Whether events are flowing.
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected)
    }

    /// Whether the client has stopped for good.
    pub fn is_closed(&self) -> bool {
        matches!(self, ConnectionState::Closed { .. })
    }
}

/// Why a working connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// Slack sent `goodbye` (e.g. the 8-hour connection limit).
    Goodbye,
    /// Slack sent `team_migration_started`.
    TeamMigration,
    /// Slack sent an `error` event, e.g. code 1 "Socket URL has expired".
    ErrorEvent {
        /// Slack's numeric code.
        code: i64,
        /// Slack's message.
        msg: String,
    },
    /// The server closed the websocket.
    Closed,
    /// Reading or writing the socket failed (e.g. a TCP reset).
    Io(String),
    /// Nothing arrived within the keepalive timeout: the connection was dead or half-open.
    KeepaliveTimeout,
    /// Socket Mode: Slack sent `disconnect` with `too_many_websockets` (the app is over its
    /// socket limit). The client backs off before reconnecting.
    TooManyWebsockets,
}

impl DisconnectCause {
    /// Whether reconnecting at once would only make things worse, so the client backs off.
    pub(crate) fn needs_backoff(&self) -> bool {
        matches!(self, DisconnectCause::TooManyWebsockets)
    }
}

impl fmt::Display for DisconnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectCause::Goodbye => f.write_str("slack sent goodbye"),
            DisconnectCause::TeamMigration => f.write_str("team migration started"),
            DisconnectCause::ErrorEvent { code, msg } => write!(f, "slack sent error {code}: {msg}"),
            DisconnectCause::Closed => f.write_str("the server closed the socket"),
            DisconnectCause::Io(e) => write!(f, "socket error: {e}"),
            DisconnectCause::KeepaliveTimeout => f.write_str("no frame within the keepalive timeout"),
            DisconnectCause::TooManyWebsockets => {
                f.write_str("slack sent disconnect: too_many_websockets (over the app's socket limit)")
            }
        }
    }
}

/// A snapshot of the client's counters, from [`RtmClient::stats`](crate::RtmClient::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Events handed to the buffer.
    pub events: u64,
    /// Frames that were skipped: not JSON, binary, or without `type` and `reply_to`.
    pub malformed_frames: u64,
    /// Replies to frames whose sender had already given up or was gone.
    pub unmatched_replies: u64,
    /// `rtm.connect` (or, for Socket Mode, `apps.connections.open`) calls made, by every
    /// socket of the client.
    pub connect_calls: u64,
    /// Connections established after each socket's first one.
    pub reconnects: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) events: AtomicU64,
    pub(crate) malformed_frames: AtomicU64,
    pub(crate) unmatched_replies: AtomicU64,
    pub(crate) connect_calls: AtomicU64,
    pub(crate) reconnects: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        Self::add(counter, 1);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            events: self.events.load(Relaxed),
            malformed_frames: self.malformed_frames.load(Relaxed),
            unmatched_replies: self.unmatched_replies.load(Relaxed),
            connect_calls: self.connect_calls.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
        }
    }
}
