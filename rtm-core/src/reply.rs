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

use crate::{SendError, event::Loc};

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
    tx: oneshot::Sender<SlotResult>,
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
    pub(crate) fn send(self, result: Result<RawReply, SendError>) -> bool {
        self.tx.send(result.map_err(Box::new)).is_ok()
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
        rx: oneshot::Receiver<SlotResult>,
    },
    /// Resolved by a task running a transport's own future ([`ReplyFuture::spawn`]).
    Spawned(oneshot::Receiver<Result<Reply, SendError>>),
    /// Known before it was returned (an error, or a test double's reply); `None` once
    /// taken. Boxed so that the common, waiting future stays two words.
    Ready(Option<Box<Result<Reply, SendError>>>),
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
        ReplyFuture::ready(Err(error))
    }

    /// A future that resolves at once with `result`.
    pub(crate) fn ready(result: Result<Reply, SendError>) -> Self {
        ReplyFuture {
            inner: Inner::Ready(Some(Box::new(result))),
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
            Inner::Ready(result) => Poll::Ready(result.take().map_or(Err(SendError::Closed), |r| *r)),
            Inner::Waiting { rx } => Pin::new(rx).poll(cx).map(|result| match result {
                Ok(Ok(raw)) => raw.into_reply(),
                Ok(Err(e)) => Err(*e),
                Err(_) => Err(SendError::Closed),
            }),
            Inner::Spawned(rx) => Pin::new(rx)
                .poll(cx)
                .map(|result| result.unwrap_or(Err(SendError::Closed))),
        }
    }
}

/// What the connection hands a waiting [`ReplyFuture`]. A send in flight holds one in its
/// channel, so the rare error is boxed: [`SendError`] is several times the size of a reply.
type SlotResult = Result<RawReply, Box<SendError>>;

/// Where a reply's fields are in its frame, as the classifier found them while it looked
/// for `reply_to`: each location is the raw JSON value (`null` counts as absent).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplyFields {
    pub(crate) reply_to: u64,
    /// Absent in a `pong` answering an application's own `ping`: that is a success.
    pub(crate) ok: Option<bool>,
    pub(crate) ts: Option<Loc>,
    pub(crate) text: Option<Loc>,
    pub(crate) error: Option<Loc>,
}

/// A reply frame on its way to the send that waits for it. The frame was scanned once, by
/// the classifier; the [`Reply`] is built from the few values located in it, by the future
/// that receives it (and only if one still waits).
#[derive(Debug)]
pub(crate) struct RawReply {
    frame: Utf8Bytes,
    fields: ReplyFields,
}

#[derive(Deserialize)]
struct ReplyError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    msg: String,
}

impl RawReply {
    pub(crate) fn new(frame: Utf8Bytes, fields: ReplyFields) -> RawReply {
        RawReply { frame, fields }
    }

    /// The id of the frame this answers.
    pub(crate) fn reply_to(&self) -> u64 {
        self.fields.reply_to
    }

    /// Slack's verdict: the reply, or the error it carries.
    fn into_reply(self) -> Result<Reply, SendError> {
        let ReplyFields {
            reply_to,
            ok,
            ts,
            text,
            error,
        } = self.fields;
        if ok.unwrap_or(error.is_none()) {
            Ok(Reply {
                reply_to,
                ts: self.field("ts", ts)?,
                text: self.field("text", text)?,
            })
        } else {
            let error = self.field::<ReplyError>("error", error)?.unwrap_or(ReplyError {
                code: 0,
                msg: "no error given".into(),
            });
            Err(SendError::Slack {
                code: error.code,
                msg: error.msg,
            })
        }
    }

    fn field<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        at: Option<Loc>,
    ) -> Result<Option<T>, SendError> {
        at.map(|at| {
            serde_json::from_str(at.slice(&self.frame))
                .map_err(|e| SendError::MalformedReply(format!("`{name}`: {e}")))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::event::{Frame, classify};

    /// What a send waiting for `frame` resolves with.
    fn reply(frame: &'static str) -> Result<Reply, SendError> {
        match classify(Utf8Bytes::from_static(frame)) {
            Frame::Reply(raw) | Frame::Pong(Some(raw)) => raw.into_reply(),
            other => panic!("not a reply: {other:?}"),
        }
    }

    #[test]
    fn parses_ok_and_error_replies() {
        let r = reply(r#"{"ok":true,"reply_to":1,"ts":"1355517523.000005","text":"Hello world"}"#).unwrap();
        assert_eq!(r.reply_to, 1);
        assert_eq!(r.ts.as_deref(), Some("1355517523.000005"));
        assert_eq!(r.text.as_deref(), Some("Hello world"));
        let e = reply(r#"{"ok":false,"reply_to":1,"error":{"code":2,"msg":"message text is missing"}}"#)
            .unwrap_err();
        assert!(
            matches!(&e, SendError::Slack { code: 2, msg } if msg == "message text is missing"),
            "{e}"
        );
        let e = reply(r#"{"ok":false,"reply_to":1}"#).unwrap_err();
        assert!(
            matches!(&e, SendError::Slack { code: 0, msg } if msg == "no error given"),
            "{e}"
        );
        let pong = reply(r#"{"type":"pong","reply_to":4,"time":1}"#).unwrap();
        assert_eq!((pong.reply_to, pong.ts, pong.text), (4, None, None));
        // No `ok` but an `error`: a failure.
        assert!(matches!(
            reply(r#"{"reply_to":5,"error":{"code":1,"msg":"x"}}"#),
            Err(SendError::Slack { code: 1, .. })
        ));
    }

    #[test]
    fn values_are_unescaped_and_null_is_absent() {
        let r =
            reply(r#"{"ok":true,"reply_to":1,"ts":null,"text":"a \"quote\"\n\u00e9","extra":{"ts":"no"}}"#)
                .unwrap();
        assert_eq!(r.ts, None);
        assert_eq!(r.text.as_deref(), Some("a \"quote\"\n\u{e9}"));
    }

    /// Events skip `ts` and `text` once their `type` is read; a reply written in that order
    /// (by a server that types its replies) still gets them.
    #[test]
    fn a_typed_reply_with_its_fields_before_ok_keeps_them() {
        let r = reply(r#"{"type":"message","text":"hi","ts":"1.2","ok":true,"reply_to":9}"#).unwrap();
        assert_eq!(
            (r.reply_to, r.ts.as_deref(), r.text.as_deref()),
            (9, Some("1.2"), Some("hi"))
        );
        let e = reply(r#"{"type":"message","error":{"code":3,"msg":"late"},"ok":false,"reply_to":9}"#)
            .unwrap_err();
        assert!(
            matches!(&e, SendError::Slack { code: 3, msg } if msg == "late"),
            "{e}"
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_a_malformed_reply_naming_it() {
        let e = reply(r#"{"ok":true,"reply_to":1,"ts":5}"#).unwrap_err();
        assert!(
            matches!(&e, SendError::MalformedReply(m) if m.starts_with("`ts`")),
            "{e}"
        );
        let e = reply(r#"{"ok":false,"reply_to":1,"error":"boom"}"#).unwrap_err();
        assert!(
            matches!(&e, SendError::MalformedReply(m) if m.starts_with("`error`")),
            "{e}"
        );
    }

    /// Every send in flight holds a future and a slot's channel; a burst holds thousands.
    #[test]
    fn a_send_in_flight_stays_small() {
        assert!(size_of::<ReplyFuture>() <= 16, "{}", size_of::<ReplyFuture>());
        assert!(
            size_of::<SlotResult>() <= size_of::<RawReply>() + 8,
            "{}",
            size_of::<SlotResult>()
        );
    }
}
