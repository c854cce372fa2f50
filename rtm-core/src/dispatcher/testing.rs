//! [`TestContext`]: a [`Context`] without a server, recording what the handler sent, for unit
//! tests of handlers.

use std::{
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use futures::future::{self, BoxFuture, FutureExt};
use serde_json::value::RawValue;

use crate::{Answered, ConnectionInfo, Event, Reply, ReplyFuture, RespondError, SelfUser, Team};

use super::{Context, transport::Transport};

/// The bot user a [`TestContext`] is connected as unless told otherwise.
const TEST_BOT_ID: &str = "U0TESTBOT";

/// One message a handler sent through a [`TestContext`]'s context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The channel it was sent to.
    pub channel: String,
    /// Its text.
    pub text: String,
    /// The thread it was sent in (`reply_in_thread`), if any.
    pub thread_ts: Option<String>,
    /// The `ts` the send's reply carried (`"1.000001"`, `"1.000002"`, … in send order).
    pub ts: String,
}

/// A [`Context`] for unit-testing a handler without a server: call the handler with
/// [`context`](Self::context), then look at what it [`sent`](Self::sent).
///
/// Every send succeeds at once, with a reply whose `ts` counts up from `"1.000001"`. The
/// context is connected as the bot user `U0TESTBOT` of team `T0TEST`, unless
/// [`bot_user`](Self::bot_user) says otherwise. [`Context::client`] panics on it (there is
/// no RTM client); the transport-neutral methods ([`Context::reply`],
/// [`Context::reply_in_thread`], [`Context::send_message`]) are recorded, and so is every
/// answer given with [`Context::respond`] ([`responses`](Self::responses)): the first is
/// reported as [`Answered::InAck`], later ones as [`Answered::ResponseUrl`], as for a slash
/// command answered in time.
///
/// ```
/// use rtm_core::{Context, Event, TestContext, events::Message};
///
/// async fn shout(ctx: Context, message: Message) -> Result<(), rtm_core::BoxError> {
///     ctx.reply_in_thread(&message.text.unwrap_or_default().to_uppercase()).await?;
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), rtm_core::BoxError> {
/// let event = Event::from_json(r#"{"type":"message","channel":"C1","user":"U1","text":"hi","ts":"5.0"}"#)?;
/// let test = TestContext::new(event.clone());
/// shout(test.context(), event.parse()?).await?;
///
/// let sent = test.sent();
/// assert_eq!(sent.len(), 1);
/// assert_eq!((sent[0].channel.as_str(), sent[0].text.as_str()), ("C1", "HI"));
/// assert_eq!(sent[0].thread_ts.as_deref(), Some("5.0"));
/// # Ok(()) }
/// ```
pub struct TestContext {
    context: Context,
    recorder: Arc<Recorder>,
}

impl TestContext {
    /// A context for `event`, connected as the bot user `U0TESTBOT`.
    pub fn new(event: Event) -> TestContext {
        TestContext::with_bot(event, TEST_BOT_ID)
    }

    /// The same context, connected as the bot user `id` (what [`Context::info`] reports as
    /// `self_user.id`). Messages sent before the call are forgotten.
    #[must_use]
    pub fn bot_user(self, id: &str) -> TestContext {
        TestContext::with_bot(self.context.event().clone(), id)
    }

    fn with_bot(event: Event, bot: &str) -> TestContext {
        let recorder = Arc::new(Recorder::new(
            Arc::new(ConnectionInfo {
                self_user: SelfUser {
                    id: bot.to_owned(),
                    name: "testbot".to_owned(),
                },
                team: Team {
                    id: "T0TEST".to_owned(),
                    name: "Test team".to_owned(),
                    domain: "test".to_owned(),
                    enterprise_id: None,
                },
            }),
            None,
        ));
        TestContext {
            context: Context::over(Arc::clone(&recorder) as Arc<dyn Transport>, event),
            recorder,
        }
    }

    /// The same context, with `web` as its [`Context::web`] client (for handlers that call the
    /// Web API; point it at the bundled emulator in tests). Messages sent before the call are
    /// forgotten.
    #[must_use]
    pub fn web_client(self, web: crate::WebClient) -> TestContext {
        let recorder = Arc::new(Recorder::new(Arc::clone(&self.recorder.info), Some(web)));
        TestContext {
            context: Context::over(
                Arc::clone(&recorder) as Arc<dyn Transport>,
                self.context.event().clone(),
            ),
            recorder,
        }
    }

    /// The context to pass to the handler (clone it as often as needed).
    pub fn context(&self) -> Context {
        self.context.clone()
    }

    /// Every message sent through the context so far, in send order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.recorder.sent().clone()
    }

    /// Every answer given with [`Context::respond`] so far, as the JSON it serialised to, in
    /// order.
    ///
    /// ```
    /// use rtm_core::{Context, Event, TestContext, interactive::{MessageResponse, SlashCommand}};
    ///
    /// async fn echo(ctx: Context, command: SlashCommand) {
    ///     let _ = ctx.respond(&MessageResponse::in_channel(command.text)).await;
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), rtm_core::BoxError> {
    /// let event = Event::from_json(r#"{"envelope_id":"e1","type":"slash_commands","accepts_response_payload":true,
    ///     "payload":{"command":"/echo","text":"hi","user_id":"U1","channel_id":"C1","team_id":"T1",
    ///                "response_url":"https://hooks.slack.com/commands/1","trigger_id":"1.2"}}"#)?;
    /// let test = TestContext::new(event.clone());
    /// echo(test.context(), rtm_core::FromEvent::from_event(&event)?).await;
    /// assert_eq!(test.responses()[0]["text"], "hi");
    /// assert_eq!(test.responses()[0]["response_type"], "in_channel");
    /// # Ok(()) }
    /// ```
    pub fn responses(&self) -> Vec<serde_json::Value> {
        self.recorder.responses().clone()
    }

    /// The texts of [`sent`](Self::sent), for short assertions.
    pub fn sent_texts(&self) -> Vec<String> {
        self.recorder.sent().iter().map(|m| m.text.clone()).collect()
    }
}

impl fmt::Debug for TestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestContext")
            .field("context", &self.context)
            .field("sent", &*self.recorder.sent())
            .field("responses", &*self.recorder.responses())
            .finish()
    }
}

/// The transport of a [`TestContext`]: records every post and answers it at once.
struct Recorder {
    info: Arc<ConnectionInfo>,
    sent: Mutex<Vec<SentMessage>>,
    next_ts: AtomicU64,
    web: Option<crate::WebClient>,
    responses: Mutex<Vec<serde_json::Value>>,
}

impl Recorder {
    fn new(info: Arc<ConnectionInfo>, web: Option<crate::WebClient>) -> Recorder {
        Recorder {
            info,
            sent: Mutex::new(Vec::new()),
            next_ts: AtomicU64::new(1),
            web,
            responses: Mutex::new(Vec::new()),
        }
    }

    fn responses(&self) -> std::sync::MutexGuard<'_, Vec<serde_json::Value>> {
        self.responses.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sent(&self) -> std::sync::MutexGuard<'_, Vec<SentMessage>> {
        // A handler that panicked while sending leaves a usable record.
        self.sent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Transport for Recorder {
    fn info(&self) -> Arc<ConnectionInfo> {
        Arc::clone(&self.info)
    }

    fn respond(
        &self,
        _event: &Event,
        payload: Box<RawValue>,
    ) -> BoxFuture<'static, Result<Answered, RespondError>> {
        let value = serde_json::from_str(payload.get()).unwrap_or(serde_json::Value::Null);
        let mut responses = self.responses();
        responses.push(value);
        let answered = if responses.len() == 1 {
            Answered::InAck
        } else {
            Answered::ResponseUrl
        };
        future::ready(Ok(answered)).boxed()
    }

    fn web(&self) -> Option<crate::WebClient> {
        self.web.clone()
    }

    fn post(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> ReplyFuture {
        let n = self.next_ts.fetch_add(1, Ordering::Relaxed);
        let ts = format!("1.{n:06}");
        self.sent().push(SentMessage {
            channel: channel.to_owned(),
            text: text.to_owned(),
            thread_ts: thread_ts.map(str::to_owned),
            ts: ts.clone(),
        });
        ReplyFuture::ready(Ok(Reply {
            reply_to: n,
            ts: Some(ts),
            text: Some(text.to_owned()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_replies_threads_and_direct_sends() {
        let event =
            Event::from_json(r#"{"type":"message","channel":"C1","user":"U1","text":"hi","ts":"7.0"}"#)
                .unwrap();
        let test = TestContext::new(event).bot_user("U0ME");
        let ctx = test.context();
        assert_eq!(ctx.info().self_user.id, "U0ME");
        assert!(ctx.try_client().is_none());
        let first = ctx.reply("one").await.unwrap();
        ctx.reply_in_thread("two").await.unwrap();
        ctx.send_message("C2", "three").await.unwrap();
        assert_eq!(first.ts.as_deref(), Some("1.000001"));
        assert_eq!(first.text.as_deref(), Some("one"));
        let sent = test.sent();
        assert_eq!(test.sent_texts(), ["one", "two", "three"]);
        assert_eq!(
            sent.iter()
                .map(|m| (m.channel.as_str(), m.thread_ts.as_deref()))
                .collect::<Vec<_>>(),
            [("C1", None), ("C1", Some("7.0")), ("C2", None)]
        );
    }

    #[tokio::test]
    async fn records_answers_in_order() {
        let test = TestContext::new(
            Event::from_json(
                r#"{"envelope_id":"1","type":"slash_commands","payload":{"command":"/x","channel_id":"C5"}}"#,
            )
            .unwrap(),
        );
        let ctx = test.context();
        let first = ctx
            .respond(&crate::interactive::MessageResponse::ephemeral("one"))
            .await
            .unwrap();
        let second = ctx.respond(&serde_json::json!({"text": "two"})).await.unwrap();
        assert_eq!((first, second), (Answered::InAck, Answered::ResponseUrl));
        assert_eq!(
            test.responses(),
            [
                serde_json::json!({"text": "one", "response_type": "ephemeral"}),
                serde_json::json!({"text": "two"})
            ]
        );
        // A slash command's replies go to the channel it was typed in.
        ctx.reply("three").await.unwrap();
        assert_eq!(test.sent()[0].channel, "C5");
    }

    #[tokio::test]
    async fn a_reply_without_a_channel_fails_and_records_nothing() {
        let test = TestContext::new(Event::from_json(r#"{"type":"team_join"}"#).unwrap());
        assert!(test.context().reply("x").await.is_err());
        assert!(test.sent().is_empty());
    }
}
