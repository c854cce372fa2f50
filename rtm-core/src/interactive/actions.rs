//! [`BlockActions`] (buttons, menus, inputs) and [`BlockSuggestion`] (options for an external
//! select menu).

use serde::{Deserialize, Serialize};

use super::{ChannelRef, Container, MessageRef, SelectOption, TeamRef, UserRef, View};

/// Someone used an interactive element: clicked a button, chose in a menu, picked a date.
///
/// Routes narrow on an action's `action_id`; [`actions`](Self::actions) usually holds one.
/// It takes no answer in the acknowledgement: answer through
/// [`response_url`](Self::response_url) (what [`Context::respond`](crate::Context::respond)
/// does for it), or with the Web API.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct BlockActions {
    /// Who acted.
    pub user: UserRef,
    /// The workspace.
    #[serde(default)]
    pub team: Option<TeamRef>,
    /// The channel of the message, when the element is in a message.
    #[serde(default)]
    pub channel: Option<ChannelRef>,
    /// The message the element is in, when it is in one.
    #[serde(default)]
    pub message: Option<MessageRef>,
    /// The view the element is in (a modal, the App Home), when it is in one.
    #[serde(default)]
    pub view: Option<View>,
    /// Where the element sits.
    #[serde(default)]
    pub container: Option<Container>,
    /// What was done.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// Where answers go (absent for elements in views).
    #[serde(default)]
    pub response_url: Option<String>,
    /// Opens a modal with `views.open`; single-use, valid for 3 seconds.
    #[serde(default)]
    pub trigger_id: Option<String>,
    /// The app.
    #[serde(default)]
    pub api_app_id: Option<String>,
}

impl BlockActions {
    /// The action with `action_id`, if this payload has it.
    pub fn action(&self, action_id: &str) -> Option<&Action> {
        self.actions.iter().find(|action| action.action_id == action_id)
    }
}

/// One use of one element.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Action {
    /// The element's `action_id`, which routes match.
    pub action_id: String,
    /// The block it is in.
    #[serde(default)]
    pub block_id: Option<String>,
    /// The element's type: `button`, `static_select`, `datepicker`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// A button's `value`.
    #[serde(default)]
    pub value: Option<String>,
    /// A single select's choice.
    #[serde(default)]
    pub selected_option: Option<SelectOption>,
    /// A multi-select's choices.
    #[serde(default)]
    pub selected_options: Option<Vec<SelectOption>>,
    /// A user select's choice.
    #[serde(default)]
    pub selected_user: Option<String>,
    /// A channel select's choice.
    #[serde(default)]
    pub selected_channel: Option<String>,
    /// A conversation select's choice.
    #[serde(default)]
    pub selected_conversation: Option<String>,
    /// A date picker's choice (`YYYY-MM-DD`).
    #[serde(default)]
    pub selected_date: Option<String>,
    /// When it happened.
    #[serde(default)]
    pub action_ts: Option<String>,
}

/// An external select menu asks for options matching what the user typed.
///
/// Answer it in the acknowledgement with an [`OptionsResponse`](super::OptionsResponse).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct BlockSuggestion {
    /// The menu's `action_id`, which routes match.
    pub action_id: String,
    /// The block it is in.
    #[serde(default)]
    pub block_id: Option<String>,
    /// What the user typed so far.
    #[serde(default)]
    pub value: String,
    /// Who is typing.
    pub user: UserRef,
    /// The workspace.
    #[serde(default)]
    pub team: Option<TeamRef>,
    /// The view the menu is in, if any.
    #[serde(default)]
    pub view: Option<View>,
    /// Where the menu sits.
    #[serde(default)]
    pub container: Option<Container>,
    /// The channel, when the menu is in a message.
    #[serde(default)]
    pub channel: Option<ChannelRef>,
}
