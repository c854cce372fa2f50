//! The typed answers of the common methods. Each keeps the fields a bot uses most; the rest
//! of Slack's object is kept in `extra`, so nothing is lost when Slack adds fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A message, as `conversations.history`/`replies` and `chat.postMessage` return it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Message {
    /// The message timestamp, its id within the channel.
    pub ts: String,
    /// The author, when a user (or a bot user) posted it.
    #[serde(default)]
    pub user: Option<String>,
    /// The bot that posted it, for bot messages.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// The text (may be empty for block-only messages).
    #[serde(default)]
    pub text: String,
    /// The thread parent's `ts`, for messages in a thread (and the parent itself).
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// The subtype (`bot_message`, `channel_join`, …), if any.
    #[serde(default)]
    pub subtype: Option<String>,
    /// Every other field, as Slack sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What `chat.postMessage` answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Posted {
    /// The channel id the message went to (a DM's `D…` id when posted to a user id).
    pub channel: String,
    /// The new message's `ts`: reply in its thread, react to it, update or delete it.
    pub ts: String,
    /// The message as posted.
    #[serde(default)]
    pub message: Option<Message>,
}

/// What `chat.update` and `chat.delete` answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Changed {
    /// The channel id.
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
}

/// A user, as `users.info` and `users.list` return it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The user id, e.g. `U123`.
    pub id: String,
    /// The user name (handle).
    #[serde(default)]
    pub name: String,
    /// The full name, when set.
    #[serde(default)]
    pub real_name: Option<String>,
    /// Whether the user is a bot.
    #[serde(default)]
    pub is_bot: bool,
    /// Whether the user was deactivated.
    #[serde(default)]
    pub deleted: bool,
    /// The workspace id.
    #[serde(default)]
    pub team_id: Option<String>,
    /// Every other field (`profile`, `tz`, …), as Slack sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A conversation (channel, private channel, DM or group DM).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Conversation {
    /// The conversation id (`C…`, `G…`, `D…`).
    pub id: String,
    /// The name, for channels.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether it is a public or private channel.
    #[serde(default)]
    pub is_channel: bool,
    /// Whether it is private.
    #[serde(default)]
    pub is_private: bool,
    /// Whether it is a direct message.
    #[serde(default)]
    pub is_im: bool,
    /// Whether the token's user or bot is a member.
    #[serde(default)]
    pub is_member: bool,
    /// For a DM: the other user.
    #[serde(default)]
    pub user: Option<String>,
    /// Every other field, as Slack sent it.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What `auth.test` answers: who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AuthTest {
    /// The workspace URL.
    #[serde(default)]
    pub url: String,
    /// The workspace name.
    #[serde(default)]
    pub team: String,
    /// The user name.
    #[serde(default)]
    pub user: String,
    /// The workspace id.
    pub team_id: String,
    /// The user id (the bot user's, for bot tokens).
    pub user_id: String,
    /// The bot id, for bot tokens.
    #[serde(default)]
    pub bot_id: Option<String>,
}
