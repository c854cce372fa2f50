//! Reading a `slash_commands` or `interactive` envelope without building a JSON tree: where
//! its `payload` is (typed arguments parse from it), the fields routes match, and the channel
//! and thread [`Context`](crate::Context) replies go to.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{INTERACTIVE, SLASH_COMMANDS};
use crate::Event;

/// Whether `event` is a whole `slash_commands` or `interactive` envelope.
pub(crate) fn is_envelope(event: &Event) -> bool {
    matches!(event.kind(), SLASH_COMMANDS | INTERACTIVE)
}

#[derive(Deserialize)]
struct PayloadOnly<'a> {
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

/// The JSON text of the envelope's `payload`, borrowed; `None` when it has none (or `event`
/// is not an envelope).
pub(crate) fn payload_json(event: &Event) -> Option<&str> {
    if !is_envelope(event) {
        return None;
    }
    let peek: PayloadOnly<'_> = serde_json::from_str(event.json()).ok()?;
    peek.payload.map(RawValue::get)
}

/// What routes match in an envelope's payload, read once per envelope. Strings are borrowed
/// from the frame unless they hold escapes.
#[derive(Debug, Default)]
pub(crate) struct PayloadKey<'a> {
    /// `payload.type` (`block_actions`, …); empty for slash commands.
    pub(crate) kind: Cow<'a, str>,
    /// `payload.command`, for slash commands.
    pub(crate) command: Cow<'a, str>,
    /// `payload.callback_id`, else `payload.view.callback_id`.
    pub(crate) callback_id: Cow<'a, str>,
    /// `payload.actions[].action_id`, plus `payload.action_id` (block_suggestion).
    pub(crate) action_ids: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct KeyEnvelope<'a> {
    #[serde(borrow, default)]
    payload: Option<KeyPayload<'a>>,
}

#[derive(Deserialize)]
struct KeyPayload<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    command: Cow<'a, str>,
    #[serde(borrow, default)]
    callback_id: Cow<'a, str>,
    #[serde(borrow, default)]
    action_id: Cow<'a, str>,
    #[serde(borrow, default)]
    view: Option<KeyView<'a>>,
    #[serde(borrow, default)]
    actions: Vec<KeyAction<'a>>,
}

#[derive(Deserialize)]
struct KeyView<'a> {
    #[serde(borrow, default)]
    callback_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct KeyAction<'a> {
    #[serde(borrow, default)]
    action_id: Cow<'a, str>,
}

impl<'a> PayloadKey<'a> {
    /// The key of `event`; empty for events that are not envelopes or cannot be read.
    pub(crate) fn of(event: &'a Event) -> PayloadKey<'a> {
        if !is_envelope(event) {
            return PayloadKey::default();
        }
        let Ok(KeyEnvelope {
            payload: Some(payload),
        }) = serde_json::from_str(event.json())
        else {
            return PayloadKey::default();
        };
        let callback_id = match (payload.callback_id, payload.view) {
            (id, _) if !id.is_empty() => id,
            (_, Some(view)) => view.callback_id,
            (id, None) => id,
        };
        let mut action_ids: Vec<Cow<'a, str>> = payload.actions.into_iter().map(|a| a.action_id).collect();
        if !payload.action_id.is_empty() {
            action_ids.push(payload.action_id);
        }
        PayloadKey {
            kind: payload.kind,
            command: payload.command,
            callback_id,
            action_ids,
        }
    }
}

#[derive(Deserialize)]
struct WhereEnvelope {
    #[serde(default)]
    payload: Option<WherePayload>,
}

/// The fields that place an interaction: a slash command's `channel_id`, an interaction's
/// `channel`, `container` and `message`.
#[derive(Deserialize)]
struct WherePayload {
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    channel: Option<IdOnly>,
    #[serde(default)]
    container: Option<ContainerPeek>,
    #[serde(default)]
    message: Option<MessagePeek>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct ContainerPeek {
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    message_ts: Option<String>,
}

#[derive(Deserialize)]
struct MessagePeek {
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
}

fn placed(event: &Event) -> Option<WherePayload> {
    serde_json::from_str::<WhereEnvelope>(event.json()).ok()?.payload
}

/// The channel a slash command was typed in, or an interaction's message is in.
pub(crate) fn channel_of_payload(event: &Event) -> Option<Box<str>> {
    let payload = placed(event)?;
    payload
        .channel_id
        .or(payload.channel.map(|c| c.id))
        .or(payload.container.and_then(|c| c.channel_id))
        .map(Into::into)
}

/// The thread of the message an interaction came from: its `thread_ts`, else its `ts`.
pub(crate) fn thread_of_payload(event: &Event) -> Option<String> {
    let payload = placed(event)?;
    let message = payload.message.and_then(|m| m.thread_ts.or(m.ts));
    message.or(payload.container.and_then(|c| c.message_ts))
}
