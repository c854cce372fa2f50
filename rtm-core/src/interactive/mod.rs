//! Typed payloads of Socket Mode's `slash_commands` and `interactive` envelopes, and the
//! answers a handler gives with [`Context::respond`](crate::Context::respond).
//!
//! Each payload struct is a handler's event argument for its route, like the structs of
//! [`crate::events`] for RTM events: the dispatcher parses it from the envelope's `payload`
//! (for every typed argument of a `slash_commands` or `interactive` event, your own serde
//! structs included; the raw [`Event`](crate::Event) stays the whole envelope).
//!
//! | Route | Attribute | Argument |
//! |---|---|---|
//! | [`Route::slash_command("/deploy")`](crate::Route::slash_command) | `#[slash_command("/deploy")]` | [`SlashCommand`] |
//! | [`Route::block_action("approve")`](crate::Route::block_action) | `#[interaction(type = "block_actions", action_id = "approve")]` | [`BlockActions`] |
//! | [`Route::interaction("block_suggestion")`](crate::Route::interaction) | `#[interaction(type = "block_suggestion", action_id = "…")]` | [`BlockSuggestion`] |
//! | [`Route::view_submission("survey")`](crate::Route::view_submission) | `#[interaction(type = "view_submission", callback_id = "survey")]` | [`ViewSubmission`] |
//! | [`Route::interaction("view_closed")`](crate::Route::interaction) | `#[interaction(type = "view_closed", callback_id = "…")]` | [`ViewClosed`] |
//! | [`Route::shortcut("new_ticket")`](crate::Route::shortcut) | `#[interaction(type = "shortcut", callback_id = "new_ticket")]` | [`Shortcut`] |
//! | [`Route::interaction("message_action")`](crate::Route::interaction) | `#[interaction(type = "message_action", callback_id = "…")]` | [`MessageShortcut`] |
//!
//! Every struct ignores fields it does not know and is `#[non_exhaustive]`: Slack adds
//! fields, and so may this crate. What a struct does not carry is still in
//! [`Context::event`](crate::Context::event), the raw envelope.

mod actions;
mod common;
mod peek;
mod response;
mod shortcut;
mod slash;
mod view;

pub(crate) use self::peek::{PayloadKey, channel_of_payload, is_envelope, payload_json, thread_of_payload};
pub use self::{
    actions::{Action, BlockActions, BlockSuggestion},
    common::{ChannelRef, Container, MessageRef, SelectOption, TeamRef, UserRef},
    response::{MessageResponse, OptionsResponse, ResponseType, ViewResponse},
    shortcut::{MessageShortcut, Shortcut},
    slash::SlashCommand,
    view::{ResponseUrlTarget, StateValue, View, ViewClosed, ViewState, ViewSubmission},
};

/// The envelope `type` of a slash command: the [`Event::kind`](crate::Event::kind) of the
/// event [`SocketModeClient::read`](crate::SocketModeClient::read) yields for it.
pub const SLASH_COMMANDS: &str = "slash_commands";

/// The envelope `type` of every interaction (its `payload.type` says which).
pub const INTERACTIVE: &str = "interactive";

/// The interaction types (`payload.type`) routes know, with their payload structs:
/// `block_actions` ([`BlockActions`]), `block_suggestion` ([`BlockSuggestion`]),
/// `view_submission` ([`ViewSubmission`]), `view_closed` ([`ViewClosed`]), `shortcut`
/// ([`Shortcut`]) and `message_action` ([`MessageShortcut`]).
pub const INTERACTION_TYPES: &[&str] = &[
    "block_actions",
    "block_suggestion",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
];

#[cfg(test)]
mod tests;
