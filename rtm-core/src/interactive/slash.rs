//! [`SlashCommand`]: the payload of a `slash_commands` envelope.

use serde::{Deserialize, Serialize};

/// A slash command someone typed (`/deploy staging`): the form fields Slack sends, as JSON.
///
/// Answer it within 3 seconds with [`Context::respond`](crate::Context::respond) and a
/// [`MessageResponse`](super::MessageResponse): the answer then travels in the envelope's
/// acknowledgement. Later answers go to [`response_url`](Self::response_url).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct SlashCommand {
    /// The command, with its slash: `/deploy`.
    pub command: String,
    /// Everything typed after the command (empty when nothing was).
    #[serde(default)]
    pub text: String,
    /// Who typed it.
    pub user_id: String,
    /// Their handle.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Where it was typed.
    pub channel_id: String,
    /// The channel's name (`directmessage` in a DM).
    #[serde(default)]
    pub channel_name: Option<String>,
    /// The workspace.
    pub team_id: String,
    /// The workspace's subdomain.
    #[serde(default)]
    pub team_domain: Option<String>,
    /// The Enterprise Grid organisation, if any.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// The app the command belongs to.
    #[serde(default)]
    pub api_app_id: Option<String>,
    /// Where later answers go: up to 5 times within 30 minutes (§11.8).
    pub response_url: String,
    /// Opens a modal with `views.open`; single-use, valid for 3 seconds.
    pub trigger_id: String,
}
