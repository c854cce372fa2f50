//! The answers a handler gives with [`Context::respond`](crate::Context::respond): small serde
//! structs with Slack's field names, built with constructors.

use std::collections::BTreeMap;

use serde::Serialize;

use super::SelectOption;

/// Who sees a message answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResponseType {
    /// Only the user who acted (Slack's default).
    #[default]
    Ephemeral,
    /// Everyone in the channel.
    InChannel,
}

/// A message answer: to a slash command (in the acknowledgement, or later on its
/// `response_url`), or to a button through its `response_url`.
///
/// ```
/// use rtm_core::interactive::MessageResponse;
///
/// let answer = MessageResponse::in_channel("deploying…");
/// assert_eq!(
///     serde_json::to_value(&answer).unwrap(),
///     serde_json::json!({"text": "deploying…", "response_type": "in_channel"}),
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MessageResponse {
    /// The text (the notification text when there are blocks).
    pub text: String,
    /// Who sees it.
    pub response_type: ResponseType,
    /// Block Kit blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Vec<serde_json::Value>>,
    /// The thread to answer in (with `response_type: in_channel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// Replace the message the interaction came from (not for slash commands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_original: Option<bool>,
    /// Delete the message the interaction came from (not for slash commands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_original: Option<bool>,
}

impl MessageResponse {
    /// An answer only the user who acted sees.
    pub fn ephemeral(text: impl Into<String>) -> MessageResponse {
        MessageResponse {
            text: text.into(),
            response_type: ResponseType::Ephemeral,
            blocks: None,
            thread_ts: None,
            replace_original: None,
            delete_original: None,
        }
    }

    /// An answer everyone in the channel sees.
    pub fn in_channel(text: impl Into<String>) -> MessageResponse {
        MessageResponse {
            response_type: ResponseType::InChannel,
            ..MessageResponse::ephemeral(text)
        }
    }

    /// With Block Kit `blocks` (the text becomes the notification text).
    #[must_use]
    pub fn blocks(mut self, blocks: Vec<serde_json::Value>) -> MessageResponse {
        self.blocks = Some(blocks);
        self
    }

    /// In the thread under `thread_ts`, visible to the channel.
    #[must_use]
    pub fn in_thread(mut self, thread_ts: impl Into<String>) -> MessageResponse {
        self.thread_ts = Some(thread_ts.into());
        self.response_type = ResponseType::InChannel;
        self.replace_original = Some(false);
        self
    }

    /// Replaces the message the interaction came from (e.g. a button's message).
    #[must_use]
    pub fn replace_original(mut self) -> MessageResponse {
        self.replace_original = Some(true);
        self
    }

    /// Deletes the message the interaction came from, then posts this one.
    #[must_use]
    pub fn delete_original(mut self) -> MessageResponse {
        self.delete_original = Some(true);
        self
    }
}

/// The answer to a `view_submission` (Slack's `response_action`).
///
/// ```
/// use rtm_core::interactive::ViewResponse;
///
/// let answer = ViewResponse::errors([("email", "That is not an email address")]);
/// assert_eq!(
///     serde_json::to_value(&answer).unwrap(),
///     serde_json::json!({"response_action": "errors", "errors": {"email": "That is not an email address"}}),
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "response_action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViewResponse {
    /// Keep the modal open and show a message under each named input block.
    Errors {
        /// Block id → error message.
        errors: BTreeMap<String, String>,
    },
    /// Replace the submitted view with `view`.
    Update {
        /// The new view (a Block Kit view object).
        view: serde_json::Value,
    },
    /// Push `view` on top of the submitted one.
    Push {
        /// The new view (a Block Kit view object).
        view: serde_json::Value,
    },
    /// Close every view of the modal.
    Clear,
}

impl ViewResponse {
    /// Keeps the modal open with an error under each block: `(block_id, message)` pairs.
    pub fn errors<B, M>(errors: impl IntoIterator<Item = (B, M)>) -> ViewResponse
    where
        B: Into<String>,
        M: Into<String>,
    {
        ViewResponse::Errors {
            errors: errors
                .into_iter()
                .map(|(block, message)| (block.into(), message.into()))
                .collect(),
        }
    }

    /// Replaces the submitted view with `view`.
    pub fn update(view: serde_json::Value) -> ViewResponse {
        ViewResponse::Update { view }
    }

    /// Pushes `view` on top of the submitted one.
    pub fn push(view: serde_json::Value) -> ViewResponse {
        ViewResponse::Push { view }
    }

    /// Closes every view of the modal.
    pub fn clear() -> ViewResponse {
        ViewResponse::Clear
    }
}

/// The answer to a `block_suggestion`: the options an external select menu offers.
///
/// ```
/// use rtm_core::interactive::OptionsResponse;
///
/// let answer = OptionsResponse::new([("Staging", "stg"), ("Production", "prod")]);
/// assert_eq!(answer.options[1].value, "prod");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OptionsResponse {
    /// The options, in order (Slack shows at most 100).
    pub options: Vec<SelectOption>,
}

impl OptionsResponse {
    /// Options from `(label, value)` pairs.
    pub fn new<L, V>(options: impl IntoIterator<Item = (L, V)>) -> OptionsResponse
    where
        L: Into<String>,
        V: Into<String>,
    {
        OptionsResponse {
            options: options
                .into_iter()
                .map(|(label, value)| SelectOption::new(label, value))
                .collect(),
        }
    }
}
