//! [`Shortcut`] (global shortcuts) and [`MessageShortcut`] (`message_action`).

use serde::{Deserialize, Serialize};

use super::{ChannelRef, MessageRef, TeamRef, UserRef};

/// A global shortcut was chosen (from the shortcuts menu or the search bar).
///
/// It carries no `response_url` and no channel: open a modal with its
/// [`trigger_id`](Self::trigger_id) within 3 seconds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Shortcut {
    /// The shortcut's `callback_id`, which routes match.
    pub callback_id: String,
    /// Opens a modal with `views.open`; single-use, valid for 3 seconds.
    pub trigger_id: String,
    /// Who chose it.
    pub user: UserRef,
    /// The workspace.
    #[serde(default)]
    pub team: Option<TeamRef>,
    /// When it happened.
    #[serde(default)]
    pub action_ts: Option<String>,
}

/// A message shortcut (payload type `message_action`) was chosen on a message.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct MessageShortcut {
    /// The shortcut's `callback_id`, which routes match.
    pub callback_id: String,
    /// Opens a modal with `views.open`; single-use, valid for 3 seconds.
    pub trigger_id: String,
    /// Who chose it.
    pub user: UserRef,
    /// The workspace.
    #[serde(default)]
    pub team: Option<TeamRef>,
    /// The message's channel.
    #[serde(default)]
    pub channel: Option<ChannelRef>,
    /// The message it was chosen on.
    #[serde(default)]
    pub message: Option<MessageRef>,
    /// Where answers go.
    #[serde(default)]
    pub response_url: Option<String>,
    /// The message's `ts`.
    #[serde(default)]
    pub message_ts: Option<String>,
    /// When it happened.
    #[serde(default)]
    pub action_ts: Option<String>,
}
