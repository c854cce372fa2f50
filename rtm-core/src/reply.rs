//! The future a send returns: resolves with Slack's reply, an error reply, a timeout, or a
//! lost connection.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use serde::Deserialize;
use tokio::{sync::oneshot, time::Instant};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::SendError;

/// Slack's `ok: true` reply to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// The id our frame was sent with.
    pub reply_to: u64,
    /// The message's timestamp: its unique id within the channel (keep it as a string).
    pub ts: Option<String>,
    /// The text as Slack stored it (may differ from what was sent, e.g. after link detection).
    pub text: Option<String>,
}

/// Where the connection task hands back the answer to one send, and until when it may wait.
///
/// The deadline lives here, with the task, rather than as a timer in every [`ReplyFuture`]:
/// one timer per connection instead of one allocation and two timer-wheel operations per
/// send.
pub(crate) struct ReplySlot {
    tx: oneshot::Sender<Result<Utf8Bytes, SendError>>,
    pub(crate) deadline: Instant,
}

impl ReplySlot {
    /// A slot and the future that resolves from it.
    pub(crate) fn new(deadline: Instant) -> (ReplySlot, ReplyFuture) {
        let (tx, rx) = oneshot::channel();
        (
            ReplySlot { tx, deadline },
            ReplyFuture {
                inner: Inner::Waiting { rx },
            },
        )
    }

    /// Whether the caller dropped its future.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves the caller's future; `false` when it was dropped.
    pub(crate) fn send(self, result: Result<Utf8Bytes, SendError>) -> bool {
        self.tx.send(result).is_ok()
    }
}

/// Resolves with Slack's reply to one send. Returned at once by
/// [`RtmClient::send_message`](crate::RtmClient::send_message) and
/// [`RtmClient::send`](crate::RtmClient::send): the frame is already queued, in call order,
/// so several sends can be in flight (pipelined) before any reply is awaited.
///
/// Dropping it never cancels the send: the frame is written either way (fire and forget),
/// only its outcome goes unobserved. A frame whose reply timeout passes before it could be
/// written (the client was reconnecting) is never written and fails with
/// [`SendError::NotSent`].
#[must_use = "the send is queued either way; await this to learn whether Slack accepted it"]
pub struct ReplyFuture {
    inner: Inner,
}

enum Inner {
    Waiting {
        rx: oneshot::Receiver<Result<Utf8Bytes, SendError>>,
    },
    /// Resolved by a task running a transport's own future ([`ReplyFuture::spawn`]).
    Spawned(oneshot::Receiver<Result<Reply, SendError>>),
    Failed(Option<SendError>),
}

impl Reply {
    /// A successful reply: the message's `ts` and stored `text` when known. For transports
    /// that are not an RTM socket (`reply_to` is 0).
    pub fn new(ts: Option<String>, text: Option<String>) -> Reply {
        Reply {
            reply_to: 0,
            ts,
            text,
        }
    }
}

impl ReplyFuture {
    /// A reply future resolved by `send`, which runs on a task of its own at once, so the
    /// message goes out whether or not the future is awaited (as with every send). For a
    /// custom [`Outbound`](crate::Outbound).
    pub fn spawn(send: impl Future<Output = Result<Reply, SendError>> + Send + 'static) -> ReplyFuture {
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let _ = tx.send(send.await);
        });
        ReplyFuture {
            inner: Inner::Spawned(rx),
        }
    }

    pub(crate) fn failed(error: SendError) -> Self {
        ReplyFuture {
            inner: Inner::Failed(Some(error)),
        }
    }
}

impl fmt::Debug for ReplyFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyFuture").finish_non_exhaustive()
    }
}

impl Future for ReplyFuture {
    type Output = Result<Reply, SendError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.inner {
            Inner::Failed(error) => Poll::Ready(Err(error.take().unwrap_or(SendError::Closed))),
            Inner::Waiting { rx } => Pin::new(rx).poll(cx).map(|result| match result {
                Ok(Ok(text)) => parse_reply(&text),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(SendError::Closed),
            }),
            Inner::Spawned(rx) => Pin::new(rx)
                .poll(cx)
                .map(|result| result.unwrap_or(Err(SendError::Closed))),
        }
    }
}

#[derive(Deserialize)]
struct ReplyBody {
    /// Absent in a `pong` answering an application's own `ping`: that is a success.
    #[serde(default)]
    ok: Option<bool>,
    reply_to: u64,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    error: Option<ReplyError>,
}

#[derive(Deserialize)]
struct ReplyError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    msg: String,
}

fn parse_reply(text: &str) -> Result<Reply, SendError> {
    let body: ReplyBody = serde_json::from_str(text).map_err(|e| SendError::MalformedReply(e.to_string()))?;
    if body.ok.unwrap_or(body.error.is_none()) {
        Ok(Reply {
            reply_to: body.reply_to,
            ts: body.ts,
            text: body.text,
        })
    } else {
        let error = body.error.unwrap_or(ReplyError {
            code: 0,
            msg: "no error given".into(),
        });
        Err(SendError::Slack {
            code: error.code,
            msg: error.msg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ok_and_error_replies() {
        let r =
            parse_reply(r#"{"ok":true,"reply_to":1,"ts":"1355517523.000005","text":"Hello world"}"#).unwrap();
        assert_eq!(r.ts.as_deref(), Some("1355517523.000005"));
        let e =
            parse_reply(r#"{"ok":false,"reply_to":1,"error":{"code":2,"msg":"message text is missing"}}"#)
                .unwrap_err();
        assert!(matches!(e, SendError::Slack { code: 2, .. }), "{e}");
        let pong = parse_reply(r#"{"type":"pong","reply_to":4,"time":1}"#).unwrap();
        assert_eq!(pong.reply_to, 4);
    }
}
