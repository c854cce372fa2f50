//! The future a send returns: resolves with Slack's reply, an error reply, a timeout, or a
//! lost connection.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use serde::Deserialize;
use tokio::{sync::oneshot, time::Sleep};
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

/// What the connection task hands back for one send.
pub(crate) type ReplySlot = oneshot::Sender<Result<Utf8Bytes, SendError>>;

/// Resolves with Slack's reply to one send. Returned at once by
/// [`RtmClient::send_message`](crate::RtmClient::send_message) and
/// [`RtmClient::send`](crate::RtmClient::send): the frame is already queued, in call order,
/// so several sends can be in flight (pipelined) before any reply is awaited.
///
/// Dropping it does not cancel the send if it was already written; a frame not yet written
/// when its future is dropped or times out is never written.
#[must_use = "the send is queued either way; await this to learn whether Slack accepted it"]
pub struct ReplyFuture {
    inner: Inner,
}

enum Inner {
    Waiting {
        rx: oneshot::Receiver<Result<Utf8Bytes, SendError>>,
        deadline: Pin<Box<Sleep>>,
        timeout: Duration,
    },
    Failed(Option<SendError>),
}

impl ReplyFuture {
    pub(crate) fn waiting(rx: oneshot::Receiver<Result<Utf8Bytes, SendError>>, timeout: Duration) -> Self {
        ReplyFuture {
            inner: Inner::Waiting {
                rx,
                deadline: Box::pin(tokio::time::sleep(timeout)),
                timeout,
            },
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
            Inner::Waiting {
                rx,
                deadline,
                timeout,
            } => {
                if let Poll::Ready(result) = Pin::new(rx).poll(cx) {
                    return Poll::Ready(match result {
                        Ok(Ok(text)) => parse_reply(&text),
                        Ok(Err(e)) => Err(e),
                        Err(_) => Err(SendError::Closed),
                    });
                }
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(SendError::Timeout(*timeout))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct ReplyBody {
    ok: bool,
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
    if body.ok {
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
    }
}
