//! Session control events: `hello`, `goodbye`, `error` and `reconnect_url` (§4.2, §4.9).

use std::fmt;

use serde::{Deserialize, Serialize};

/// `hello`: the first frame of every good session (`{"type":"hello"}`).
///
/// The client handles it itself; it is still delivered so that bots can log (re)connects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Hello {}

/// `goodbye`: the server will close the connection soon (8-hour limit or an idle workspace).
///
/// The client reconnects by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Goodbye {}

/// `error`: a session-level error, e.g.
/// `{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ErrorEvent {
    /// Slack's code and message.
    pub error: ErrorDetail,
}

impl ErrorEvent {
    /// Slack's numeric code (`1` = the socket URL expired).
    pub fn code(&self) -> i64 {
        self.error.code
    }

    /// Slack's message, e.g. `"Socket URL has expired"`.
    pub fn msg(&self) -> &str {
        &self.error.msg
    }
}

/// The `error` object of an [`ErrorEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// Slack's numeric code; there is no official table (`1` = expired socket URL).
    pub code: i64,
    /// Slack's human-readable message.
    pub msg: String,
}

/// `reconnect_url`: an experimental hint with a URL to reconnect to. Documented with only
/// `type`; the official clients ignore it, and so does this one.
///
/// Its `Debug` output redacts the URL, which carries a secret ticket.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ReconnectUrl {
    /// The websocket URL, when present. It carries a ticket: treat it as a secret.
    pub url: Option<String>,
}

impl fmt::Debug for ReconnectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectUrl")
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}
