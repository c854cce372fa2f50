//! A local Slack RTM emulator, so bots can be tested offline (feature `emulator`).
//!
//! [`Emulator`] is a real server on `127.0.0.1` (a free port): HTTP `rtm.connect` hands out
//! single-use `ws://` URLs and the websocket side speaks the RTM protocol (`hello`, pings,
//! message replies, pushed events). Tests drive it from outside: push events, read what the
//! client sent, and inject faults (dropped connections, `goodbye`, silence, HTTP 429, revoked
//! tokens, expired URLs) to exercise a client's reconnect logic.
//!
//! The Web API side serves the methods [`WebClient`](crate::WebClient)'s helpers call, from a
//! small workspace ([`DEFAULT_CHANNELS`], the bot and [`DEFAULT_USERS`]): a posted message
//! gets a `ts`, is stored for `conversations.history`/`replies` and is pushed to open sockets
//! as a `message` event with the bot's [`DEFAULT_BOT_ID`]; reads paginate with cursors. Tests
//! read every call with [`Emulator::web_calls`], every post of the bot (RTM and Web API) with
//! [`Emulator::posts`] and [`Emulator::wait_for_posts`], and script failures per method with
//! [`Emulator::inject_web_fault`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use rtm_core::emulator::Emulator;
//!
//! let emulator = Emulator::start().await?;
//! // Point the client at `emulator.api_url()` with `emulator.token()`, connect it, then:
//! assert!(emulator.wait_for_connections(1, Duration::from_secs(5)).await);
//! emulator.message("C123", "U456", "hello bot");
//! let sent = emulator.wait_for_sent(1, Duration::from_secs(5)).await?;
//! assert_eq!(sent[0]["type"], "message");
//! # Ok(()) }
//! ```
//!
//! Pushed frames go only to sockets open (and greeted with `hello`) at the time of the push,
//! as with Slack: wait for [`Emulator::wait_for_connections`] before pushing.

mod api;
mod builder;
mod events;
mod faults;
mod frames;
mod gate;
mod http;
mod inbound;
mod interactive;
mod methods;
mod ratelimit;
mod response_url;
mod server;
mod socket_mode;
mod socket_mode_faults;
mod state;
mod workspace;
mod ws;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tracing::{Instrument, debug, debug_span};

pub use builder::{
    DEFAULT_GOODBYE_CLOSE_DELAY, DEFAULT_MAX_CLIENT_FRAME, DEFAULT_SELF_ID, DEFAULT_SELF_NAME,
    DEFAULT_TEAM_DOMAIN, DEFAULT_TEAM_ID, DEFAULT_TEAM_NAME, DEFAULT_TICKET_TTL, DEFAULT_TOKEN,
    EmulatorBuilder,
};

pub use response_url::{RESPONSE_URL_MAX_USES, ResponseUrlPost};
pub use socket_mode::{
    DEFAULT_ACK_TIMEOUT, DEFAULT_APP_ID, DEFAULT_APP_TOKEN, DEFAULT_DEBUG_RECONNECTS_LIFETIME,
    DEFAULT_DISCONNECT_CLOSE_DELAY, DEFAULT_GHOST_LIFETIME, DEFAULT_RETRY_SCHEDULE,
    DEFAULT_SOCKET_MODE_MAX_SOCKETS, DEFAULT_SOCKET_MODE_PING_INTERVAL, DEFAULT_SOCKET_MODE_TICKET_TTL,
    MAX_SOCKET_MODE_CLIENT_FRAME,
};
pub use workspace::{DEFAULT_BOT_ID, DEFAULT_CHANNELS, DEFAULT_USERS, Post, PostVia, WebCall, WebFault};

use builder::Config;
use frames::MessageEvent;
use state::{Shared, lock};

/// A running emulator: a cheap, cloneable handle to a server on 127.0.0.1.
///
/// Tests keep a clone to push events, inspect what the client sent and inject faults while
/// the client runs. Dropping the last clone (or calling [`Emulator::shutdown`]) stops the
/// listener and closes every socket; no task outlives it.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Handle>,
}

/// Owns the server's lifetime: dropping it stops everything.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.shared().addr)
            .field("live_sockets", &self.live_sockets())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// A builder, to change ids, the token, limits or timings before starting.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with the builder's defaults, the usual way to get one in a test.
    ///
    /// # Errors
    ///
    /// Fails if the loopback port cannot be bound.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tokio runtime, like `tokio::spawn`.
    pub async fn start() -> std::io::Result<Emulator> {
        Self::builder().start().await
    }

    async fn from_config(config: Config) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, addr));
        let span = debug_span!("emulator", %addr);
        tokio::spawn(server::accept_loop(Arc::clone(&shared), listener).instrument(span.clone()));
        tokio::spawn(socket_mode::redeliver_loop(Arc::clone(&shared)).instrument(span));
        debug!(%addr, "emulator started");
        Ok(Emulator {
            inner: Arc::new(Handle { shared }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Socket Mode: the app-level token `apps.connections.open` accepts.
    pub fn app_token(&self) -> &str {
        &self.shared().config.socket_mode.app_token
    }

    /// Socket Mode: pushes an `events_api` envelope whose `payload.event` is `event` to one
    /// open socket, and redelivers it (as a new envelope with `retry_attempt` 1, 2, … and
    /// `retry_reason: "timeout"`) until one of its envelopes is acked or the schedule runs
    /// out. With no socket open, the retries are its only deliveries, as with Slack. Returns
    /// the `payload.event_id`.
    pub fn push_event_envelope(&self, event: impl Serialize) -> String {
        let event = serde_json::to_value(event).unwrap_or(Value::Null);
        socket_mode::push_event(self.shared(), event)
    }

    /// Socket Mode: pushes an envelope of `kind` (`slash_commands`, `interactive`, …) with
    /// `payload` to one open socket, once (never redelivered). Returns its `envelope_id`.
    ///
    /// As with Slack, `accepts_response_payload` is true for slash commands, view submissions
    /// and block suggestions; slash commands and block actions get a `response_url` served by
    /// the emulator ([`Emulator::response_url_posts`]).
    pub fn push_envelope(&self, kind: &str, payload: impl Serialize) -> String {
        let payload = serde_json::to_value(payload).unwrap_or(Value::Null);
        socket_mode::push_envelope(self.shared(), kind, payload)
    }

    /// Socket Mode: sends `raw` as a text frame to one open socket, as is (e.g. an envelope
    /// whose payload does not parse).
    pub fn push_socket_mode_text(&self, raw: impl Into<String>) {
        socket_mode::push_raw(self.shared(), raw.into());
    }

    /// Socket Mode: sends `disconnect` with `reason` (`warning`, `refresh_requested`,
    /// `too_many_websockets`, `link_disabled`) on every open socket, which then gets no more
    /// envelopes while another socket is open. `link_disabled` and `too_many_websockets`
    /// close the socket at once; the others after the configured delay.
    pub fn socket_mode_disconnect(&self, reason: &str) {
        socket_mode::disconnect(self.shared(), reason);
    }

    /// Socket Mode: like [`socket_mode_disconnect`](Self::socket_mode_disconnect), on one
    /// socket only (the oldest not told `disconnect` yet), as Slack refreshes an app's sockets
    /// one at a time. `false` when no such socket is open.
    pub fn socket_mode_disconnect_one(&self, reason: &str) -> bool {
        socket_mode::disconnect_one(self.shared(), reason)
    }

    /// Socket Mode: every ack received so far (`{"envelope_id": …}`, with `payload` when the
    /// client sent one), in arrival order.
    pub fn acks(&self) -> Vec<Value> {
        socket_mode::acks(self.shared())
    }

    /// Socket Mode: waits until at least `n` acks arrived, up to `timeout`. Returns them, or
    /// `None` on timeout.
    pub async fn wait_for_acks(&self, n: usize, timeout: Duration) -> Option<Vec<Value>> {
        let mut count = self.shared().acks_count.subscribe();
        tokio::time::timeout(timeout, count.wait_for(|c| *c >= n))
            .await
            .ok()?
            .ok()?;
        Some(self.acks())
    }

    /// Socket Mode: waits until `n` sockets are open (and under the cap), up to `timeout`.
    pub async fn wait_for_socket_mode_connections(&self, n: usize, timeout: Duration) -> bool {
        let mut ready = self.shared().socket_mode_ready.subscribe();
        matches!(
            tokio::time::timeout(timeout, ready.wait_for(|c| *c >= n)).await,
            Ok(Ok(_))
        )
    }

    /// Socket Mode: sockets open now (and under the cap).
    pub fn socket_mode_connections(&self) -> usize {
        *self.shared().socket_mode_ready.borrow()
    }

    /// Socket Mode: sockets opened so far (each needs a fresh `apps.connections.open`).
    pub fn socket_mode_sockets_opened(&self) -> usize {
        socket_mode::sockets_opened(self.shared())
    }

    /// The Web API base URL, `http://127.0.0.1:PORT/api/` (with the trailing slash): what a
    /// client's base URL is set to instead of `https://slack.com/api/`.
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("http://{}/api/", self.shared().addr)
    }

    /// The token `rtm.connect` accepts (default [`DEFAULT_TOKEN`]), to configure the client.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.shared().config.token
    }

    /// The bot's own user id (default [`DEFAULT_SELF_ID`]), to tell its own messages apart.
    #[must_use]
    pub fn self_id(&self) -> &str {
        &self.shared().config.self_id
    }

    /// The workspace id (default [`DEFAULT_TEAM_ID`]), as found in `team` fields.
    #[must_use]
    pub fn team_id(&self) -> &str {
        &self.shared().config.team_id
    }

    /// Sends `event` as one JSON text frame to every open socket, in push order, so tests can
    /// feed a client any event. Non-blocking. A value that fails to serialise is logged and
    /// dropped.
    pub fn push(&self, event: impl Serialize) {
        match serde_json::to_string(&event) {
            Ok(text) => self.push_text(text),
            Err(error) => debug!(%error, "push: event does not serialise, dropped"),
        }
    }

    /// Sends any text frame (for example invalid JSON) to every open socket, to check that a
    /// client survives what it cannot parse.
    pub fn push_text(&self, raw: impl Into<String>) {
        self.shared().push(&Message::Text(raw.into().into()));
    }

    /// Sends a binary frame to every open socket; Slack never does, so clients should ignore it.
    pub fn push_binary(&self, bytes: Vec<u8>) {
        self.shared().push(&Message::Binary(bytes.into()));
    }

    /// Pushes a realistic `message` event from `user` in `channel` (unique `ts`, `event_ts`,
    /// `client_msg_id`, `team`, ...) and returns it, so a test can compare what its bot saw.
    /// The message is also stored in the channel's history (`conversations.history`).
    pub fn message(&self, channel: &str, user: &str, text: &str) -> Value {
        let client_msg_id = frames::client_msg_id();
        self.person_message(channel, user, text, None, Some(&client_msg_id))
    }

    /// Builds a person's `message` event with a fresh `ts`, stores it in the channel's history
    /// and pushes it.
    pub(super) fn person_message(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        thread_ts: Option<&str>,
        client_msg_id: Option<&str>,
    ) -> Value {
        let shared = self.shared();
        let ts = shared.next_ts();
        let event = MessageEvent {
            channel,
            user,
            text,
            ts: &ts,
            team: &shared.config.team_id,
            thread_ts,
            client_msg_id,
        }
        .to_value();
        lock(&shared.workspace).store(channel, event.clone());
        self.push_text(event.to_string());
        // Slack delivers a person's message to Socket Mode apps too, as an `events_api` envelope.
        socket_mode::on_message_event(shared, &event);
        event
    }

    /// Every JSON frame clients sent, pings included, in arrival order (frames that are not
    /// JSON are not kept), so tests can assert on exactly what went over the wire.
    #[must_use]
    pub fn sent(&self) -> Vec<Value> {
        lock(&self.shared().sent).clone()
    }

    /// Waits until clients sent at least `n` JSON frames that are not pings, then returns
    /// those non-ping frames in arrival order (pings are left out so keepalive timing does not
    /// shift indices; [`Emulator::sent`] has everything).
    ///
    /// # Errors
    ///
    /// [`SentTimeout`], holding the non-ping frames received so far, if `timeout` passes first.
    pub async fn wait_for_sent(&self, n: usize, timeout: Duration) -> Result<Vec<Value>, SentTimeout> {
        let mut count = self.shared().sent_non_ping.subscribe();
        let reached = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n))
            .await
            .is_ok_and(|result| result.is_ok());
        let received = self.non_ping_sent();
        if reached {
            Ok(received)
        } else {
            Err(SentTimeout { wanted: n, received })
        }
    }

    fn non_ping_sent(&self) -> Vec<Value> {
        lock(&self.shared().sent)
            .iter()
            .filter(|frame| frame.get("type").and_then(Value::as_str) != Some("ping"))
            .cloned()
            .collect()
    }

    /// Waits until at least `n` websocket sessions are open and have received `hello`;
    /// returns `false` if `timeout` passes first. Use it before pushing events.
    pub async fn wait_for_connections(&self, n: usize, timeout: Duration) -> bool {
        let mut ready = self.shared().ready.subscribe();
        tokio::time::timeout(timeout, ready.wait_for(|c| *c >= n))
            .await
            .is_ok_and(|result| result.is_ok())
    }

    /// How many `rtm.connect`/`rtm.start` calls arrived, whatever their answer, to check a
    /// client's retry and backoff behaviour.
    #[must_use]
    pub fn connect_calls(&self) -> usize {
        self.shared().connect_calls.load(Ordering::SeqCst)
    }

    /// How many websocket sessions were ever accepted (including ones rejected with an
    /// expired-URL error), to count reconnects.
    #[must_use]
    pub fn sockets_opened(&self) -> usize {
        self.shared().sockets_opened.load(Ordering::SeqCst)
    }

    /// How many websocket connections are open now, to check that a client closes its old
    /// socket when it reconnects.
    #[must_use]
    pub fn live_sockets(&self) -> usize {
        self.shared().live_sockets.load(Ordering::SeqCst)
    }

    /// Stops the listener, closes every HTTP connection and cuts every socket at once, as if
    /// the server process died. Dropping the last handle does the same; this lets a test do it
    /// while handles still exist. Idempotent.
    pub fn shutdown(&self) {
        self.shared().stop();
    }
}

/// [`Emulator::wait_for_sent`] timed out; keeps what did arrive, for the test's message.
#[derive(Clone, thiserror::Error)]
#[error("timed out waiting for {wanted} client frames (got {})", received.len())]
pub struct SentTimeout {
    wanted: usize,
    received: Vec<Value>,
}

impl fmt::Debug for SentTimeout {
    /// Shows the count and the last frame rather than every frame, which can be thousands.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentTimeout")
            .field("wanted", &self.wanted)
            .field("received", &self.received.len())
            .field("last", &self.received.last())
            .finish()
    }
}

impl SentTimeout {
    /// How many non-ping frames were awaited.
    #[must_use]
    pub fn wanted(&self) -> usize {
        self.wanted
    }

    /// The non-ping frames that did arrive before the timeout.
    #[must_use]
    pub fn received(&self) -> &[Value] {
        &self.received
    }
}
