//! The seam between the dispatcher and a transport: where events come from
//! ([`EventSource`]) and how a handler's messages go out ([`Transport`]).
//!
//! RTM implements both with [`RtmClient`] (replies are `message` frames on the socket); the
//! test context implements [`Transport`] by recording; Socket Mode implements both with
//! [`SocketModeClient`] (replies through the Web API's `chat.postMessage`). The dispatcher and [`Context`](super::Context)
//! know nothing else about the transport.

use std::{future::Future, sync::Arc};

use futures::future::{self, BoxFuture, FutureExt};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::{
    Answered, Batch, ConnectionInfo, Error, Event, ReplyFuture, RespondError, RtmClient, SocketModeClient,
    WebClient,
};

/// How a handler's messages leave: shared by every [`Context`](super::Context) of a dispatcher
/// as one `Arc<dyn Transport>`, so building a context costs a reference count.
pub(crate) trait Transport: Send + Sync + 'static {
    /// Who the bot is and which team it is connected to.
    fn info(&self) -> Arc<ConnectionInfo>;

    /// Posts `text` to `channel`, in the thread `thread_ts` when given.
    fn post(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> ReplyFuture;

    /// The RTM client behind this transport, if it is one (for `Context::client`).
    fn rtm_client(&self) -> Option<&RtmClient> {
        None
    }

    /// The Web API client for the bot's token, if the transport has one (for `Context::web`).
    fn web(&self) -> Option<WebClient>;

    /// Answers `event` (a slash command, an interaction) with `payload`, already serialised:
    /// in its acknowledgement when it is still pending, else through its `response_url`.
    /// RTM events cannot be answered.
    fn respond(
        &self,
        event: &Event,
        payload: Box<RawValue>,
    ) -> BoxFuture<'static, Result<Answered, RespondError>> {
        let _ = (event, payload);
        future::ready(Err(RespondError::NotAnswerable)).boxed()
    }

    /// Releases `event`'s pending acknowledgement now, empty (a no-op when it has none or was
    /// answered). The dispatcher calls it once every handler of the event has finished.
    fn ack(&self, event: &Event) {
        let _ = event;
    }
}

/// Where the dispatcher's events come from. Only the dispatcher's read loop uses it; it is
/// generic over it, so the calls are static.
pub(crate) trait EventSource: Transport + Clone {
    /// The next batch of buffered events (waiting for one); `Ok(None)` once closed.
    fn next_batch(&self) -> impl Future<Output = Result<Option<Batch>, Error>> + Send;

    /// Marks the reader as unable to read on until a reply arrives (every handler permit is
    /// held by a call that may be awaiting one), until the guard drops.
    fn reader_blocked(&self) -> impl Drop + '_;

    /// Closes the source (after a graceful shutdown).
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// An RTM `message` frame, optionally in a thread.
#[derive(Serialize)]
struct ThreadedMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    channel: &'a str,
    text: &'a str,
    thread_ts: &'a str,
}

impl Transport for RtmClient {
    fn info(&self) -> Arc<ConnectionInfo> {
        RtmClient::info(self)
    }

    fn post(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> ReplyFuture {
        match thread_ts {
            None => self.send_message(channel, text),
            Some(thread_ts) => self.send(&ThreadedMessage {
                kind: "message",
                channel,
                text,
                thread_ts,
            }),
        }
    }

    fn rtm_client(&self) -> Option<&RtmClient> {
        Some(self)
    }

    fn web(&self) -> Option<WebClient> {
        Some(RtmClient::web(self))
    }
}

impl EventSource for RtmClient {
    fn next_batch(&self) -> impl Future<Output = Result<Option<Batch>, Error>> + Send {
        self.read()
    }

    fn reader_blocked(&self) -> impl Drop + '_ {
        RtmClient::reader_blocked(self)
    }

    fn close(&self) -> impl Future<Output = ()> + Send {
        self.disconnect()
    }
}

impl Transport for SocketModeClient {
    fn info(&self) -> Arc<ConnectionInfo> {
        SocketModeClient::info(self)
    }

    fn post(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> ReplyFuture {
        self.post_message(channel, text, thread_ts)
    }

    fn web(&self) -> Option<WebClient> {
        Some(SocketModeClient::web(self))
    }

    fn respond(
        &self,
        event: &Event,
        payload: Box<RawValue>,
    ) -> BoxFuture<'static, Result<Answered, RespondError>> {
        let (client, event) = (self.clone(), event.clone());
        async move { SocketModeClient::respond(&client, &event, &*payload).await }.boxed()
    }

    fn ack(&self, event: &Event) {
        SocketModeClient::ack(self, event);
    }
}

impl EventSource for SocketModeClient {
    fn next_batch(&self) -> impl Future<Output = Result<Option<Batch>, Error>> + Send {
        self.read()
    }

    fn reader_blocked(&self) -> impl Drop + '_ {
        SocketModeClient::reader_blocked(self)
    }

    fn close(&self) -> impl Future<Output = ()> + Send {
        self.disconnect()
    }
}
