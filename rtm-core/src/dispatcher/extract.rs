//! [`FromEvent`]: how a handler's event argument is built from an [`Event`].

use serde::de::DeserializeOwned;

use crate::{Event, ParseError};

/// A type a handler can take as its event argument.
///
/// Implemented for [`Event`] itself (a reference-count clone, no parsing) and for every
/// `serde::de::DeserializeOwned` type: your own `#[derive(Deserialize)]` struct, a type of the
/// event catalog, or `serde_json::Value`. A parse failure never panics: the dispatcher reports
/// it as [`HandlerError::Extract`](crate::HandlerError::Extract), naming the handler, the event
/// type and the failing field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler's event argument",
    label = "not `FromEvent`",
    note = "derive `serde::Deserialize` for it, or take the raw `rtm_core::Event`"
)]
pub trait FromEvent: Sized {
    /// Builds the argument from the event.
    ///
    /// # Errors
    /// A [`ParseError`] naming the event type, the target type and the failing field.
    fn from_event(event: &Event) -> Result<Self, ParseError>;
}

impl FromEvent for Event {
    fn from_event(event: &Event) -> Result<Self, ParseError> {
        Ok(event.clone())
    }
}

#[diagnostic::do_not_recommend]
impl<T: DeserializeOwned> FromEvent for T {
    fn from_event(event: &Event) -> Result<Self, ParseError> {
        match crate::interactive::payload_json(event) {
            Some(payload) => serde_json::from_str(payload).map_err(|source| ParseError {
                event_type: event.kind().to_owned(),
                target: std::any::type_name::<T>(),
                source: std::sync::Arc::new(source),
            }),
            None => event.parse(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Message {
        channel: String,
        text: String,
    }

    #[test]
    fn raw_event_is_a_clone() {
        let event = Event::from_json(r#"{"type":"hello"}"#).unwrap();
        let got = Event::from_event(&event).unwrap();
        assert_eq!(got.json(), event.json());
    }

    #[test]
    fn serde_types_parse_and_fail_without_panicking() {
        let event = Event::from_json(r#"{"type":"message","channel":"C1","text":"hi"}"#).unwrap();
        let message = Message::from_event(&event).unwrap();
        assert_eq!((message.channel.as_str(), message.text.as_str()), ("C1", "hi"));

        let event = Event::from_json(r#"{"type":"message","channel":"C1"}"#).unwrap();
        let error = Message::from_event(&event).unwrap_err();
        assert_eq!(error.event_type, "message");
        assert!(error.to_string().contains("missing field `text`"), "{error}");
    }

    #[test]
    fn envelopes_parse_typed_arguments_from_their_payload() {
        let event = Event::from_json(
            r#"{"envelope_id":"1","type":"slash_commands","payload":{"command":"/x","text":"hi","channel_id":"C1"}}"#,
        )
        .unwrap();
        #[derive(Deserialize)]
        struct Command {
            command: String,
            text: String,
        }
        let command = Command::from_event(&event).unwrap();
        assert_eq!((command.command.as_str(), command.text.as_str()), ("/x", "hi"));
        // The raw event stays the whole envelope.
        assert_eq!(Event::from_event(&event).unwrap().kind(), "slash_commands");
        let error = Message::from_event(&event).unwrap_err();
        assert_eq!(error.event_type, "slash_commands");
    }
}
