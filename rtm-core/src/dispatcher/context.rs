//! [`Context`]: what a handler gets besides its event.

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{ConnectionInfo, Event, ReplyFuture, RtmClient, SendError};

/// What a handler gets besides its event: the client, the connection's info, and the event's
/// channel so that [`reply`](Self::reply) answers where the event happened.
///
/// Cloning costs a reference count; every handler of one event shares the same context.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    client: RtmClient,
    event: Event,
    /// Read from the event's JSON on first use.
    channel: OnceLock<Option<Box<str>>>,
}

impl Context {
    /// The context the dispatcher builds for `event`; public so handlers can be unit-tested
    /// by calling them directly.
    pub fn new(client: RtmClient, event: Event) -> Context {
        Context {
            inner: Arc::new(Inner {
                client,
                event,
                channel: OnceLock::new(),
            }),
        }
    }

    /// The client, to send anything (messages to other channels, `typing`, …).
    pub fn client(&self) -> &RtmClient {
        &self.inner.client
    }

    /// Who the bot is connected as and to which team (e.g. `ctx.info().self_user.id`, to
    /// ignore the bot's own messages).
    pub fn info(&self) -> Arc<ConnectionInfo> {
        self.inner.client.info()
    }

    /// The event being handled, raw (also available when the handler took a typed struct).
    pub fn event(&self) -> &Event {
        &self.inner.event
    }

    /// The channel the event happened in, when it has one: its `channel` field (a channel id,
    /// or the `id` of a channel object as in `channel_created`), or else `item.channel` (as in
    /// `reaction_added`). `None` for events such as `team_join`.
    pub fn channel(&self) -> Option<&str> {
        self.inner
            .channel
            .get_or_init(|| channel_of(&self.inner.event))
            .as_deref()
    }

    /// Sends `text` to the event's [`channel`](Self::channel).
    ///
    /// # Errors
    /// As for [`RtmClient::send_message`]; and [`SendError::InvalidFrame`] (nothing sent)
    /// when the event has no channel.
    pub fn reply(&self, text: &str) -> ReplyFuture {
        match self.channel() {
            Some(channel) => self.inner.client.send_message(channel, text),
            None => ReplyFuture::failed(SendError::InvalidFrame(format!(
                "a `{}` event has no channel to reply in",
                self.inner.event.kind()
            ))),
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("event.type", &self.inner.event.kind())
            .field("channel", &self.channel())
            .finish_non_exhaustive()
    }
}

/// The fields that may name an event's channel, borrowed and left unparsed.
#[derive(Deserialize)]
struct ChannelPeek<'a> {
    #[serde(borrow, default)]
    channel: Option<&'a RawValue>,
    #[serde(borrow, default)]
    item: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WithId {
    id: String,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    channel: Option<String>,
}

/// Finds the event's channel without building a JSON tree.
pub(crate) fn channel_of(event: &Event) -> Option<Box<str>> {
    let peek: ChannelPeek<'_> = serde_json::from_str(event.json()).ok()?;
    if let Some(raw) = peek.channel {
        if let Ok(id) = serde_json::from_str::<String>(raw.get()) {
            return Some(id.into());
        }
        if let Ok(object) = serde_json::from_str::<WithId>(raw.get()) {
            return Some(object.id.into());
        }
    }
    let item: Item = serde_json::from_str(peek.item?.get()).ok()?;
    item.channel.map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(json: &str) -> Option<String> {
        channel_of(&Event::from_json(json).unwrap()).map(String::from)
    }

    #[test]
    fn finds_the_channel_where_slack_puts_it() {
        assert_eq!(
            channel(r#"{"type":"message","channel":"C1","text":"hi"}"#).as_deref(),
            Some("C1")
        );
        assert_eq!(
            channel(r#"{"type":"channel_created","channel":{"id":"C2","name":"x"}}"#).as_deref(),
            Some("C2")
        );
        assert_eq!(
            channel(r#"{"type":"reaction_added","item":{"type":"message","channel":"C3","ts":"1.2"}}"#)
                .as_deref(),
            Some("C3")
        );
        assert_eq!(channel(r#"{"type":"team_join","user":{"id":"U1"}}"#), None);
        assert_eq!(channel(r#"{"type":"x","channel":7,"item":{"file":"F1"}}"#), None);
    }
}
