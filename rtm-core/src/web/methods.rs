//! Typed helpers for the methods a bot uses most (§11.6). Each sends the encoding Slack
//! accepts for that method (JSON where documented, a form otherwise) and returns a typed
//! answer; [`WebClient::call`] reaches every other method.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::client::{WebClient, to_object};
use super::error::WebError;
use super::paginate::Paginated;
use super::types::{AuthTest, Changed, Conversation, Message, Posted, User};

/// The arguments of `chat.postMessage`: build with [`PostMessage::new`], add what you need.
///
/// ```
/// use rtm_core::web::PostMessage;
/// let reply = PostMessage::new("C123", "on it")
///     .thread_ts("1700000000.000100")
///     .reply_broadcast(true);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[must_use = "a message does nothing until posted"]
pub struct PostMessage {
    channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocks: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_broadcast: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unfurl_links: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mrkdwn: Option<bool>,
}

impl PostMessage {
    /// A text message to `channel` (a channel id, or a user id to post in that user's DM).
    /// With blocks, the text is the notification fallback.
    pub fn new(channel: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            text: Some(text.into()),
            blocks: None,
            thread_ts: None,
            reply_broadcast: None,
            metadata: None,
            unfurl_links: None,
            mrkdwn: None,
        }
    }

    /// Block Kit blocks, as JSON (an array of block objects).
    pub fn blocks(mut self, blocks: Value) -> Self {
        self.blocks = Some(blocks);
        self
    }

    /// Posts in the thread of the message with this `ts`.
    pub fn thread_ts(mut self, ts: impl Into<String>) -> Self {
        self.thread_ts = Some(ts.into());
        self
    }

    /// Also shows a thread reply in the channel.
    pub fn reply_broadcast(mut self, broadcast: bool) -> Self {
        self.reply_broadcast = Some(broadcast);
        self
    }

    /// Message metadata (`event_type` and `event_payload`), e.g. a marker to find a post
    /// again after an uncertain failure.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Whether links in the text are unfurled.
    pub fn unfurl_links(mut self, unfurl: bool) -> Self {
        self.unfurl_links = Some(unfurl);
        self
    }

    /// Whether the text is formatted as mrkdwn (Slack's default: yes).
    pub fn mrkdwn(mut self, mrkdwn: bool) -> Self {
        self.mrkdwn = Some(mrkdwn);
        self
    }
}

#[derive(Deserialize)]
struct UserAnswer {
    user: User,
}

#[derive(Deserialize)]
struct ChannelAnswer {
    channel: Conversation,
}

#[derive(Deserialize)]
struct ViewAnswer {
    view: Value,
}

#[derive(Deserialize)]
struct EphemeralAnswer {
    message_ts: String,
}

#[derive(Deserialize)]
struct Nothing {}

fn args(method: &str, value: Value) -> Result<Map<String, Value>, WebError> {
    to_object(method, &value)
}

impl WebClient {
    /// `chat.postMessage` (JSON): posts a message and returns its channel and `ts`.
    ///
    /// Paced per channel (see [`Pacing`](crate::web::Pacing)). Not resent after a failure
    /// that may have posted it (5xx, `internal_error`, timeout after sending): check
    /// [`WebError::maybe_applied`].
    ///
    /// # Errors
    /// [`WebError::Slack`] with `channel_not_found`, `not_in_channel`, `no_text`,
    /// `invalid_blocks`, …; see [`WebClient::call`] for the others.
    pub async fn post_message(&self, message: &PostMessage) -> Result<Posted, WebError> {
        self.call("chat.postMessage", message).await
    }

    /// Replies in the thread of `thread_ts` with `text`: one call for the most common bot
    /// answer.
    ///
    /// # Errors
    /// As [`post_message`](Self::post_message).
    pub async fn reply_in_thread(
        &self,
        channel: &str,
        thread_ts: &str,
        text: &str,
    ) -> Result<Posted, WebError> {
        self.post_message(&PostMessage::new(channel, text).thread_ts(thread_ts))
            .await
    }

    /// `chat.update` (JSON): replaces the text of a message the token posted.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `message_not_found`, `cant_update_message`,
    /// `edit_window_closed`, …
    pub async fn chat_update(&self, channel: &str, ts: &str, text: &str) -> Result<Changed, WebError> {
        let method = "chat.update";
        let args = args(method, json!({"channel": channel, "ts": ts, "text": text}))?;
        self.call_args(method, args).await
    }

    /// `chat.delete` (JSON): deletes a message the token posted.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `message_not_found`, `cant_delete_message`, …
    pub async fn chat_delete(&self, channel: &str, ts: &str) -> Result<Changed, WebError> {
        let method = "chat.delete";
        let args = args(method, json!({"channel": channel, "ts": ts}))?;
        self.call_args(method, args).await
    }

    /// `chat.postEphemeral` (JSON): shows `text` to `user` only; returns the message's `ts`.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `user_not_in_channel`, `channel_not_found`, …
    pub async fn post_ephemeral(&self, channel: &str, user: &str, text: &str) -> Result<String, WebError> {
        let method = "chat.postEphemeral";
        let args = args(method, json!({"channel": channel, "user": user, "text": text}))?;
        let answer: EphemeralAnswer = self.call_args(method, args).await?;
        Ok(answer.message_ts)
    }

    /// `reactions.add` (JSON): adds the emoji `name` (without colons) to a message.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `already_reacted`, `invalid_name`, `message_not_found`, …
    pub async fn reactions_add(&self, channel: &str, ts: &str, name: &str) -> Result<(), WebError> {
        self.reaction("reactions.add", channel, ts, name).await
    }

    /// `reactions.remove` (JSON): removes the token's emoji `name` from a message.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `no_reaction`, `message_not_found`, …
    pub async fn reactions_remove(&self, channel: &str, ts: &str, name: &str) -> Result<(), WebError> {
        self.reaction("reactions.remove", channel, ts, name).await
    }

    async fn reaction(&self, method: &str, channel: &str, ts: &str, name: &str) -> Result<(), WebError> {
        let name = name.trim_matches(':');
        let args = args(method, json!({"channel": channel, "timestamp": ts, "name": name}))?;
        let _: Nothing = self.call_args(method, args).await?;
        Ok(())
    }

    /// `users.info` (form): one user.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `user_not_found`, `user_not_visible`, …
    pub async fn users_info(&self, user: &str) -> Result<User, WebError> {
        let method = "users.info";
        let answer: UserAnswer = self
            .call_args(method, args(method, json!({"user": user}))?)
            .await?;
        Ok(answer.user)
    }

    /// `conversations.info` (form): one conversation.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `channel_not_found`, …
    pub async fn conversations_info(&self, channel: &str) -> Result<Conversation, WebError> {
        let method = "conversations.info";
        let args = args(method, json!({"channel": channel}))?;
        let answer: ChannelAnswer = self.call_args(method, args).await?;
        Ok(answer.channel)
    }

    /// `conversations.open` (JSON): opens (or finds) the DM with one user, or the group DM
    /// with several; returns the conversation, whose `id` is what to post to.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `user_not_found`, `too_many_users`, …
    pub async fn conversations_open(&self, users: &[&str]) -> Result<Conversation, WebError> {
        let method = "conversations.open";
        let args = args(method, json!({"users": users.join(",")}))?;
        let answer: ChannelAnswer = self.call_args(method, args).await?;
        Ok(answer.channel)
    }

    /// `conversations.history` (form): the channel's messages, newest first, as a lazy
    /// paginated stream.
    pub fn conversations_history(&self, channel: &str) -> Paginated<Message> {
        Paginated::new(
            self,
            "conversations.history",
            object(json!({"channel": channel})),
            "messages",
        )
    }

    /// `conversations.replies` (form): a thread, parent first, as a lazy paginated stream.
    pub fn conversations_replies(&self, channel: &str, thread_ts: &str) -> Paginated<Message> {
        Paginated::new(
            self,
            "conversations.replies",
            object(json!({"channel": channel, "ts": thread_ts})),
            "messages",
        )
    }

    /// `conversations.list` (form): the workspace's conversations (public channels unless
    /// `.arg("types", "public_channel,private_channel,im")`), as a lazy paginated stream.
    pub fn conversations_list(&self) -> Paginated<Conversation> {
        Paginated::new(self, "conversations.list", Map::new(), "channels")
    }

    /// `conversations.members` (form): member user ids, as a lazy paginated stream.
    pub fn conversations_members(&self, channel: &str) -> Paginated<String> {
        Paginated::new(
            self,
            "conversations.members",
            object(json!({"channel": channel})),
            "members",
        )
    }

    /// `users.list` (form): the workspace's users, as a lazy paginated stream.
    pub fn users_list(&self) -> Paginated<User> {
        Paginated::new(self, "users.list", Map::new(), "members")
    }

    /// `auth.test` (JSON): who the token belongs to; a cheap way to check a token.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `invalid_auth`, `token_revoked`, …
    pub async fn auth_test(&self) -> Result<AuthTest, WebError> {
        self.call_args("auth.test", Map::new()).await
    }

    /// `views.open` (JSON): opens a modal `view` for an interaction's `trigger_id` (valid
    /// 3 seconds, single use); returns the view Slack created.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `expired_trigger_id`/`trigger_expired`,
    /// `exchanged_trigger_id`/`trigger_exchanged`, `invalid_arguments`, …
    pub async fn views_open(&self, trigger_id: &str, view: &Value) -> Result<Value, WebError> {
        let method = "views.open";
        let args = args(method, json!({"trigger_id": trigger_id, "view": view}))?;
        let answer: ViewAnswer = self.call_args(method, args).await?;
        Ok(answer.view)
    }

    /// `views.publish` (JSON): publishes a Home tab `view` (`"type": "home"`) for `user_id`.
    ///
    /// # Errors
    /// [`WebError::Slack`] with `invalid_arguments`, `hash_conflict`, …
    pub async fn views_publish(&self, user_id: &str, view: &Value) -> Result<Value, WebError> {
        let method = "views.publish";
        let args = args(method, json!({"user_id": user_id, "view": view}))?;
        let answer: ViewAnswer = self.call_args(method, args).await?;
        Ok(answer.view)
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
