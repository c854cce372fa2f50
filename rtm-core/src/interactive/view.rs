//! Modals: [`ViewSubmission`], [`ViewClosed`], and the [`View`] and its [`ViewState`] they
//! carry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{SelectOption, TeamRef, UserRef};

/// A view (a modal, or the App Home) as interaction payloads carry it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct View {
    /// The view's id.
    #[serde(default)]
    pub id: Option<String>,
    /// `modal` or `home`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The `callback_id` the app gave the view, which routes match.
    #[serde(default)]
    pub callback_id: String,
    /// The string the app stored in the view when it opened it.
    #[serde(default)]
    pub private_metadata: String,
    /// What the inputs hold.
    #[serde(default)]
    pub state: ViewState,
    /// Pass it to `views.update` to avoid overwriting a newer version.
    #[serde(default)]
    pub hash: Option<String>,
    /// The first view of this modal's stack.
    #[serde(default)]
    pub root_view_id: Option<String>,
    /// The view under this one in the stack.
    #[serde(default)]
    pub previous_view_id: Option<String>,
    /// The app's own id for the view.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Its blocks, as sent.
    #[serde(default)]
    pub blocks: Vec<serde_json::Value>,
}

/// The values of a view's inputs: block id → action id → value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ViewState {
    /// Block id → action id → what the input holds.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, StateValue>>,
}

impl ViewState {
    /// The input `action_id` in block `block_id`.
    pub fn get(&self, block_id: &str, action_id: &str) -> Option<&StateValue> {
        self.values.get(block_id)?.get(action_id)
    }

    /// The text of a text input, or the value of a single select, in block `block_id`.
    pub fn value(&self, block_id: &str, action_id: &str) -> Option<&str> {
        let input = self.get(block_id, action_id)?;
        input
            .value
            .as_deref()
            .or_else(|| input.selected_option.as_ref().map(|o| o.value.as_str()))
    }
}

/// What one input holds; which field is set depends on its [`kind`](Self::kind).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct StateValue {
    /// The element's type: `plain_text_input`, `static_select`, `datepicker`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// A text input's text.
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
    /// A multi user select's choices.
    #[serde(default)]
    pub selected_users: Option<Vec<String>>,
    /// A channel select's choice.
    #[serde(default)]
    pub selected_channel: Option<String>,
    /// A conversation select's choice.
    #[serde(default)]
    pub selected_conversation: Option<String>,
    /// A date picker's choice (`YYYY-MM-DD`).
    #[serde(default)]
    pub selected_date: Option<String>,
}

/// Someone submitted a modal.
///
/// Answer it in the acknowledgement with a [`ViewResponse`](super::ViewResponse) (show
/// errors, update, push, or close every view), or not at all to close it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ViewSubmission {
    /// Who submitted.
    pub user: UserRef,
    /// The workspace.
    #[serde(default)]
    pub team: Option<TeamRef>,
    /// The submitted view, with its inputs in [`View::state`].
    pub view: View,
    /// The `response_url`s the modal asked for (a conversation select with
    /// `response_url_enabled`).
    #[serde(default)]
    pub response_urls: Vec<ResponseUrlTarget>,
    /// Opens another modal with `views.open`; single-use, valid for 3 seconds.
    #[serde(default)]
    pub trigger_id: Option<String>,
    /// The app.
    #[serde(default)]
    pub api_app_id: Option<String>,
}

/// A `response_url` a modal obtained for the conversation chosen in one of its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ResponseUrlTarget {
    /// The input's block.
    #[serde(default)]
    pub block_id: Option<String>,
    /// The input.
    #[serde(default)]
    pub action_id: Option<String>,
    /// The conversation chosen.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// Where to post.
    pub response_url: String,
}

/// Someone closed a modal whose view asked for `notify_on_close`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ViewClosed {
    /// Who closed it.
    pub user: UserRef,
    /// The workspace.
    #[serde(default)]
    pub team: Option<TeamRef>,
    /// The closed view.
    pub view: View,
    /// Whether the whole stack was closed.
    #[serde(default)]
    pub is_cleared: bool,
}
