//! Channel events: `channel_created`, `channel_deleted`, `channel_rename`, `channel_archive`,
//! `member_joined_channel` and `member_left_channel` (§5.2).

use serde::{Deserialize, Serialize};

/// `channel_created`: a public channel was created.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ChannelCreated {
    /// The new channel.
    pub channel: Channel,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// The channel object of [`ChannelCreated`]: four fields always, many `is_*` flags sometimes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Channel {
    /// The channel id, e.g. `C024BE91L`.
    pub id: String,
    /// The name, without `#`.
    pub name: String,
    /// When it was created (Unix seconds).
    pub created: i64,
    /// Who created it.
    pub creator: String,
    /// The name, normalised.
    pub name_normalized: Option<String>,
    /// Whether it is a channel (as opposed to a group or DM).
    pub is_channel: Option<bool>,
    /// Whether it is private.
    pub is_private: Option<bool>,
    /// Whether it is archived.
    pub is_archived: Option<bool>,
    /// Whether it is the workspace's `#general`.
    pub is_general: Option<bool>,
    /// Whether it is shared with other workspaces.
    pub is_shared: Option<bool>,
    /// Whether it is shared across an Enterprise Grid organisation.
    pub is_org_shared: Option<bool>,
    /// The workspace the channel belongs to.
    pub context_team_id: Option<String>,
}

/// `channel_deleted`: a channel was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ChannelDeleted {
    /// The deleted channel's id.
    pub channel: String,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// `channel_rename`: a channel got a new name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ChannelRename {
    /// The channel, with its new name.
    pub channel: RenamedChannel,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// The channel object of [`ChannelRename`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct RenamedChannel {
    /// The channel id.
    pub id: String,
    /// The new name.
    pub name: String,
    /// When the channel was created (Unix seconds).
    pub created: Option<i64>,
}

/// `channel_archive`: a channel was archived.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ChannelArchive {
    /// The archived channel's id.
    pub channel: String,
    /// Who archived it.
    pub user: Option<String>,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// `member_joined_channel`: a user joined a channel (or was added to it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct MemberJoinedChannel {
    /// Who joined.
    pub user: String,
    /// The channel joined.
    pub channel: String,
    /// The kind of channel as one letter: `C` public, `G` private.
    pub channel_type: String,
    /// The workspace of the user.
    pub team: String,
    /// Who invited the user; absent when they joined by themselves (or after a conversion to
    /// private).
    pub inviter: Option<String>,
    /// The Enterprise Grid organisation, if any.
    pub enterprise: Option<String>,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// `member_left_channel`: a user left a channel (or was removed from it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct MemberLeftChannel {
    /// Who left.
    pub user: String,
    /// The channel left.
    pub channel: String,
    /// The kind of channel as one letter: `C` public, `G` private.
    pub channel_type: String,
    /// The workspace of the user.
    pub team: String,
    /// When the event happened.
    pub event_ts: Option<String>,
}
