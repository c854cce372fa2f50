//! [`SocketModeClient`]: Slack's Socket Mode over the same connection core as RTM.

use std::{fmt, sync::Arc};

use tokio::sync::{mpsc, oneshot, watch};

use serde::Serialize;

use crate::{
    API_URL_ENV, Answered, Batch, ClientConfig, ConnectionInfo, ConnectionState, Error, Event, Events,
    ReplyFuture, RespondError, Stats, Token, WebClient,
    connection::{self, Command, Shared},
    respond,
    web::AuthTest,
    web_api,
};

/// Environment variable holding the app-level token (`xapp-…`, scope `connections:write`),
/// read by [`SocketModeClient::from_env`].
pub const APP_TOKEN_ENV: &str = "SLACK_APP_TOKEN";

/// Environment variable holding the bot token (`xoxb-…`) Socket Mode apps use for the Web
/// API, read by [`SocketModeClient::from_env`].
pub const BOT_TOKEN_ENV: &str = "SLACK_BOT_TOKEN";

/// A connection to Slack's Socket Mode: the transport of every Slack app created since
/// 2024, where RTM is no longer available.
///
/// Socket Mode only *receives*: events, slash commands and interactions arrive as envelopes
/// on a websocket opened with an app-level token (`xapp-…`), and everything the bot says goes
/// through the Web API with its bot token ([`web`](Self::web)). It is a cheap handle to
/// background tasks, one per socket, that keep the sockets alive with websocket pings and
/// replace them when they drop.
///
/// **Several sockets.** Slack hands each envelope to any one of an app's open sockets and
/// recycles every socket every few hours. The client keeps
/// [`socket_mode_connections`](crate::ClientConfigBuilder::socket_mode_connections) sockets
/// open (default [`DEFAULT_SOCKET_MODE_CONNECTIONS`](crate::DEFAULT_SOCKET_MODE_CONNECTIONS),
/// 2), so one is open while another is replaced or reconnects. [`connect`](Self::connect)
/// returns once the first said `hello`; the others open one after another in the background
/// (failures are logged and retried with backoff). Each socket has its own keepalive,
/// reconnects and make-before-break; all feed one reader. Events from different sockets have
/// no defined order between them.
///
/// What the client does for you:
/// - **Acknowledges every envelope** once, in the connection task: a slow, failing or
///   panicking reader or handler never delays an ack past its deadline, and an envelope
///   whose payload cannot be read is still acknowledged (and skipped). Envelopes that cannot
///   carry an answer (`events_api`, most `interactive` ones) are acknowledged as soon as they
///   arrive. Envelopes with `accepts_response_payload` (slash commands, `view_submission`,
///   `block_suggestion`) are acknowledged when the application answers with
///   [`respond`](Self::respond) or releases them with [`ack`](Self::ack), and at the latest
///   when the [response budget](crate::ClientConfigBuilder::response_budget) runs out
///   (default 2 s, never more than 2.5 s, inside Slack's 3-second window), with an empty ack.
/// - **Delivers each event once**, whichever socket it arrives on: Slack redelivers `events_api` envelopes it considers
///   unacknowledged; the client remembers `payload.event_id`s for 10 minutes (longer than
///   Slack's last retry at 5 minutes, with a bounded number of ids) and drops repeats. A
///   retry of an event never delivered before (it came while no socket was open) is
///   delivered.
/// - **Handles `disconnect`**: on `warning` or `refresh_requested` it opens the next socket
///   before letting the old one go (make before break), so during a refresh the client holds
///   one socket more, briefly; on `too_many_websockets` that socket backs off before
///   reconnecting while the others keep delivering; `link_disabled` (Socket Mode switched off
///   for the app) on any socket stops the whole client with [`Error::LinkDisabled`].
///
/// **State.** [`state`](Self::state) is the client's, not one socket's: `Connected` while at
/// least one socket is open, `Reconnecting` only when none is (its cause is the latest loss),
/// `Closed` once every socket is closed. [`open_sockets`](Self::open_sockets) tells how many
/// are open; [`stats`](Self::stats) add up every socket's counters.
///
/// What [`read`](Self::read) and [`events`](Self::events) return: for an `events_api`
/// envelope, its inner event (`payload.event`, e.g. a `message`), so RTM handlers work
/// unchanged; for `slash_commands` and `interactive` envelopes, the whole envelope as an
/// event whose [`kind`](crate::Event::kind) is `"slash_commands"` or `"interactive"`; plus
/// `hello` and `disconnect` frames. Every event from an envelope carries its
/// [`Envelope`](crate::Envelope) ([`Event::envelope`]): its id, kind, `retry_attempt` and
/// `retry_reason`, and whether it takes an answer.
///
/// How to answer: call [`respond`](Self::respond) with the event and the answer (a message
/// for a slash command, a `response_action` for a view submission, `options` for a block
/// suggestion). Within the budget it goes out in the ack; after it, it is posted to the
/// payload's `response_url` when there is one.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> Result<(), rtm_core::Error> {
/// use rtm_core::SocketModeClient;
///
/// // SLACK_APP_TOKEN, SLACK_BOT_TOKEN and optionally SLACK_API_URL.
/// let client = SocketModeClient::from_env().await?;
/// while let Some(batch) = client.read().await? {
///     for event in batch {
///         if event.kind() == "slash_commands" {
///             // Answered in the ack while the budget lasts, else through response_url.
///             let answer = serde_json::json!({"text": "on it"});
///             if let Err(error) = client.respond(&event, &answer).await {
///                 eprintln!("could not answer: {error}");
///             }
///         }
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SocketModeClient {
    shared: Arc<Shared>,
    /// One command channel per socket's task, in socket order.
    commands: Arc<[mpsc::UnboundedSender<Command>]>,
    web: WebClient,
    auth: Arc<AuthTest>,
    /// For `response_url` posts: the shared HTTP client (no token) and the URL rules.
    http: reqwest::Client,
    config: Arc<ClientConfig>,
}

impl SocketModeClient {
    /// Checks the bot token with `auth.test`, then calls `apps.connections.open` with
    /// `app_token`, opens the first websocket and returns once Slack's `hello` arrived on it;
    /// the client's other sockets open one after another in the background. `config`
    /// carries the **bot** token (for the Web API) and every other option (base URL,
    /// timeouts, buffer size, number of sockets).
    ///
    /// # Errors
    /// [`Error::SocketModeRefused`] with Slack's code (`invalid_auth`, …) when Slack refuses
    /// the app token; [`Error::Config`] when `auth.test` refuses the bot token or the number
    /// of sockets is outside 1 to [`MAX_SOCKET_MODE_CONNECTIONS`](crate::MAX_SOCKET_MODE_CONNECTIONS);
    /// otherwise the last transport error after the bounded retries.
    pub async fn connect(
        app_token: impl Into<Token>,
        config: ClientConfig,
    ) -> Result<SocketModeClient, Error> {
        let app_token = app_token.into();
        if app_token.expose().trim().is_empty() {
            return Err(Error::Config("the app token is empty".into()));
        }
        crate::config::check_socket_mode_connections(config.socket_mode_connections)?;
        let web = WebClient::from_config(&config).map_err(|e| Error::Config(e.to_string()))?;
        let auth = web.auth_test().await.map_err(|e| match e.slack_code() {
            Some(code) if !e.is_retryable() => Error::Config(format!(
                "auth.test refused the bot token: {code} (check {BOT_TOKEN_ENV})"
            )),
            _ => Error::Http {
                reason: "auth.test failed".into(),
                source: Some(Arc::new(e)),
            },
        })?;
        let info: ConnectionInfo = serde_json::from_value(serde_json::json!({
            "self": {"id": auth.user_id, "name": auth.user},
            "team": {"id": auth.team_id, "name": auth.team},
        }))
        .map_err(|e| Error::Protocol(format!("auth.test: {e}")))?;
        let http = web_api::http_client()?;
        let config = Arc::new(config);
        let (shared, commands) = connection::start_socket_mode((*config).clone(), app_token, info).await?;
        Ok(SocketModeClient {
            shared,
            commands: commands.into(),
            web,
            auth: Arc::new(auth),
            http,
            config,
        })
    }

    /// Connects with [`APP_TOKEN_ENV`] (`SLACK_APP_TOKEN`), [`BOT_TOKEN_ENV`]
    /// (`SLACK_BOT_TOKEN`) and, when set, [`API_URL_ENV`] (`SLACK_API_URL`).
    ///
    /// # Errors
    /// [`Error::Config`] when a token is unset; otherwise as [`connect`](Self::connect).
    pub async fn from_env() -> Result<SocketModeClient, Error> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| Error::Config(format!("{name} is not set")))
        };
        let app_token = var(APP_TOKEN_ENV)?;
        let mut builder = ClientConfig::builder(var(BOT_TOKEN_ENV)?);
        if let Ok(url) = var(API_URL_ENV) {
            builder = builder.api_url(url);
        }
        Self::connect(app_token, builder.build()?).await
    }

    /// The Web API client for the bot token: how a Socket Mode bot posts, reacts, looks
    /// users up. Cheap: clones a handle.
    pub fn web(&self) -> WebClient {
        self.web.clone()
    }

    /// Who the bot token belongs to (`auth.test`: user id, bot id, team).
    pub fn auth(&self) -> &AuthTest {
        &self.auth
    }

    /// Who the bot is and which team it belongs to.
    pub fn info(&self) -> Arc<ConnectionInfo> {
        self.shared.info()
    }

    /// Waits until at least one event is buffered, then returns every buffered event as one
    /// [`Batch`], oldest first. Acks never wait for a reader: envelopes were acknowledged
    /// when they arrived, or (those that take an answer) are acknowledged when their response
    /// budget runs out, whether or not anyone reads them.
    ///
    /// Returns `Ok(None)` once the client was closed with [`disconnect`](Self::disconnect)
    /// and everything buffered has been read.
    ///
    /// # Errors
    /// The fatal error that stopped the client (e.g. [`Error::LinkDisabled`]), after every
    /// event received before it has been returned.
    ///
    /// # Cancel safety
    /// Cancel safe: if the future is dropped before it completes, no event is taken.
    pub async fn read(&self) -> Result<Option<Batch>, Error> {
        self.shared.read().await
    }

    /// Returns every buffered event at once, without waiting: an empty batch when nothing is
    /// buffered; `Ok(None)` once closed and drained.
    ///
    /// # Errors
    /// As for [`read`](Self::read).
    pub fn try_read(&self) -> Result<Option<Batch>, Error> {
        self.shared.try_read()
    }

    pub(crate) fn reader_blocked(&self) -> impl Drop + '_ {
        self.shared.inbox.reader_blocked()
    }

    /// A continuous stream of events: `while let Some(event) = events.next().await`. It
    /// keeps the connection open while it lives, like a client handle.
    pub fn events(&self) -> Events {
        Events::new(self.shared.clone(), self.commands.clone())
    }

    /// Answers the envelope `event` came in with `payload`: a message for a slash command
    /// (`text`, `blocks`, `response_type`, …), a `response_action` for a `view_submission`,
    /// `options` for a `block_suggestion`. A bare string is sent as `{"text": …}`.
    ///
    /// While the connection still holds the envelope's ack (it takes a response payload and
    /// its [response budget](crate::ClientConfigBuilder::response_budget) has not run out),
    /// the ack goes out with the payload: [`Answered::InAck`]. Otherwise, when the payload has
    /// a `response_url` (slash commands, block actions, view submissions with
    /// `response_urls`), the payload is POSTed there as JSON, without any token:
    /// [`Answered::ResponseUrl`] (the POST is bounded by the reply timeout). A `response_url`
    /// takes up to 5 answers within 30 minutes, so later calls post follow-ups.
    ///
    /// # Errors
    /// - [`RespondError::TooLarge`] when the ack would reach Slack's 20,480-byte frame cap;
    ///   nothing was sent and the ack is still held (answer smaller, or it goes empty at the
    ///   budget).
    /// - [`RespondError::NotAnswerable`] for an event from no envelope, or whose ack has gone
    ///   and that has no `response_url`; [`RespondError::AlreadyAnswered`] when that ack
    ///   carried an earlier answer.
    /// - [`RespondError::ConnectionGone`] when the connection that received the envelope
    ///   stopped while holding its ack.
    /// - [`RespondError::ResponseUrl`] when the `response_url` POST fails.
    /// - [`RespondError::InvalidPayload`] when `payload` does not serialise.
    ///
    /// # Cancel safety
    /// Once the answer has been handed to the connection, dropping the future does not take
    /// it back; a `response_url` POST may or may not have been made.
    pub async fn respond<T: Serialize + ?Sized>(
        &self,
        event: &Event,
        payload: &T,
    ) -> Result<Answered, RespondError> {
        match respond::answer(event, respond::payload_value(payload)?).await? {
            respond::Outcome::InAck => Ok(Answered::InAck),
            respond::Outcome::PostTo { url, body } => {
                respond::post(&self.http, &url, &body, self.shared.reply_timeout, |url| {
                    self.config.check_url(url)
                })
                .await
                .map_err(RespondError::ResponseUrl)?;
                Ok(Answered::ResponseUrl)
            }
        }
    }

    /// Releases the held ack of the envelope `event` came in now, empty, instead of at the
    /// end of its response budget: for when the application has decided not to answer in the
    /// ack (e.g. every handler of the event is done). A no-op when its ack has gone already,
    /// or the event came in no envelope. Does not wait.
    pub fn ack(&self, event: &Event) {
        respond::release(event);
    }

    /// Posts `text` to `channel` (in the thread `thread_ts` when given) with
    /// `chat.postMessage` on a task of its own, so many posts can be in flight at once. The
    /// future resolves with the new message's `ts`.
    ///
    /// # Errors
    /// [`SendError::Web`](crate::SendError::Web) with the Web API error.
    pub fn post_message(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> ReplyFuture {
        self.web.post_reply(channel, text, thread_ts)
    }

    /// The client's lifecycle, observable without polling: `Connected` while at least one
    /// socket is open, `Reconnecting` only when none is, `Closed` once all are closed.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.shared.state.subscribe()
    }

    /// How many of the client's sockets are open now (said `hello`, not lost): normally
    /// [`ClientConfig::socket_mode_connections`]; fewer while some reconnect or have not
    /// opened yet. A socket being replaced counts once.
    pub fn open_sockets(&self) -> usize {
        self.shared.fleet.open()
    }

    /// A snapshot of the client's counters (events, malformed frames, reconnects, …), summed
    /// over its sockets.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Closes every socket cleanly (acknowledgements still queued or held for an answer are
    /// written first, empty, each on its socket) and stops reconnecting; returns once all are
    /// closed. Readers drain what is buffered and then see the end (`Ok(None)`) once.
    pub async fn disconnect(&self) {
        // Asked all at once, so the sockets close together.
        let mut closing = Vec::with_capacity(self.commands.len());
        for commands in self.commands.iter() {
            let (done, closed) = oneshot::channel();
            if commands.send(Command::Close { done }).is_ok() {
                closing.push(closed);
            }
        }
        for closed in closing {
            let _ = closed.await;
        }
    }
}

impl fmt::Debug for SocketModeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketModeClient")
            .field("info", &self.info())
            .field("state", &*self.shared.state.borrow())
            .finish_non_exhaustive()
    }
}
