//! Smaller events: `user_typing`, `pin_added`, `emoji_changed` and `dnd_updated_user`.

use serde::{Deserialize, Serialize};

use super::{File, NestedMessage};

/// `user_typing`: someone is typing in a channel (RTM only; sent at most every few seconds).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct UserTyping {
    /// The channel typed in.
    pub channel: String,
    /// Who is typing.
    pub user: String,
}

/// `pin_added`: an item was pinned in a channel.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PinAdded {
    /// Who pinned it.
    pub user: String,
    /// The channel it was pinned in.
    pub channel_id: String,
    /// What was pinned.
    pub item: PinnedItem,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// The `item` of [`PinAdded`]: a message or a file, with who pinned it and when.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct PinnedItem {
    /// What kind of item: `message` or `file`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The channel of the pinned item.
    pub channel: Option<String>,
    /// When it was pinned (Unix seconds).
    pub created: Option<i64>,
    /// Who pinned it.
    pub created_by: Option<String>,
    /// The pinned message, for a message.
    pub message: Option<Box<NestedMessage>>,
    /// The pinned file, for a file.
    pub file: Option<File>,
}

string_enum! {
    /// What happened to custom emoji in [`EmojiChanged`].
    pub enum EmojiChangeKind {
        /// `add`: `name` was added with image `value`.
        Add = "add",
        /// `remove`: the emoji in `names` were removed.
        Remove = "remove",
        /// `rename`: `old_name` became `new_name`.
        Rename = "rename",
    }
}

/// `emoji_changed`: custom emoji were added, removed or renamed. Which fields are present
/// depends on `subtype`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct EmojiChanged {
    /// What happened.
    pub subtype: Option<EmojiChangeKind>,
    /// The added emoji, on `add`.
    pub name: Option<String>,
    /// The removed emoji, on `remove`.
    pub names: Option<Vec<String>>,
    /// The image URL (or `alias:other`), on `add` and `rename`.
    pub value: Option<String>,
    /// The previous name, on `rename`.
    pub old_name: Option<String>,
    /// The new name, on `rename`.
    pub new_name: Option<String>,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// `dnd_updated_user`: a user's Do Not Disturb settings changed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct DndUpdatedUser {
    /// Whose settings changed.
    pub user: String,
    /// The new settings.
    pub dnd_status: DndStatus,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// Do Not Disturb settings. The times are Unix seconds sent as JSON numbers (unlike message
/// `ts` values, which are strings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct DndStatus {
    /// Whether a DND schedule is on.
    pub dnd_enabled: Option<bool>,
    /// When the next scheduled DND period starts.
    pub next_dnd_start_ts: Option<i64>,
    /// When the next scheduled DND period ends.
    pub next_dnd_end_ts: Option<i64>,
    /// Whether the user snoozed notifications by hand.
    pub snooze_enabled: Option<bool>,
    /// When the snooze ends.
    pub snooze_endtime: Option<i64>,
}
