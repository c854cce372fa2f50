//! `reaction_added` and `reaction_removed` (§5.2), and the item a reaction is on.

use serde::{Deserialize, Serialize};

/// `reaction_added`: a user added a reaction to a message, file or file comment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ReactionAdded {
    /// Who reacted.
    pub user: String,
    /// The emoji name, without colons (e.g. `thumbsup`, `+1::skin-tone-2`).
    pub reaction: String,
    /// What was reacted to.
    pub item: ReactionItem,
    /// The author of the item; absent when it has no user author (e.g. a webhook post).
    pub item_user: Option<String>,
    /// When the reaction happened.
    pub event_ts: String,
}

/// `reaction_removed`: a user removed a reaction. Same shape as [`ReactionAdded`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ReactionRemoved {
    /// Who removed the reaction.
    pub user: String,
    /// The emoji name, without colons.
    pub reaction: String,
    /// What the reaction was on.
    pub item: ReactionItem,
    /// The author of the item; absent when it has no user author.
    pub item_user: Option<String>,
    /// When the removal happened.
    pub event_ts: String,
}

/// The `item` of a reaction event, tagged by its `type`.
///
/// An item `type` this version does not know becomes [`ReactionItem::Other`] instead of
/// failing the whole event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReactionItem {
    /// `{"type":"message","channel":…,"ts":…}`.
    Message(MessageItem),
    /// `{"type":"file","file":…}`.
    File(FileItem),
    /// `{"type":"file_comment","file_comment":…,"file":…}`.
    FileComment(FileCommentItem),
    /// An item type this version does not know; read [`crate::Event::json`] for its fields.
    #[serde(other)]
    Other,
}

/// A message that was reacted to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct MessageItem {
    /// The message's channel.
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
}

/// A file that was reacted to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct FileItem {
    /// The file id.
    pub file: String,
}

/// A file comment that was reacted to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct FileCommentItem {
    /// The comment id.
    pub file_comment: String,
    /// The file the comment is on.
    pub file: String,
}
