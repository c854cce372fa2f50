//! [`EmulatorBuilder`]: the emulator's settings, each with a named default.

use std::fmt;
use std::time::Duration;

use super::Emulator;

/// The token that `rtm.connect` accepts unless the builder sets another.
pub const DEFAULT_TOKEN: &str = "xoxb-emulator-token";
/// The bot's user id reported in `rtm.connect`'s `self.id`.
pub const DEFAULT_SELF_ID: &str = "U0BOT";
/// The bot's user name reported in `rtm.connect`'s `self.name`.
pub const DEFAULT_SELF_NAME: &str = "rtm-bot";
/// The workspace id reported in `rtm.connect`'s `team.id`.
pub const DEFAULT_TEAM_ID: &str = "T0EMU";
/// The workspace name reported in `rtm.connect`'s `team.name`.
pub const DEFAULT_TEAM_NAME: &str = "Emulated Team";
/// The workspace domain reported in `rtm.connect`'s `team.domain`.
pub const DEFAULT_TEAM_DOMAIN: &str = "emulated";
/// How long a websocket URL stays usable: Slack documents 30 seconds.
pub const DEFAULT_TICKET_TTL: Duration = Duration::from_secs(30);
/// The largest client frame accepted: Slack disconnects clients whose frame exceeds 16 KB.
pub const DEFAULT_MAX_CLIENT_FRAME: usize = 16 * 1024;
/// How long after `goodbye` the emulator closes the socket.
pub const DEFAULT_GOODBYE_CLOSE_DELAY: Duration = Duration::from_millis(100);

/// Settings shared by every task of one emulator.
#[derive(Debug, Clone)]
pub(super) struct Config {
    pub(super) token: String,
    pub(super) self_id: String,
    pub(super) self_name: String,
    pub(super) team_id: String,
    pub(super) team_name: String,
    pub(super) team_domain: String,
    pub(super) ticket_ttl: Duration,
    pub(super) max_client_frame: usize,
    pub(super) goodbye_close_delay: Duration,
    pub(super) broadcast_sent_messages: bool,
    pub(super) message_rate_limit: Option<(u32, u32)>,
    pub(super) max_connects_per_sec: Option<u32>,
    pub(super) hello_delay: Duration,
    pub(super) frames_before_hello: Vec<String>,
    pub(super) socket_mode: super::socket_mode::SocketModeConfig,
    /// Other users and bots that can post with `chat.postMessage`, by token.
    pub(super) other_posters: Vec<OtherPoster>,
}

/// Another user or bot of the workspace that posts with its own token.
#[derive(Clone)]
pub(super) struct OtherPoster {
    token: String,
    pub(super) user: String,
    pub(super) bot_id: Option<String>,
}

impl fmt::Debug for OtherPoster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtherPoster")
            .field("token", &"<redacted>")
            .field("user", &self.user)
            .field("bot_id", &self.bot_id)
            .finish()
    }
}

impl Config {
    /// The other poster whose token this is.
    pub(super) fn other_poster(&self, token: &str) -> Option<&OtherPoster> {
        self.other_posters.iter().find(|p| p.token == token)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            token: DEFAULT_TOKEN.to_owned(),
            self_id: DEFAULT_SELF_ID.to_owned(),
            self_name: DEFAULT_SELF_NAME.to_owned(),
            team_id: DEFAULT_TEAM_ID.to_owned(),
            team_name: DEFAULT_TEAM_NAME.to_owned(),
            team_domain: DEFAULT_TEAM_DOMAIN.to_owned(),
            ticket_ttl: DEFAULT_TICKET_TTL,
            max_client_frame: DEFAULT_MAX_CLIENT_FRAME,
            goodbye_close_delay: DEFAULT_GOODBYE_CLOSE_DELAY,
            broadcast_sent_messages: true,
            message_rate_limit: None,
            max_connects_per_sec: None,
            hello_delay: Duration::ZERO,
            frames_before_hello: Vec::new(),
            socket_mode: super::socket_mode::SocketModeConfig::default(),
            other_posters: Vec::new(),
        }
    }
}

/// Configures an [`Emulator`] before it binds its port, so a test can shape the fake workspace
/// (ids, token, limits, timings) that its bot will meet.
///
/// Every setter has a documented default; [`EmulatorBuilder::start`] binds `127.0.0.1:0`.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// let emulator = rtm_core::emulator::Emulator::builder()
///     .token("xoxb-test")
///     .ticket_ttl(Duration::from_secs(5))
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `start` is awaited"]
#[derive(Clone, Default)]
pub struct EmulatorBuilder {
    config: Config,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("EmulatorBuilder")
            .field("token", &"<redacted>")
            .field("self_id", &c.self_id)
            .field("team_id", &c.team_id)
            .field("ticket_ttl", &c.ticket_ttl)
            .field("max_client_frame", &c.max_client_frame)
            .field("goodbye_close_delay", &c.goodbye_close_delay)
            .field("broadcast_sent_messages", &c.broadcast_sent_messages)
            .field("message_rate_limit", &c.message_rate_limit)
            .field("max_connects_per_sec", &c.max_connects_per_sec)
            .field("hello_delay", &c.hello_delay)
            .field("frames_before_hello", &c.frames_before_hello.len())
            .finish_non_exhaustive()
    }
}

impl EmulatorBuilder {
    /// Sets the only token `rtm.connect` accepts, so tests can check that a client sends the
    /// token it was given. Default [`DEFAULT_TOKEN`].
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.token = token.into();
        self
    }

    /// Sets the bot's user id (`self.id`, and `user` on messages the bot sends), so tests can
    /// check that a bot ignores its own messages. Default [`DEFAULT_SELF_ID`].
    pub fn self_id(mut self, id: impl Into<String>) -> Self {
        self.config.self_id = id.into();
        self
    }

    /// Sets the bot's user name (`self.name`). Default [`DEFAULT_SELF_NAME`].
    pub fn self_name(mut self, name: impl Into<String>) -> Self {
        self.config.self_name = name.into();
        self
    }

    /// Sets the workspace id (`team.id`, and `team` on events). Default [`DEFAULT_TEAM_ID`].
    pub fn team_id(mut self, id: impl Into<String>) -> Self {
        self.config.team_id = id.into();
        self
    }

    /// Sets the workspace name (`team.name`). Default [`DEFAULT_TEAM_NAME`].
    pub fn team_name(mut self, name: impl Into<String>) -> Self {
        self.config.team_name = name.into();
        self
    }

    /// Sets the workspace domain (`team.domain`). Default [`DEFAULT_TEAM_DOMAIN`].
    pub fn team_domain(mut self, domain: impl Into<String>) -> Self {
        self.config.team_domain = domain.into();
        self
    }

    /// Sets how long a websocket URL from `rtm.connect` stays usable, so a test can make a
    /// slow client meet an expired URL. Default [`DEFAULT_TICKET_TTL`] (Slack's 30 s).
    pub fn ticket_ttl(mut self, ttl: Duration) -> Self {
        self.config.ticket_ttl = ttl;
        self
    }

    /// Sets the largest client frame in bytes; a bigger one closes the socket (close code
    /// 1009), as Slack disconnects clients that send over 16 KB. Default
    /// [`DEFAULT_MAX_CLIENT_FRAME`].
    pub fn max_client_frame(mut self, bytes: usize) -> Self {
        self.config.max_client_frame = bytes;
        self
    }

    /// Sets how long [`Emulator::goodbye`] waits before closing each socket, so a test can
    /// check that a client reconnects on `goodbye` without waiting for the close. Default
    /// [`DEFAULT_GOODBYE_CLOSE_DELAY`].
    pub fn goodbye_close_delay(mut self, delay: Duration) -> Self {
        self.config.goodbye_close_delay = delay;
        self
    }

    /// Whether a message a client sends is also delivered back to every open socket as a
    /// `message` event whose `user` is the bot's own id, as Slack does. Bots must ignore their
    /// own messages, and this default (`true`) makes tests catch echo loops.
    pub fn broadcast_sent_messages(mut self, broadcast: bool) -> Self {
        self.config.broadcast_sent_messages = broadcast;
        self
    }

    /// Limits client `message` frames to `(per_second, burst)` across all sockets (a token
    /// bucket holding at most `burst`, at least 1, refilled at `per_second`). Over the limit a
    /// message is not posted and, if it had an `id`, gets error code `-1` "slow down, too many
    /// messages...", as Slack answers. Default `None`: no limit.
    pub fn message_rate_limit(mut self, limit: Option<(u32, u32)>) -> Self {
        self.config.message_rate_limit = limit;
        self
    }

    /// Limits `rtm.connect` to this many successful calls in any one-second window; the calls
    /// over it get HTTP 429 with `Retry-After: 1`, so tests can check a client's reconnect
    /// backoff. Default `None`: no limit.
    pub fn max_connects_per_sec(mut self, max: Option<u32>) -> Self {
        self.config.max_connects_per_sec = max;
        self
    }

    /// Delays `hello` on each new socket, so tests can check a client's hello timeout.
    /// Default zero.
    pub fn hello_delay(mut self, delay: Duration) -> Self {
        self.config.hello_delay = delay;
        self
    }

    /// Text frames sent on each new socket *before* `hello`, as some servers other than Slack
    /// do, so tests can check that a client keeps them. Default none.
    pub fn frames_before_hello<I, S>(mut self, frames: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.frames_before_hello = frames.into_iter().map(Into::into).collect();
        self
    }

    /// Adds another user (or, with `bot_id`, another app's bot) that posts with
    /// `chat.postMessage` using `token`: its messages carry its `user` (and `bot_id`), are
    /// stored in the channel's history and reach RTM sockets and Socket Mode apps like any
    /// message, but are not in [`Emulator::posts`] (the bot's own posts). Lets a test check
    /// what a bot does with other bots' messages. Default: none.
    pub fn other_poster(
        mut self,
        token: impl Into<String>,
        user_id: impl Into<String>,
        bot_id: Option<&str>,
    ) -> Self {
        self.config.other_posters.push(OtherPoster {
            token: token.into(),
            user: user_id.into(),
            bot_id: bot_id.map(str::to_owned),
        });
        self
    }

    /// Socket Mode: the app-level token `apps.connections.open` accepts. Default
    /// [`DEFAULT_APP_TOKEN`](super::DEFAULT_APP_TOKEN).
    pub fn app_token(mut self, token: impl Into<String>) -> Self {
        self.config.socket_mode.app_token = token.into();
        self
    }

    /// Socket Mode: how many sockets the app may hold; a socket beyond it gets `hello`, then
    /// `disconnect` with `too_many_websockets`, then a close. Default
    /// [`DEFAULT_SOCKET_MODE_MAX_SOCKETS`](super::DEFAULT_SOCKET_MODE_MAX_SOCKETS) (Slack's 10).
    pub fn socket_mode_max_sockets(mut self, max: usize) -> Self {
        self.config.socket_mode.max_sockets = max;
        self
    }

    /// Socket Mode: how long an `events_api` envelope may go un-acked, and the delay before
    /// each redelivery after that (`retry_attempt` 1, 2, …, `retry_reason: "timeout"`). An
    /// empty schedule never redelivers. Defaults [`DEFAULT_ACK_TIMEOUT`](super::DEFAULT_ACK_TIMEOUT)
    /// and [`DEFAULT_RETRY_SCHEDULE`](super::DEFAULT_RETRY_SCHEDULE); tests compress them.
    pub fn socket_mode_retries(mut self, ack_timeout: Duration, schedule: impl Into<Vec<Duration>>) -> Self {
        self.config.socket_mode.ack_timeout = ack_timeout;
        self.config.socket_mode.retry_schedule = schedule.into();
        self
    }

    /// Socket Mode: how often the emulator sends a websocket ping on each socket. Default
    /// [`DEFAULT_SOCKET_MODE_PING_INTERVAL`](super::DEFAULT_SOCKET_MODE_PING_INTERVAL).
    pub fn socket_mode_ping_interval(mut self, interval: Duration) -> Self {
        self.config.socket_mode.ping_interval = interval;
        self
    }

    /// Socket Mode: how long after `disconnect` (`warning`, `refresh_requested`) the socket is
    /// closed. Default [`DEFAULT_DISCONNECT_CLOSE_DELAY`](super::DEFAULT_DISCONNECT_CLOSE_DELAY).
    pub fn socket_mode_disconnect_close_delay(mut self, delay: Duration) -> Self {
        self.config.socket_mode.disconnect_close_delay = delay;
        self
    }

    /// Socket Mode: how long a URL from `apps.connections.open` stays usable (once); an
    /// upgrade with an expired or used ticket is refused with HTTP 409. Default
    /// [`DEFAULT_SOCKET_MODE_TICKET_TTL`](super::DEFAULT_SOCKET_MODE_TICKET_TTL).
    pub fn socket_mode_ticket_ttl(mut self, ttl: Duration) -> Self {
        self.config.socket_mode.ticket_ttl = ttl;
        self
    }

    /// Socket Mode: how long a socket whose TCP connection ended without a close handshake
    /// stays registered as a ghost, counted in `hello.num_connections` and against the cap
    /// (§7.6). Zero: never. Default [`DEFAULT_GHOST_LIFETIME`](super::DEFAULT_GHOST_LIFETIME).
    pub fn socket_mode_ghost_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.socket_mode.ghost_lifetime = lifetime;
        self
    }

    /// Socket Mode: how long a socket whose URL carries `debug_reconnects=true` lives before
    /// it gets `disconnect` with `refresh_requested`. Default
    /// [`DEFAULT_DEBUG_RECONNECTS_LIFETIME`](super::DEFAULT_DEBUG_RECONNECTS_LIFETIME) (Slack's 360 s).
    pub fn socket_mode_debug_reconnects_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.socket_mode.debug_reconnects_lifetime = lifetime;
        self
    }

    /// Socket Mode: every socket behaves as if its URL carried `debug_reconnects=true`
    /// (refreshed after the debug lifetime), so a client's refresh path runs without changing
    /// its URL. Default `false`.
    pub fn socket_mode_debug_reconnects(mut self, always: bool) -> Self {
        self.config.socket_mode.debug_reconnects = always;
        self
    }

    /// Binds a free port on 127.0.0.1 and starts serving; the server runs on the current tokio
    /// runtime (current-thread or multi-thread) until the last [`Emulator`] handle is dropped.
    ///
    /// # Errors
    ///
    /// Fails if the loopback port cannot be bound.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tokio runtime, like `tokio::spawn`.
    pub async fn start(self) -> std::io::Result<Emulator> {
        Emulator::from_config(self.config).await
    }
}
