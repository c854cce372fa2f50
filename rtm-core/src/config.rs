//! Client configuration and its builder. Every default is a named constant.

use std::time::Duration;

use reqwest::Url;

use crate::{Error, secret::Token};

/// Slack's Web API base URL.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";
/// How often a quiet connection is pinged (an RTM `ping`, which Slack answers with `pong`).
/// Slack's docs advise pinging every few seconds when idle.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// How long the connection may stay silent (no frame at all) before it is declared dead.
/// With the default interval a pong is due every 5 s, so a half-open TCP connection is
/// detected within 10 s of the last frame.
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a send waits for Slack's reply (including time spent waiting for a reconnect).
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one connection attempt (`rtm.connect`, the websocket handshake and `hello`
/// together) may take. With the retry policy's first delay (at most
/// [`DEFAULT_BACKOFF_BASE`]), a stuck attempt is abandoned and a new one started within 9 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// Events buffered for the reader before the client stops reading the socket.
pub const DEFAULT_EVENT_BUFFER: usize = 16 * 1024;
/// First delay of the exponential reconnect backoff (after the immediate first retry).
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Cap of the reconnect backoff.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Minimum spacing between two `rtm.connect` calls. `rtm.connect` is a tier-1 Web API
/// method; this makes a reconnect storm impossible even against a server that accepts and
/// immediately drops every connection.
pub const DEFAULT_MIN_CONNECT_INTERVAL: Duration = Duration::from_secs(1);
/// How many failed attempts the first [`RtmClient::connect`](crate::RtmClient::connect)
/// makes before it gives up (rate-limit waits do not count). Later reconnects never give up
/// on retryable errors.
pub const DEFAULT_INITIAL_CONNECT_ATTEMPTS: u32 = 5;
/// Sockets a [`SocketModeClient`](crate::SocketModeClient) keeps open at once. Slack hands
/// each envelope to any one of an app's open sockets and recycles every socket every few
/// hours; with two, one is always open while the other is being replaced or reconnects, so
/// no event waits for a retry. More add little: each socket costs a Tier-1
/// `apps.connections.open` call on every refresh and counts against Slack's limit of
/// [`MAX_SOCKET_MODE_CONNECTIONS`] per app, which every process of the app, replacements
/// being opened and dead registrations Slack has not noticed yet all share.
pub const DEFAULT_SOCKET_MODE_CONNECTIONS: usize = 2;
/// Slack's limit of simultaneous Socket Mode sockets per app; more are refused with
/// `too_many_websockets`.
pub const MAX_SOCKET_MODE_CONNECTIONS: usize = 10;

/// Socket Mode: how long the client holds back the ack of an envelope that takes a response
/// payload (slash commands, `view_submission`, `block_suggestion`) for the application's
/// answer, before acknowledging it empty.
pub const DEFAULT_RESPONSE_BUDGET: Duration = Duration::from_secs(2);
/// The longest response budget accepted: Slack wants the ack within 3 s (protocol §7.3), and
/// half a second is left for the ack to travel.
pub const MAX_RESPONSE_BUDGET: Duration = Duration::from_millis(2500);

/// Environment variable holding the token, read by [`ClientConfig::from_env`].
pub const TOKEN_ENV: &str = "SLACK_TOKEN";
/// Environment variable overriding the Web API base URL, read by [`ClientConfig::from_env`].
pub const API_URL_ENV: &str = "SLACK_API_URL";

/// How an [`RtmClient`](crate::RtmClient) connects and behaves. Build it with
/// [`ClientConfig::builder`] or [`ClientConfig::from_env`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub(crate) token: Token,
    pub(crate) api_url: Url,
    pub(crate) allow_insecure: bool,
    pub(crate) keepalive_interval: Duration,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) reply_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) event_buffer: usize,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) min_connect_interval: Duration,
    pub(crate) initial_connect_attempts: u32,
    pub(crate) send_pace: Option<(Duration, u32)>,
    pub(crate) response_budget: Duration,
    pub(crate) manual_acks: bool,
    pub(crate) socket_mode_connections: usize,
}

impl ClientConfig {
    /// Starts a builder with the token; every other option has a default.
    pub fn builder(token: impl Into<Token>) -> ClientConfigBuilder {
        ClientConfigBuilder {
            token: token.into(),
            api_url: DEFAULT_API_URL.to_owned(),
            allow_insecure: false,
            keepalive_interval: DEFAULT_KEEPALIVE_INTERVAL,
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            event_buffer: DEFAULT_EVENT_BUFFER,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_max: DEFAULT_BACKOFF_MAX,
            min_connect_interval: DEFAULT_MIN_CONNECT_INTERVAL,
            initial_connect_attempts: DEFAULT_INITIAL_CONNECT_ATTEMPTS,
            send_pace: None,
            response_budget: DEFAULT_RESPONSE_BUDGET,
            manual_acks: false,
            socket_mode_connections: DEFAULT_SOCKET_MODE_CONNECTIONS,
        }
    }

    /// Reads `SLACK_TOKEN` (required) and `SLACK_API_URL` (optional) from the environment.
    ///
    /// # Errors
    /// [`Error::Config`] when `SLACK_TOKEN` is unset or empty, or the URL is invalid.
    pub fn from_env() -> Result<ClientConfig, Error> {
        Self::builder_from_env()?.build()
    }

    /// Like [`from_env`](Self::from_env), but returns the builder so more options can be set.
    ///
    /// # Errors
    /// [`Error::Config`] when `SLACK_TOKEN` is unset or empty.
    pub fn builder_from_env() -> Result<ClientConfigBuilder, Error> {
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Error::Config(format!("{TOKEN_ENV} is not set")))?;
        let mut builder = Self::builder(token);
        if let Ok(url) = std::env::var(API_URL_ENV)
            && !url.trim().is_empty()
        {
            builder = builder.api_url(url);
        }
        Ok(builder)
    }

    /// The Web API base URL, e.g. `https://slack.com/api/`.
    pub fn api_url(&self) -> &str {
        self.api_url.as_str()
    }

    /// The reply timeout applied to every send.
    pub fn reply_timeout(&self) -> Duration {
        self.reply_timeout
    }

    /// How many sockets a [`SocketModeClient`](crate::SocketModeClient) keeps open.
    pub fn socket_mode_connections(&self) -> usize {
        self.socket_mode_connections
    }

    /// Whether a URL may be used: https/wss always; http/ws only for loopback hosts unless
    /// [`ClientConfigBuilder::allow_insecure`] was set.
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), Error> {
        check_url(url, self.allow_insecure)
    }
}

pub(crate) fn check_url(url: &Url, allow_insecure: bool) -> Result<(), Error> {
    match url.scheme() {
        "https" | "wss" => Ok(()),
        "http" | "ws" if allow_insecure || is_loopback(url) => Ok(()),
        "http" | "ws" => Err(Error::Config(format!(
            "refusing plain {}:// to non-loopback host {}; use https/wss or allow_insecure(true)",
            url.scheme(),
            url.host_str().unwrap_or("")
        ))),
        other => Err(Error::Config(format!("unsupported URL scheme `{other}`"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Builder for [`ClientConfig`]; setters take and return `self`.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct ClientConfigBuilder {
    token: Token,
    api_url: String,
    allow_insecure: bool,
    keepalive_interval: Duration,
    keepalive_timeout: Duration,
    reply_timeout: Duration,
    connect_timeout: Duration,
    event_buffer: usize,
    backoff_base: Duration,
    backoff_max: Duration,
    min_connect_interval: Duration,
    initial_connect_attempts: u32,
    send_pace: Option<(Duration, u32)>,
    response_budget: Duration,
    manual_acks: bool,
    socket_mode_connections: usize,
}

impl ClientConfigBuilder {
    /// Web API base URL (default [`DEFAULT_API_URL`]); the bundled emulator gives its own.
    /// A missing trailing slash is added.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        if !self.api_url.ends_with('/') {
            self.api_url.push('/');
        }
        self
    }

    /// Accept plain `http://`/`ws://` to hosts that are not loopback (default `false`).
    /// Only for trusted networks: the token travels in clear text.
    pub fn allow_insecure(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// How often to ping a quiet connection (default [`DEFAULT_KEEPALIVE_INTERVAL`]).
    pub fn keepalive_interval(mut self, interval: Duration) -> Self {
        self.keepalive_interval = interval;
        self
    }

    /// How long without any inbound frame before the connection is declared dead and replaced
    /// (default [`DEFAULT_KEEPALIVE_TIMEOUT`]). Must exceed the keepalive interval.
    pub fn keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.keepalive_timeout = timeout;
        self
    }

    /// How long a send waits for its reply (default [`DEFAULT_REPLY_TIMEOUT`]).
    pub fn reply_timeout(mut self, timeout: Duration) -> Self {
        self.reply_timeout = timeout;
        self
    }

    /// Bound on `rtm.connect` + websocket handshake + `hello` (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many events may wait for the reader (default [`DEFAULT_EVENT_BUFFER`]). When the
    /// buffer is full the client stops reading the socket until the reader catches up: memory
    /// stays bounded and nothing is dropped (Slack may eventually disconnect a reader that
    /// stays behind for long; the client then reconnects).
    ///
    /// One exception keeps senders from deadlocking. Slack's replies travel behind the events
    /// sent before them, so a reader that awaits a reply before reading on would wait forever
    /// behind a full buffer. When sends await replies and the reader has not taken anything
    /// for 100 ms (or the dispatcher's handlers hold every permit), the client reads past the
    /// limit until the reader next takes a batch. A reader that keeps taking batches stays
    /// within the limit however many replies it has in flight.
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events;
        self
    }

    /// Reconnect backoff: the first retry after a working connection is lost is immediate;
    /// consecutive failures then wait `base`, `2 × base`, … up to `max`, each with jitter
    /// (defaults [`DEFAULT_BACKOFF_BASE`], [`DEFAULT_BACKOFF_MAX`]).
    pub fn reconnect_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Minimum time between two `rtm.connect` calls (default
    /// [`DEFAULT_MIN_CONNECT_INTERVAL`]).
    pub fn min_connect_interval(mut self, interval: Duration) -> Self {
        self.min_connect_interval = interval;
        self
    }

    /// Failed attempts the first connect makes before giving up (default
    /// [`DEFAULT_INITIAL_CONNECT_ATTEMPTS`]; 429s are waited out and count separately, up to
    /// twice as many). The first connect and reconnects share one retry policy (immediate
    /// first retry after a loss, then exponential backoff with jitter, exact `Retry-After` on
    /// 429, never on auth errors); only the first connect gives up, so that a wrong URL or
    /// token fails [`RtmClient::connect`](crate::RtmClient::connect) instead of hanging.
    /// Reconnects never give up on transient errors. Many clients of one process reconnecting
    /// at once (a network blip) are paced process-wide: 20 at once, then 100 per second.
    pub fn initial_connect_attempts(mut self, attempts: u32) -> Self {
        self.initial_connect_attempts = attempts.max(1);
        self
    }

    /// Paces sends on the client side: `burst` at once, then one per `interval` (off by
    /// default). Slack allows about one message per second per connection, with short bursts,
    /// and refuses the excess with `SendError::Slack { code: -1 }` ("slow down", see
    /// [`SendError::is_rate_limited`](crate::SendError::is_rate_limited)). With pacing, a bot
    /// that posts in a loop is slowed down instead: sends wait their turn, in call order, and
    /// the reply timeout of a paced send counts from when it is written.
    ///
    /// # Examples
    /// ```
    /// # fn demo() -> Result<(), rtm_core::Error> {
    /// use std::time::Duration;
    ///
    /// let config = rtm_core::ClientConfig::builder("xoxb-…")
    ///     .pace_sends(Duration::from_secs(1), 3) // Slack's pace, bursts of 3
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn pace_sends(mut self, interval: Duration, burst: u32) -> Self {
        self.send_pace = Some((interval, burst));
        self
    }

    /// Socket Mode: how long the ack of an envelope that takes a response payload (slash
    /// commands, `view_submission`, `block_suggestion`) is held back for
    /// [`SocketModeClient::respond`](crate::SocketModeClient::respond) to put the answer in
    /// it (default [`DEFAULT_RESPONSE_BUDGET`]). When the budget runs out the connection
    /// task acknowledges the envelope empty, whatever the reader and handlers are doing; a
    /// later answer goes to the payload's `response_url`, if it has one.
    ///
    /// Clamped to [`MAX_RESPONSE_BUDGET`] (2.5 s), so the ack always reaches Slack inside its
    /// 3-second window. Zero acknowledges every envelope on receipt.
    pub fn response_budget(mut self, budget: Duration) -> Self {
        self.response_budget = budget.min(MAX_RESPONSE_BUDGET);
        self
    }

    /// Socket Mode: acknowledge envelopes only when the application calls
    /// [`SocketModeClient::ack`](crate::SocketModeClient::ack) (or
    /// [`respond`](crate::SocketModeClient::respond)), for applications that must store an
    /// event durably before Slack may forget it (a queue gateway). The client never
    /// acknowledges an envelope the application did not, not even when closing, so Slack
    /// redelivers it (`events_api` envelopes; interactive ones are not redelivered and fail for
    /// the user after 3 s). An ack later than Slack's 3-second window still goes out and stops
    /// further retries; an envelope nobody acknowledges is forgotten after 10 minutes. The
    /// client then delivers every delivery, repeats included: deduplicate by
    /// [`Envelope::event_id`](crate::Envelope::event_id) where you store. Default: off (every
    /// envelope is acknowledged by the client, as it arrives).
    pub fn manual_acks(mut self, manual: bool) -> Self {
        self.manual_acks = manual;
        self
    }

    /// How many sockets a [`SocketModeClient`](crate::SocketModeClient) keeps open at once,
    /// 1 to [`MAX_SOCKET_MODE_CONNECTIONS`] (default [`DEFAULT_SOCKET_MODE_CONNECTIONS`], which
    /// explains why two). Each socket has its own keepalive and reconnects on its own; all
    /// feed one reader, and an event Slack delivers on two of them is read once. The client
    /// opens them one after another, never in a burst. An [`RtmClient`](crate::RtmClient)
    /// ignores this: RTM has one socket.
    pub fn socket_mode_connections(mut self, sockets: usize) -> Self {
        self.socket_mode_connections = sockets;
        self
    }

    /// Validates and builds the configuration.
    ///
    /// # Errors
    /// [`Error::Config`] for an unparsable or insecure URL, an empty token, a zero buffer, a
    /// keepalive timeout not above the interval, or a number of Socket Mode connections
    /// outside 1 to [`MAX_SOCKET_MODE_CONNECTIONS`].
    pub fn build(self) -> Result<ClientConfig, Error> {
        if self.token.expose().trim().is_empty() {
            return Err(Error::Config("the token is empty".into()));
        }
        let api_url =
            Url::parse(&self.api_url).map_err(|e| Error::Config(format!("invalid API URL: {e}")))?;
        check_url(&api_url, self.allow_insecure)?;
        if self.event_buffer == 0 {
            return Err(Error::Config("event_buffer must be at least 1".into()));
        }
        if self.keepalive_interval.is_zero() || self.keepalive_timeout <= self.keepalive_interval {
            return Err(Error::Config(
                "keepalive_timeout must be greater than a non-zero keepalive_interval".into(),
            ));
        }
        check_socket_mode_connections(self.socket_mode_connections)?;
        Ok(ClientConfig {
            token: self.token,
            api_url,
            allow_insecure: self.allow_insecure,
            keepalive_interval: self.keepalive_interval,
            keepalive_timeout: self.keepalive_timeout,
            reply_timeout: self.reply_timeout,
            connect_timeout: self.connect_timeout,
            event_buffer: self.event_buffer,
            backoff_base: self.backoff_base,
            backoff_max: self.backoff_max.max(self.backoff_base),
            min_connect_interval: self.min_connect_interval,
            initial_connect_attempts: self.initial_connect_attempts,
            send_pace: self.send_pace.map(|(interval, burst)| (interval, burst.max(1))),
            response_budget: self.response_budget,
            manual_acks: self.manual_acks,
            socket_mode_connections: self.socket_mode_connections,
        })
    }
}

/// Refuses a number of Socket Mode sockets Slack would not allow (or that opens none).
pub(crate) fn check_socket_mode_connections(sockets: usize) -> Result<(), Error> {
    if (1..=MAX_SOCKET_MODE_CONNECTIONS).contains(&sockets) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "socket_mode_connections must be 1 to {MAX_SOCKET_MODE_CONNECTIONS} (Slack's limit per app), not {sockets}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:9/api/",
            "http://localhost/api/",
            "http://[::1]:1/",
            "https://slack.com/api/",
        ] {
            assert!(
                ClientConfig::builder("xoxb-1").api_url(ok).build().is_ok(),
                "{ok}"
            );
        }
        let err = ClientConfig::builder("xoxb-1")
            .api_url("http://example.com/api/")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        assert!(
            ClientConfig::builder("xoxb-1")
                .api_url("http://example.com/api/")
                .allow_insecure(true)
                .build()
                .is_ok()
        );
        assert!(
            ClientConfig::builder("xoxb-1")
                .api_url("ftp://x/")
                .build()
                .is_err()
        );
    }

    #[test]
    fn trailing_slash_added_and_token_redacted() {
        let cfg = ClientConfig::builder("xoxb-super-secret")
            .api_url("http://127.0.0.1:1/api")
            .build()
            .unwrap();
        assert_eq!(cfg.api_url(), "http://127.0.0.1:1/api/");
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("super-secret"), "{dbg}");
    }

    #[test]
    fn the_response_budget_is_clamped_inside_slacks_ack_window() {
        let config = |budget| {
            ClientConfig::builder("x")
                .response_budget(budget)
                .build()
                .unwrap()
                .response_budget
        };
        assert_eq!(
            ClientConfig::builder("x").build().unwrap().response_budget,
            DEFAULT_RESPONSE_BUDGET
        );
        assert_eq!(config(Duration::from_millis(300)), Duration::from_millis(300));
        assert_eq!(config(Duration::from_secs(10)), MAX_RESPONSE_BUDGET);
    }

    #[test]
    fn socket_mode_connections_default_to_two_and_stay_within_slacks_limit() {
        let build = |n| ClientConfig::builder("x").socket_mode_connections(n).build();
        assert_eq!(
            ClientConfig::builder("x")
                .build()
                .unwrap()
                .socket_mode_connections(),
            2
        );
        for ok in [1, 2, 10] {
            assert_eq!(build(ok).unwrap().socket_mode_connections(), ok);
        }
        for bad in [0, 11] {
            let err = build(bad).unwrap_err();
            assert!(matches!(&err, Error::Config(m) if m.contains("1 to 10")), "{err}");
        }
    }

    #[test]
    fn keepalive_timeout_must_exceed_interval() {
        let err = ClientConfig::builder("x")
            .keepalive_interval(Duration::from_secs(5))
            .keepalive_timeout(Duration::from_secs(5))
            .build();
        assert!(err.is_err());
    }
}
