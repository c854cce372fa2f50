//! `message` events and their subtypes (§5.1).

use serde::{Deserialize, Serialize};

string_enum! {
    /// A message's `subtype`. Subtypes this version does not know become
    /// [`MessageSubtype::Other`] instead of failing.
    pub enum MessageSubtype {
        /// `bot_message`: posted by an integration; `bot_id` names it, `user` may be absent.
        BotMessage = "bot_message",
        /// `me_message`: a `/me` message.
        MeMessage = "me_message",
        /// `message_changed`: a message was edited; see `message` and `previous_message`.
        MessageChanged = "message_changed",
        /// `message_deleted`: the message whose `ts` is `deleted_ts` was deleted.
        MessageDeleted = "message_deleted",
        /// `message_replied`: a thread parent got a reply; `message` is the updated parent.
        MessageReplied = "message_replied",
        /// `thread_broadcast`: a thread reply also posted to the channel; see `root`.
        ThreadBroadcast = "thread_broadcast",
        /// `file_share`: a message sharing files; see `files`.
        FileShare = "file_share",
        /// `channel_join`: a member joined the channel (`inviter` when invited).
        ChannelJoin = "channel_join",
        /// `channel_leave`: a member left the channel.
        ChannelLeave = "channel_leave",
        /// `channel_topic`: the channel topic was set.
        ChannelTopic = "channel_topic",
        /// `channel_purpose`: the channel purpose was set.
        ChannelPurpose = "channel_purpose",
        /// `channel_name`: the channel was renamed.
        ChannelName = "channel_name",
        /// `channel_archive`: the channel was archived.
        ChannelArchive = "channel_archive",
        /// `channel_unarchive`: the channel was unarchived.
        ChannelUnarchive = "channel_unarchive",
        /// `pinned_item`: an item was pinned.
        PinnedItem = "pinned_item",
        /// `unpinned_item`: an item was unpinned.
        UnpinnedItem = "unpinned_item",
    }
}

checked_struct! {
    /// A `message` event, with or without a `subtype`.
    ///
    /// One struct serves every subtype: `channel` and `ts` are always present; `user` and `text`
    /// are required on a plain message (no `subtype`) and optional otherwise, so they are `Option`
    /// here but a plain message without them fails to parse. Likewise `message_changed` and
    /// `message_replied` require `message`, and `message_deleted` requires `deleted_ts`.
    ///
    /// A thread reply is a plain message whose `thread_ts` differs from its `ts`
    /// ([`Message::is_thread_reply`]).
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Message via WireMessage = "WireMessage" {
        /// The channel, DM or group id, e.g. `C2147483705`.
        pub channel: String,
        /// The message timestamp: unique per channel, the message's id.
        pub ts: String,
        /// The subtype; `None` for a plain message.
        pub subtype: Option<MessageSubtype>,
        /// The author's user id. Always present on plain messages; may be absent on subtypes
        /// (e.g. `bot_message`, `message_changed`).
        pub user: Option<String>,
        /// The text. Always present on plain messages (possibly empty).
        pub text: Option<String>,
        /// `true` on history records that are not meant to be shown (e.g. `message_changed`).
        pub hidden: Option<bool>,
        /// The parent's `ts` on thread messages (equal to `ts` on the parent itself).
        pub thread_ts: Option<String>,
        /// The author of the thread's parent, on thread replies.
        pub parent_user_id: Option<String>,
        /// Who last edited the message, and when.
        pub edited: Option<Edited>,
        /// The integration that posted a `bot_message`.
        pub bot_id: Option<String>,
        /// A display name overriding the bot's default.
        pub username: Option<String>,
        /// Icons overriding the bot's default (`image_*` or `emoji`).
        pub icons: Option<serde_json::Value>,
        /// The files shared by a `file_share` message.
        pub files: Option<Vec<File>>,
        /// Legacy attachments, as sent.
        pub attachments: Option<Vec<serde_json::Value>>,
        /// Block Kit blocks, as sent.
        pub blocks: Option<Vec<serde_json::Value>>,
        /// Reactions on the message.
        pub reactions: Option<Vec<MessageReaction>>,
        /// The id the sending client chose for the message.
        pub client_msg_id: Option<String>,
        /// The workspace of the message.
        pub team: Option<String>,
        /// The author's workspace.
        pub user_team: Option<String>,
        /// The workspace the message was posted from.
        pub source_team: Option<String>,
        /// The inviter on a `channel_join` message.
        pub inviter: Option<String>,
        /// The new message on `message_changed`, the updated parent on `message_replied`.
        pub message: Option<Box<NestedMessage>>,
        /// The message before the edit, on `message_changed`.
        pub previous_message: Option<Box<NestedMessage>>,
        /// The `ts` of the deleted message, on `message_deleted`.
        pub deleted_ts: Option<String>,
        /// The thread's parent message, on `thread_broadcast`.
        pub root: Option<Box<NestedMessage>>,
        /// When the event happened.
        pub event_ts: Option<String>,
    }
}

impl Message {
    /// Whether this is a reply inside a thread: `thread_ts` is set and differs from `ts`.
    pub fn is_thread_reply(&self) -> bool {
        self.thread_ts
            .as_deref()
            .is_some_and(|thread_ts| thread_ts != self.ts)
    }

    /// Whether Slack marked the message `hidden` (a history record, not for display).
    pub fn is_hidden(&self) -> bool {
        self.hidden == Some(true)
    }

    /// The fields required by the subtype (§5.3): `user` and `text` on a plain message,
    /// `message` on `message_changed`/`message_replied`, `deleted_ts` on `message_deleted`.
    fn check(&self) -> Result<(), &'static str> {
        match &self.subtype {
            None if self.user.is_none() => {
                Err("missing field `user` (required on a message without subtype)")
            }
            None if self.text.is_none() => {
                Err("missing field `text` (required on a message without subtype)")
            }
            Some(MessageSubtype::MessageChanged | MessageSubtype::MessageReplied)
                if self.message.is_none() =>
            {
                Err("missing field `message` (required by this subtype)")
            }
            Some(MessageSubtype::MessageDeleted) if self.deleted_ts.is_none() => {
                Err("missing field `deleted_ts` (required on message_deleted)")
            }
            _ => Ok(()),
        }
    }
}

/// A message inside another event: `message` and `previous_message` of `message_changed`,
/// the parent in `message_replied`, `root` of `thread_broadcast`, a pinned message.
///
/// It carries no `channel` (the outer event has it); only `ts` is always present.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct NestedMessage {
    /// The message timestamp (its id in the channel).
    pub ts: String,
    /// The subtype of the inner message, if any.
    pub subtype: Option<MessageSubtype>,
    /// The author's user id.
    pub user: Option<String>,
    /// The text.
    pub text: Option<String>,
    /// The thread's parent `ts`.
    pub thread_ts: Option<String>,
    /// The author of the thread's parent.
    pub parent_user_id: Option<String>,
    /// Who last edited the message, and when.
    pub edited: Option<Edited>,
    /// The integration that posted it.
    pub bot_id: Option<String>,
    /// A display name overriding the bot's default.
    pub username: Option<String>,
    /// The number of replies, on a thread parent.
    pub reply_count: Option<u64>,
    /// The `ts` of the latest reply, on a thread parent.
    pub latest_reply: Option<String>,
    /// The replies (author and `ts`), on a thread parent.
    pub replies: Option<Vec<ThreadReply>>,
    /// Shared files.
    pub files: Option<Vec<File>>,
    /// Legacy attachments, as sent.
    pub attachments: Option<Vec<serde_json::Value>>,
    /// Block Kit blocks, as sent.
    pub blocks: Option<Vec<serde_json::Value>>,
    /// Reactions on the message.
    pub reactions: Option<Vec<MessageReaction>>,
    /// The id the sending client chose for the message.
    pub client_msg_id: Option<String>,
    /// The workspace of the message.
    pub team: Option<String>,
}

/// The `edited` marker of a message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Edited {
    /// Who edited the message.
    pub user: String,
    /// When (a Slack timestamp).
    pub ts: String,
}

/// One reply listed on a thread parent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ThreadReply {
    /// The reply's author.
    pub user: String,
    /// The reply's `ts`.
    pub ts: String,
}

/// One reaction on a message: `{name, count, users}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct MessageReaction {
    /// The emoji name, without colons (e.g. `thumbsup`).
    pub name: String,
    /// How many users reacted.
    pub count: u64,
    /// Who reacted (Slack may truncate the list).
    pub users: Option<Vec<String>>,
}

/// A file shared in a message (`files` of a `file_share` message).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct File {
    /// The file id, e.g. `F0HS27V1Z`.
    pub id: String,
    /// When the file was created (Unix seconds).
    pub created: Option<i64>,
    /// The file name.
    pub name: Option<String>,
    /// The title shown in Slack.
    pub title: Option<String>,
    /// The MIME type.
    pub mimetype: Option<String>,
    /// Slack's file type, e.g. `png`.
    pub filetype: Option<String>,
    /// The uploader's user id.
    pub user: Option<String>,
    /// The size in bytes.
    pub size: Option<u64>,
    /// The private download URL (needs the token).
    pub url_private: Option<String>,
    /// The permanent link to the file page.
    pub permalink: Option<String>,
    /// The file mode, e.g. `hosted` or `hidden_by_limit`.
    pub mode: Option<String>,
}
