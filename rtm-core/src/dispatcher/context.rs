//! [`Context`]: what a handler gets besides its event.

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{Answered, ConnectionInfo, Event, ReplyFuture, RespondError, RtmClient, SendError};

use super::transport::Transport;

/// What a handler gets besides its event: a way to reply, the connection's info, and the
/// event's channel so that [`reply`](Self::reply) answers where the event happened.
///
/// A context does not depend on the transport: the same handler runs on an RTM client, in a
/// unit test with a [`TestContext`](crate::TestContext), and on other transports later. Only
/// [`client`](Self::client) is RTM-specific.
///
/// Cloning costs two reference counts (the transport's and the event text's), no allocation:
/// a context is made per event, so it is not itself behind a shared pointer.
#[derive(Clone)]
pub struct Context {
    inner: Inner,
}

#[derive(Clone)]
struct Inner {
    transport: Arc<dyn Transport>,
    event: Event,
    /// Read from the event's JSON on first use.
    channel: OnceLock<Option<Box<str>>>,
}

impl Context {
    /// A context for `event` over an RTM client; public so handlers can be called directly.
    /// To test a handler without a server, use a [`TestContext`](crate::TestContext).
    pub fn new(client: RtmClient, event: Event) -> Context {
        Context::over(Arc::new(client), event)
    }

    /// The context the dispatcher builds: one reference count on the shared transport.
    pub(crate) fn over(transport: Arc<dyn Transport>, event: Event) -> Context {
        Context {
            inner: Inner {
                transport,
                event,
                channel: OnceLock::new(),
            },
        }
    }

    /// The RTM client, to send any frame (`typing`, …).
    ///
    /// # Panics
    /// When the context is not over an RTM client (a [`TestContext`](crate::TestContext));
    /// use [`try_client`](Self::try_client), or the transport-neutral
    /// [`send_message`](Self::send_message), [`reply`](Self::reply) and
    /// [`reply_in_thread`](Self::reply_in_thread), which work everywhere.
    #[track_caller]
    pub fn client(&self) -> &RtmClient {
        match self.try_client() {
            Some(client) => client,
            None => panic!(
                "Context::client: this context is not over an RTM client; use ctx.send_message / ctx.reply, or ctx.try_client()"
            ),
        }
    }

    /// The RTM client, when the context is over one.
    pub fn try_client(&self) -> Option<&RtmClient> {
        self.inner.transport.rtm_client()
    }

    /// The Web API client for the bot's token (`chat.postMessage` with blocks, reactions,
    /// `users.info`, paginated history, …): the same client as
    /// [`RtmClient::web`](crate::RtmClient::web).
    ///
    /// # Examples
    /// ```no_run
    /// use rtm_core::{BoxError, Context, events::ReactionAdded, rtm_event};
    ///
    /// #[rtm_event(type = "reaction_added")]
    /// async fn thank(ctx: Context, reaction: ReactionAdded) -> Result<(), BoxError> {
    ///     let who = ctx.web().users_info(&reaction.user).await?;
    ///     ctx.reply_in_thread(&format!("thanks, {}!", who.name)).await?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Panics
    /// When the context has no Web API client: a [`TestContext`](crate::TestContext) built
    /// without [`TestContext::web_client`](crate::TestContext::web_client). Use
    /// [`try_web`](Self::try_web) to check.
    #[track_caller]
    pub fn web(&self) -> crate::WebClient {
        match self.try_web() {
            Some(web) => web,
            None => panic!(
                "Context::web: this context has no Web API client (a TestContext needs .web_client(..))"
            ),
        }
    }

    /// The Web API client, when the context has one.
    pub fn try_web(&self) -> Option<crate::WebClient> {
        self.inner.transport.web()
    }

    /// Who the bot is connected as and to which team (e.g. `ctx.info().self_user.id`).
    pub fn info(&self) -> Arc<ConnectionInfo> {
        self.inner.transport.info()
    }

    /// The event being handled, raw (also available when the handler took a typed struct).
    pub fn event(&self) -> &Event {
        &self.inner.event
    }

    /// The channel the event happened in, when it has one: its `channel` field (a channel id,
    /// or the `id` of a channel object as in `channel_created`), or else `item.channel` (as in
    /// `reaction_added`). `None` for events such as `team_join`.
    pub fn channel(&self) -> Option<&str> {
        let event = &self.inner.event;
        // The usual case, a plain `channel` string the classifier already located: no parse.
        if let Some(id) = event.channel_id()
            && !crate::interactive::is_envelope(event)
        {
            return Some(id);
        }
        self.inner.channel.get_or_init(|| channel_of(event)).as_deref()
    }

    /// The thread a reply in thread goes to: the event's `thread_ts` when it is already in a
    /// thread, else its own `ts` (which starts a thread under it), else its item's `ts` (the
    /// reacted message of a `reaction_added`). `None` when the event has none of them.
    pub fn thread_ts(&self) -> Option<String> {
        thread_of(&self.inner.event)
    }

    /// Sends `text` to `channel` (`C…`, `G…` or `D…`) on the context's transport.
    ///
    /// # Errors
    /// As for [`RtmClient::send_message`].
    pub fn send_message(&self, channel: &str, text: &str) -> ReplyFuture {
        self.inner.transport.post(channel, text, None)
    }

    /// Sends `text` to the event's [`channel`](Self::channel).
    ///
    /// # Errors
    /// As for [`RtmClient::send_message`]; and [`SendError::InvalidFrame`] (nothing sent)
    /// when the event has no channel.
    pub fn reply(&self, text: &str) -> ReplyFuture {
        match self.channel() {
            Some(channel) => self.inner.transport.post(channel, text, None),
            None => self.no_channel(),
        }
    }

    /// Sends `text` to the event's [`channel`](Self::channel), in the event's thread (see
    /// [`thread_ts`](Self::thread_ts)): the thread the event is in, or a new thread under the
    /// event. Over RTM it is a `message` frame with `thread_ts`.
    ///
    /// ```no_run
    /// use rtm_core::{Context, events::Message, rtm_event};
    ///
    /// #[rtm_event(type = "message")]
    /// async fn ack(ctx: Context, _message: Message) -> Result<(), rtm_core::BoxError> {
    ///     ctx.reply_in_thread("on it").await?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    /// As for [`reply`](Self::reply); and [`SendError::InvalidFrame`] (nothing sent) when
    /// the event has neither `thread_ts` nor `ts`.
    pub fn reply_in_thread(&self, text: &str) -> ReplyFuture {
        let Some(channel) = self.channel() else {
            return self.no_channel();
        };
        match thread_of(&self.inner.event) {
            Some(thread_ts) => self.inner.transport.post(channel, text, Some(&thread_ts)),
            None => ReplyFuture::failed(SendError::InvalidFrame(format!(
                "a `{}` event has no `ts` or `thread_ts` to reply in thread to",
                self.inner.event.kind()
            ))),
        }
    }

    /// Answers the slash command or interaction being handled with `payload`: in the
    /// envelope's acknowledgement while it is still pending (Slack's 3-second window, and
    /// only for envelopes that take an answer: slash commands, `view_submission`,
    /// `block_suggestion`), else by posting to the payload's `response_url`.
    ///
    /// The payload is one of the answers in [`crate::interactive`]
    /// ([`MessageResponse`](crate::interactive::MessageResponse) for a slash command or a
    /// button, [`ViewResponse`](crate::interactive::ViewResponse) for a modal submission,
    /// [`OptionsResponse`](crate::interactive::OptionsResponse) for a `block_suggestion`), or
    /// any JSON you serialise yourself.
    ///
    /// The dispatcher sends an empty acknowledgement once every handler of the envelope has
    /// finished, so a handler that does not answer never makes Slack wait for the whole budget.
    /// Answer before slow work: after the acknowledgement only `response_url` is left.
    ///
    /// ```no_run
    /// use rtm_core::{BoxError, Context, interactive::{MessageResponse, SlashCommand}, slash_command};
    ///
    /// #[slash_command("/echo")]
    /// async fn echo(ctx: Context, command: SlashCommand) -> Result<(), BoxError> {
    ///     ctx.respond(&MessageResponse::in_channel(command.text)).await?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    /// [`RespondError::NotAnswerable`] over RTM and for events that take no answer (for
    /// events run by [`Handlers::handle`](crate::Handlers::handle), a queue worker's, the ack
    /// went where the event was received: the answer goes to the `response_url`, posted with
    /// [`Outbound::web`](crate::Outbound::web)'s client, and without one it is not answerable);
    /// [`RespondError::InvalidPayload`] for a payload that cannot be serialised to JSON (a map
    /// with non-string keys); the other
    /// [`RespondError`] variants as [`SocketModeClient::respond`](crate::SocketModeClient::respond)
    /// reports them.
    pub async fn respond<T: Serialize + ?Sized>(&self, payload: &T) -> Result<Answered, RespondError> {
        let payload = match serde_json::value::to_raw_value(payload) {
            Ok(payload) => payload,
            Err(error) => return Err(RespondError::InvalidPayload(error.to_string())),
        };
        self.inner.transport.respond(&self.inner.event, payload).await
    }

    fn no_channel(&self) -> ReplyFuture {
        ReplyFuture::failed(SendError::InvalidFrame(format!(
            "a `{}` event has no channel to reply in",
            self.inner.event.kind()
        )))
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

/// The fields that place an event in a thread.
#[derive(Deserialize)]
struct ThreadPeek {
    #[serde(default)]
    thread_ts: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    item: Option<ItemTs>,
}

#[derive(Deserialize)]
struct ItemTs {
    #[serde(default)]
    ts: Option<String>,
}

/// The event's `thread_ts`, else its `ts`, else its item's `ts` (a reaction's message). For
/// an interaction, the thread of the message it came from.
fn thread_of(event: &Event) -> Option<String> {
    if crate::interactive::is_envelope(event) {
        return crate::interactive::thread_of_payload(event);
    }
    let peek: ThreadPeek = serde_json::from_str(event.json()).ok()?;
    peek.thread_ts
        .or(peek.ts)
        .or_else(|| peek.item.and_then(|item| item.ts))
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
    if crate::interactive::is_envelope(event) {
        return crate::interactive::channel_of_payload(event);
    }
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

    #[test]
    fn envelopes_name_the_channel_and_thread_of_their_payload() {
        let slash = r#"{"envelope_id":"1","type":"slash_commands","payload":{"command":"/x","channel_id":"C9","user_id":"U1"}}"#;
        assert_eq!(channel(slash).as_deref(), Some("C9"));
        let button = r#"{"envelope_id":"2","type":"interactive","payload":{"type":"block_actions","channel":{"id":"C8","name":"x"},"container":{"type":"message","message_ts":"5.0","channel_id":"C8"},"message":{"ts":"5.0","thread_ts":"4.0"}}}"#;
        assert_eq!(channel(button).as_deref(), Some("C8"));
        assert_eq!(
            thread_of(&Event::from_json(button).unwrap()).as_deref(),
            Some("4.0")
        );
        let shortcut =
            r#"{"envelope_id":"3","type":"interactive","payload":{"type":"shortcut","callback_id":"x"}}"#;
        assert_eq!(channel(shortcut), None);
    }

    #[test]
    fn thread_is_the_events_thread_or_the_event_itself() {
        let thread = |json: &str| thread_of(&Event::from_json(json).unwrap());
        assert_eq!(
            thread(r#"{"type":"message","ts":"2.0","thread_ts":"1.0"}"#).as_deref(),
            Some("1.0")
        );
        assert_eq!(thread(r#"{"type":"message","ts":"2.0"}"#).as_deref(), Some("2.0"));
        assert_eq!(
            thread(r#"{"type":"reaction_added","item":{"channel":"C1","ts":"3.0"},"event_ts":"4.0"}"#)
                .as_deref(),
            Some("3.0")
        );
        assert_eq!(thread(r#"{"type":"team_join"}"#), None);
    }
}
