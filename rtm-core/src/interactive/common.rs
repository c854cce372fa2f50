//! Objects several payloads share: who, where, which message, and a select menu's option.

use serde::{Deserialize, Serialize};

/// The user who acted, as interaction payloads name them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct UserRef {
    /// The user id (`U…` or `W…`).
    pub id: String,
    /// The user's handle.
    #[serde(default)]
    pub username: Option<String>,
    /// The user's name (older payloads).
    #[serde(default)]
    pub name: Option<String>,
    /// The user's team.
    #[serde(default)]
    pub team_id: Option<String>,
}

/// The workspace an interaction happened in (`null` for some org-wide installs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TeamRef {
    /// The team id (`T…`).
    pub id: String,
    /// The workspace's subdomain.
    #[serde(default)]
    pub domain: Option<String>,
}

/// The channel an interaction happened in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ChannelRef {
    /// The channel id (`C…`, `G…`, `D…`).
    pub id: String,
    /// The channel's name (without `#`).
    #[serde(default)]
    pub name: Option<String>,
}

/// The message an interaction came from (a button's message, a message shortcut's target).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct MessageRef {
    /// Its timestamp, which identifies it in its channel.
    pub ts: String,
    /// Its text.
    #[serde(default)]
    pub text: Option<String>,
    /// Who posted it.
    #[serde(default)]
    pub user: Option<String>,
    /// The bot that posted it.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// The thread it is in.
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// Its Block Kit blocks, as sent.
    #[serde(default)]
    pub blocks: Vec<serde_json::Value>,
}

/// Where the interactive element sits: a message or a view.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Container {
    /// `message`, `view`, `message_attachment`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The message's `ts`, for a message.
    #[serde(default)]
    pub message_ts: Option<String>,
    /// The message's channel, for a message.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// Whether the message is ephemeral.
    #[serde(default)]
    pub is_ephemeral: Option<bool>,
    /// The view's id, for a view.
    #[serde(default)]
    pub view_id: Option<String>,
}

/// One option of a select menu, as chosen (`selected_option`) or offered
/// ([`OptionsResponse`](super::OptionsResponse)).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct SelectOption {
    /// What the user sees: a `plain_text` text object.
    pub text: serde_json::Value,
    /// What the app gets back when it is chosen.
    pub value: String,
}

impl SelectOption {
    /// An option labelled `label` (plain text) with `value`.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> SelectOption {
        SelectOption {
            text: serde_json::json!({"type": "plain_text", "text": label.into()}),
            value: value.into(),
        }
    }
}
