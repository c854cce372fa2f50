//! [`RtmClient`], the application's handle. It only forwards requests to the connection task.

use std::{fmt, sync::Arc};

use serde::Serialize;
use tokio::{
    sync::{mpsc, oneshot, watch},
    time::Instant,
};

use crate::{
    Batch, ClientConfig, ConnectionInfo, ConnectionState, Error, Events, ReplyFuture, SendError, Stats,
    WebClient,
    connection::{self, Command, Shared},
    outgoing::{MessageFrame, Outgoing},
    reply::ReplySlot,
};

/// A connection to Slack's Real Time Messaging API.
///
/// `RtmClient` is a cheap handle (clone it freely, e.g. into handler tasks); one background
/// task owns the websocket, keeps it alive with pings, and reconnects when it drops. The
/// client never imposes a concurrency model: read with [`read`](Self::read) in your own
/// loop, poll with [`try_read`](Self::try_read), stream with [`events`](Self::events), or let
/// an [`RtmDispatcher`](crate::RtmDispatcher) run handlers for you.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> Result<(), rtm_core::Error> {
/// use rtm_core::{ClientConfig, RtmClient};
///
/// let client = RtmClient::connect(ClientConfig::from_env()?).await?;
/// while let Some(batch) = client.read().await? {
///     for event in batch {
///         println!("{}: {}", event.kind(), event.json());
///     }
/// }
/// # Ok(()) }
/// ```
#[doc(alias = "RTMClient")]
#[derive(Clone)]
pub struct RtmClient {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    web: WebClient,
}

impl RtmClient {
    /// Calls `rtm.connect`, opens the websocket and returns once Slack's `hello` arrived.
    ///
    /// Transient failures (network errors, 5xx, `ratelimited` with its exact `Retry-After`)
    /// are retried a bounded number of times (see
    /// [`initial_connect_attempts`](crate::ClientConfigBuilder::initial_connect_attempts)).
    ///
    /// # Errors
    /// [`Error::Slack`] with Slack's code (`invalid_auth`, `not_allowed_token_type`, …) when
    /// Slack refuses the token; otherwise the last transport error.
    pub async fn connect(config: ClientConfig) -> Result<RtmClient, Error> {
        let web = WebClient::from_config(&config).map_err(|e| Error::Config(e.to_string()))?;
        let (shared, commands) = connection::start(config).await?;
        Ok(RtmClient {
            shared,
            commands,
            web,
        })
    }

    /// A Web API client with this client's token and base URL, sharing its HTTP connection
    /// pool: the way to post rich or threaded messages, react, look users up, or page through
    /// history. Cheap: clones a handle built at connect time.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(client: rtm_core::RtmClient) -> Result<(), rtm_core::WebError> {
    /// let posted = client.web().reply_in_thread("C123", "1700000000.000100", "on it").await?;
    /// client.web().reactions_add("C123", &posted.ts, "eyes").await?;
    /// # Ok(()) }
    /// ```
    pub fn web(&self) -> WebClient {
        self.web.clone()
    }

    /// Who we are connected as and to which team (updated on every reconnect).
    pub fn info(&self) -> Arc<ConnectionInfo> {
        self.shared.info()
    }

    /// Waits until at least one event is buffered, then returns **every** buffered event as
    /// one [`Batch`], oldest first. A slow reader therefore never falls behind by taking one
    /// event per wake-up, and an idle reader sleeps instead of spinning.
    ///
    /// Returns `Ok(None)` once the client was closed with [`disconnect`](Self::disconnect)
    /// and everything buffered has been read. When several tasks read from clones of one
    /// client, each event goes to exactly one of them.
    ///
    /// # Errors
    /// The fatal error that stopped the client (e.g. [`Error::Slack`] with `token_revoked`),
    /// after every event received before it has been returned.
    ///
    /// # Cancel safety
    /// Cancel safe: if the future is dropped before it completes, no event is taken.
    pub async fn read(&self) -> Result<Option<Batch>, Error> {
        self.shared.read().await
    }

    /// Returns every buffered event at once, without waiting: an empty batch when nothing is
    /// buffered. For applications that poll from a loop of their own.
    ///
    /// Returns `Ok(None)` once the client is closed and drained.
    ///
    /// # Errors
    /// As for [`read`](Self::read).
    pub fn try_read(&self) -> Result<Option<Batch>, Error> {
        self.shared.try_read()
    }

    /// Tells the connection that this reader cannot read on until some reply arrives (the
    /// dispatcher with every permit held by handlers awaiting replies), until the guard drops.
    pub(crate) fn reader_blocked(&self) -> impl Drop + '_ {
        self.shared.inbox.reader_blocked()
    }

    /// A continuous stream of events: `while let Some(event) = events.next().await`.
    pub fn events(&self) -> Events {
        Events::new(self.shared.clone(), self.commands.clone())
    }

    /// Sends a plain-text message to a channel (`C…`, `G…`) or DM (`D…`).
    ///
    /// The frame is queued at once, in call order; the returned future resolves with Slack's
    /// reply, so many sends can be in flight before any reply is awaited.
    ///
    /// # Errors
    /// The future fails with [`SendError::Slack`] when Slack refuses the message,
    /// [`SendError::TooLarge`] (nothing sent) over 16 KB, [`SendError::Timeout`],
    /// [`SendError::ConnectionLost`] (never re-sent, to avoid posting twice) or
    /// [`SendError::Closed`].
    pub fn send_message(&self, channel: &str, text: &str) -> ReplyFuture {
        let frame = MessageFrame {
            kind: "message",
            channel,
            text,
        };
        // Room for the keys and a few escapes, so serialising rarely reallocates.
        let size_hint = channel.len() + text.len() + text.len() / 8 + 48;
        self.queue_with_reply(Outgoing::new(&frame, size_hint))
    }

    /// Sends any RTM frame that Slack answers with a reply, given as a serialisable JSON
    /// object with a `type` (the `id` is added by the client).
    ///
    /// Sends issued while the client is reconnecting wait for the new connection, bounded by
    /// the reply timeout; if the timeout passes first, the frame is never written.
    ///
    /// # Errors
    /// As for [`send_message`](Self::send_message), plus [`SendError::InvalidFrame`] when
    /// `frame` is not a JSON object.
    pub fn send<T: Serialize + ?Sized>(&self, frame: &T) -> ReplyFuture {
        self.queue_with_reply(Outgoing::new(frame, 128))
    }

    fn queue_with_reply(&self, frame: Result<Outgoing, SendError>) -> ReplyFuture {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => return ReplyFuture::failed(e),
        };
        let (slot, reply) = ReplySlot::new(Instant::now() + self.shared.reply_timeout);
        let command = Command::Send {
            frame,
            reply: Some(slot),
        };
        if self.commands.send(command).is_err() {
            return ReplyFuture::failed(SendError::Closed);
        }
        reply
    }

    /// Queues a frame that Slack does not answer, such as `typing` or `presence_sub`.
    ///
    /// # Errors
    /// [`SendError::TooLarge`], [`SendError::InvalidFrame`] or [`SendError::Closed`]; nothing
    /// was queued then.
    pub fn send_without_reply<T: Serialize + ?Sized>(&self, frame: &T) -> Result<(), SendError> {
        let frame = Outgoing::new(frame, 64)?;
        self.commands
            .send(Command::Send { frame, reply: None })
            .map_err(|_| SendError::Closed)
    }

    /// The connection's lifecycle, observable without polling.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(client: rtm_core::RtmClient) {
    /// let mut state = client.state();
    /// while state.changed().await.is_ok() {
    ///     println!("now {:?}", *state.borrow());
    /// }
    /// # }
    /// ```
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.shared.state.subscribe()
    }

    /// A snapshot of the client's counters (events, malformed frames, reconnects, …).
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Closes the websocket cleanly and stops reconnecting.
    ///
    /// Frames queued before the call are written; replies to written frames are awaited for
    /// up to two seconds (events arriving meanwhile are still buffered), then the socket is
    /// closed. Readers drain what is buffered and then see the end (`Ok(None)`). Sends still
    /// without a reply fail with [`SendError::ConnectionLost`], later sends with
    /// [`SendError::Closed`]. Returns once the socket is closed.
    pub async fn disconnect(&self) {
        let (done, closed) = oneshot::channel();
        if self.commands.send(Command::Close { done }).is_ok() {
            let _ = closed.await;
        }
    }
}

impl fmt::Debug for RtmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtmClient")
            .field("info", &self.info())
            .field("state", &*self.shared.state.borrow())
            .finish_non_exhaustive()
    }
}
