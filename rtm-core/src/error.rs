//! Every error the client returns, one type per boundary.
//!
//! Errors are `Clone` so that every reader of a client sees the same fatal error. Foreign
//! errors (reqwest, tungstenite, serde_json) are only reachable through
//! [`std::error::Error::source`], never as public fields, so their versions stay out of our API.

use std::{fmt, sync::Arc, time::Duration};

/// A foreign error kept only as a source.
pub(crate) type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why connecting, reading or configuring the client failed.
///
/// `Debug` starts with the `Display` text (with its remedy, e.g. which token RTM needs), then
/// the variant's fields, so `fn main() -> Result<(), rtm_core::Error>` shows the remedy too:
///
/// ```text
/// Error: slack refused rtm.connect: not_allowed_token_type (RTM needs a user token or …) [Slack { code: "not_allowed_token_type" }]
/// ```
#[derive(Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Slack answered `rtm.connect` with `ok: false`. `code` is Slack's error code, such as
    /// `invalid_auth`, `token_revoked` or `not_allowed_token_type`.
    #[error("slack refused rtm.connect: {code}{}", hint(code))]
    Slack {
        /// Slack's error code.
        code: String,
    },
    /// Slack answered `apps.connections.open` (Socket Mode) with `ok: false`. `code` is
    /// Slack's error code, such as `invalid_auth` for a wrong app-level token.
    #[error("slack refused apps.connections.open: {code}{}", socket_mode_hint(code))]
    SocketModeRefused {
        /// Slack's error code.
        code: String,
    },
    /// Socket Mode: Slack sent `disconnect` with `link_disabled`: Socket Mode was switched off
    /// for the app. Fatal: the client stops and does not reconnect.
    #[error("slack disabled socket mode for this app (disconnect: link_disabled)")]
    LinkDisabled,
    /// Slack asked us to slow down (HTTP 429 or `ratelimited`). The client waits and retries
    /// by itself; you see this only when the first connect runs out of attempts.
    #[error("rate limited by slack, retry after {retry_after:?}")]
    RateLimited {
        /// How long Slack asked us to wait.
        retry_after: Duration,
    },
    /// The HTTP call to the Web API failed (network error, timeout, unexpected status).
    #[error("web api request failed: {reason}")]
    Http {
        /// What went wrong, without the token or the full URL.
        reason: String,
        /// The underlying error.
        #[source]
        source: Option<Source>,
    },
    /// The websocket could not be opened or failed.
    #[error("websocket failed: {reason}")]
    WebSocket {
        /// What went wrong, without the socket URL (it carries a secret ticket).
        reason: String,
        /// The underlying error.
        #[source]
        source: Option<Source>,
    },
    /// Slack sent something the client could not understand where it expected a known answer.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A step did not finish in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} [")?;
        match self {
            Error::Slack { code } => f.debug_struct("Slack").field("code", code).finish(),
            Error::SocketModeRefused { code } => {
                f.debug_struct("SocketModeRefused").field("code", code).finish()
            }
            Error::LinkDisabled => f.write_str("LinkDisabled"),
            Error::RateLimited { retry_after } => f
                .debug_struct("RateLimited")
                .field("retry_after", retry_after)
                .finish(),
            Error::Http { reason, source } => f
                .debug_struct("Http")
                .field("reason", reason)
                .field("source", source)
                .finish(),
            Error::WebSocket { reason, source } => f
                .debug_struct("WebSocket")
                .field("reason", reason)
                .field("source", source)
                .finish(),
            Error::Protocol(reason) => f.debug_tuple("Protocol").field(reason).finish(),
            Error::Timeout(what) => f.debug_tuple("Timeout").field(what).finish(),
            Error::Config(reason) => f.debug_tuple("Config").field(reason).finish(),
        }?;
        f.write_str("]")
    }
}

/// A short hint for the codes users meet most; empty for the others.
fn hint(code: &str) -> &'static str {
    match code {
        "invalid_auth" | "not_authed" => " (check SLACK_TOKEN)",
        "not_allowed_token_type" => {
            " (RTM needs a user token or the bot token of a classic Slack app; modern apps must use Socket Mode)"
        }
        "token_revoked" | "token_expired" | "account_inactive" => {
            " (the token no longer works; issue a new one)"
        }
        "missing_scope" => " (the token lacks the scope rtm.connect needs)",
        _ => "",
    }
}

/// The hint for `apps.connections.open` codes.
fn socket_mode_hint(code: &str) -> &'static str {
    match code {
        "invalid_auth" | "not_authed" => {
            " (check SLACK_APP_TOKEN: an app-level xapp- token with connections:write)"
        }
        _ => "",
    }
}

impl Error {
    /// Slack's error code when Slack refused the connection, e.g. `invalid_auth`.
    pub fn slack_code(&self) -> Option<&str> {
        match self {
            Error::Slack { code } | Error::SocketModeRefused { code } => Some(code),
            _ => None,
        }
    }

    /// Whether retrying can help. Auth and configuration errors are fatal: the client stops
    /// and never loops on them.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Slack { code } | Error::SocketModeRefused { code } => is_retryable_code(code),
            Error::LinkDisabled => false,
            Error::RateLimited { .. }
            | Error::Http { .. }
            | Error::WebSocket { .. }
            | Error::Protocol(_)
            | Error::Timeout(_) => true,
            Error::Config(_) => false,
        }
    }

    pub(crate) fn http(
        reason: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Http {
            reason: reason.into(),
            source: Some(Arc::new(source)),
        }
    }

    pub(crate) fn websocket(reason: impl Into<String>, source: Option<Source>) -> Self {
        Error::WebSocket {
            reason: reason.into(),
            source,
        }
    }
}

/// `rtm.connect` error codes after which a later attempt may succeed. Everything else
/// (`invalid_auth`, `token_revoked`, `missing_scope`, caller bugs, unknown codes) is fatal.
pub(crate) fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "ratelimited"
            | "migration_in_progress"
            | "fatal_error"
            | "internal_error"
            | "service_unavailable"
            | "request_timeout"
            | "team_added_to_org"
    )
}

/// Why a send did not get an `ok` reply.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Slack replied with `ok: false`. Seen codes: `-1` rate limited ("slow down"), `0` invalid
    /// channel, `2` message text missing.
    #[error("slack refused the frame: {msg} (code {code})")]
    Slack {
        /// Slack's numeric error code.
        code: i64,
        /// Slack's message.
        msg: String,
    },
    /// The frame was written but no reply arrived within the reply timeout. It may or may not
    /// have been posted: retrying can post twice.
    #[error("no reply from slack within {0:?}; the frame may or may not have been posted")]
    Timeout(Duration),
    /// The reply timeout passed before the frame could be written (the client was
    /// reconnecting, or the socket did not take it). It was never sent: retrying cannot
    /// post twice.
    #[error("not sent within {0:?} (no connection could take it); nothing was sent")]
    NotSent(Duration),
    /// The connection was lost after the frame was written and before its reply arrived. It is
    /// never re-sent (that could post twice); the frame may or may not have been posted.
    #[error("connection lost before slack replied; the frame may or may not have been posted")]
    ConnectionLost,
    /// The client is closed (by `disconnect()` or a fatal error); nothing was sent.
    #[error("the client is closed; nothing was sent")]
    Closed,
    /// The frame is larger than Slack accepts; nothing was sent.
    #[error("frame too large: {len} bytes, slack accepts at most {max}; nothing was sent")]
    TooLarge {
        /// Size of the frame or text, in the unit of `max`.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The frame could not be serialised into a JSON object; nothing was sent.
    #[error("invalid frame: {0}; nothing was sent")]
    InvalidFrame(String),
    /// Slack's reply could not be understood.
    #[error("malformed reply from slack: {0}")]
    MalformedReply(String),
    /// The message went through the Web API (`chat.postMessage`, as over Socket Mode) and
    /// that call failed; [`WebError::maybe_applied`](crate::WebError::maybe_applied) says
    /// whether it may have been posted anyway.
    #[error("{0}")]
    Web(crate::WebError),
}

impl SendError {
    /// Whether Slack refused the frame because of its rate limit (code `-1`, "slow down"):
    /// nothing was posted, and the same frame may be sent again after a pause.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, SendError::Slack { code: -1, .. })
    }

    /// Whether the frame certainly never reached Slack, so sending it again cannot post
    /// twice.
    pub fn was_not_sent(&self) -> bool {
        matches!(
            self,
            SendError::NotSent(_)
                | SendError::Closed
                | SendError::TooLarge { .. }
                | SendError::InvalidFrame(_)
        ) || self.is_rate_limited()
    }
}

/// Why [`Event::parse`](crate::Event::parse) failed: names the event type and, through
/// serde's message, the field.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot parse `{event_type}` event as {target}: {source}")]
#[non_exhaustive]
pub struct ParseError {
    /// The `type` of the event that failed to parse (empty when it had none).
    pub event_type: String,
    /// The Rust type it was parsed into.
    pub target: &'static str,
    /// serde's error, which names the field and position.
    #[source]
    pub source: Arc<serde_json::Error>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_remedy_then_the_variant() {
        let e = Error::Slack {
            code: "not_allowed_token_type".into(),
        };
        assert_eq!(
            format!("{e:?}"),
            "slack refused rtm.connect: not_allowed_token_type (RTM needs a user token or the bot token of a classic Slack app; modern apps must use Socket Mode) [Slack { code: \"not_allowed_token_type\" }]"
        );
        assert_eq!(
            format!("{:?}", Error::Timeout("hello")),
            "timed out waiting for hello [Timeout(\"hello\")]"
        );
        assert_eq!(
            format!("{:?}", Error::Config("no token".into())),
            "invalid configuration: no token [Config(\"no token\")]"
        );
        // What `fn main() -> Result<(), Error>` prints.
        let shown = format!("Error: {e:?}");
        assert!(shown.contains("modern apps must use Socket Mode"), "{shown}");
    }

    #[test]
    fn display_strings_are_pinned() {
        let e = Error::Slack {
            code: "invalid_auth".into(),
        };
        assert_eq!(
            e.to_string(),
            "slack refused rtm.connect: invalid_auth (check SLACK_TOKEN)"
        );
        assert!(!e.is_retryable());
        let e = Error::Slack {
            code: "ratelimited".into(),
        };
        assert_eq!(e.to_string(), "slack refused rtm.connect: ratelimited");
        assert!(e.is_retryable());
        assert_eq!(Error::Timeout("hello").to_string(), "timed out waiting for hello");
        assert_eq!(
            SendError::Slack {
                code: 2,
                msg: "message text is missing".into()
            }
            .to_string(),
            "slack refused the frame: message text is missing (code 2)"
        );
        assert_eq!(
            SendError::NotSent(Duration::from_secs(10)).to_string(),
            "not sent within 10s (no connection could take it); nothing was sent"
        );
        assert!(SendError::NotSent(Duration::from_secs(1)).was_not_sent());
        assert!(!SendError::Timeout(Duration::from_secs(1)).was_not_sent());
        assert!(!SendError::ConnectionLost.was_not_sent());
        let slow_down = SendError::Slack {
            code: -1,
            msg: "slow down".into(),
        };
        assert!(slow_down.is_rate_limited() && slow_down.was_not_sent());
        assert_eq!(
            SendError::TooLarge {
                len: 20_000,
                max: 16_384
            }
            .to_string(),
            "frame too large: 20000 bytes, slack accepts at most 16384; nothing was sent"
        );
    }

    #[test]
    fn errors_are_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Error>();
        check::<SendError>();
        check::<ParseError>();
    }
}
