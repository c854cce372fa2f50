//! The seam between the connection core and a wire protocol.
//!
//! Everything protocol-specific about a connection sits behind [`Protocol`]: how to obtain a
//! socket URL, what an inbound frame means, and what a keepalive probe looks like. The driver,
//! the session, keepalive, the read gate and reply deadlines only ever see [`Inbound`], so a
//! second protocol (Socket Mode) plugs in without touching them.

use futures::future::BoxFuture;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use url::Url;

use crate::{ConnectionInfo, DisconnectCause, Error, Event, reply::RawReply};

/// A fresh socket URL and what the server told us about the connection.
pub(crate) struct Opened {
    /// Where to open the websocket. It carries a single-use ticket: a secret.
    pub(crate) url: Url,
    /// Who we are connected as.
    pub(crate) info: ConnectionInfo,
}

/// What one inbound text frame means for the connection.
pub(crate) enum Inbound {
    /// The server is ready: the first frame of a working connection.
    Hello(Event),
    /// An event for the application.
    Event(Event),
    /// The answer to one of our frames, by the id it was sent with.
    Reply(RawReply),
    /// The answer to a ping; with the ping's id when the server gave it.
    Pong(Option<RawReply>),
    /// The server will close this socket soon (`goodbye`): open the replacement first. The
    /// event is still handed to the application.
    Retiring(Event),
    /// This socket is useless from now on: reconnect. The event, if any, is still handed to
    /// the application.
    Ended(DisconnectCause, Option<Event>),
    /// An envelope to acknowledge at once: `ack` is written before any other frame (on this
    /// socket, or on the next one if this one is retiring or lost), whatever becomes of
    /// `event`. `event` is `None` for a duplicate or an envelope whose payload is unreadable.
    Ack { ack: Message, event: Option<Event> },
    /// An envelope that takes a response payload (slash commands, `view_submission`, …):
    /// `event` is delivered now, carrying the envelope, and its empty `ack` is held for the
    /// application's answer until the response budget runs out. Where the connection cannot
    /// hold it (before `hello`), it is written at once like [`Inbound::Ack`]. With
    /// `ack_unanswered` false (manual acks), an envelope nobody acknowledged in time is never
    /// acknowledged, so Slack redelivers it.
    Held {
        ack: Message,
        event: Event,
        ack_unanswered: bool,
    },
    /// The server will never accept this client again (e.g. Socket Mode switched off): stop
    /// for good with this error.
    Fatal(Error),
    /// Not a frame we can use; counted and skipped.
    Malformed(&'static str),
}

/// One wire protocol: RTM ([`super::rtm`]) or Socket Mode ([`super::socket_mode`]).
pub(crate) trait Protocol: Send + Sync + 'static {
    /// Obtains a fresh socket URL (one Web API call). Retrying is the driver's business.
    fn open<'a>(&'a self, http: &'a reqwest::Client) -> BoxFuture<'a, Result<Opened, Error>>;

    /// What `text` means. Runs once per inbound frame: keep it cheap.
    fn classify(&self, text: Utf8Bytes) -> Inbound;

    /// A keepalive probe with the given id: a JSON ping whose answer classifies as
    /// [`Inbound::Pong`], or a websocket ping for protocols without one. Any inbound frame
    /// proves the peer alive just as well.
    fn ping(&self, id: u64) -> Message;
}
