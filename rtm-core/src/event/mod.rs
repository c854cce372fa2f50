//! Events from Slack: the frame's text kept once, plus the peeked `type` and `subtype`.
//!
//! Cloning an [`Event`] costs a reference count; parsing into a typed struct happens only when
//! someone asks for it with [`Event::parse`].

mod envelope;

use std::{fmt, num::NonZeroU32, sync::Arc};

use serde::Deserialize;
use tokio_tungstenite::tungstenite::Utf8Bytes;

pub(crate) use envelope::{Frame, classify};

use crate::{Envelope, ParseError};

/// One event from Slack, such as `message` or `team_join`.
///
/// The frame's JSON text is kept as received (shared, never copied or re-serialised);
/// `kind()` and `subtype()` are read from it without building a JSON tree.
#[derive(Clone)]
pub struct Event {
    /// The frame as received; or, on the rare path for an escaped `type` or `subtype`, their
    /// unescaped text followed by the frame (see [`Event::json`]).
    text: Utf8Bytes,
    kind: Loc,
    subtype: Option<Loc>,
    /// Where `channel` is, when the classifier found it as a plain string.
    channel: Option<Loc>,
    /// Socket Mode: the envelope it came in (shared by clones; `None` over RTM).
    envelope: Option<Arc<Envelope>>,
}

impl Event {
    /// Builds an event from a JSON object with a string `type`, e.g. to test a handler.
    ///
    /// # Errors
    /// Returns the reason when the text is not a JSON object with a string `type`.
    pub fn from_json(text: impl Into<String>) -> Result<Event, crate::Error> {
        match classify(Utf8Bytes::from(text.into())) {
            Frame::Event(event) => Ok(event),
            Frame::Malformed(reason) => Err(crate::Error::Protocol(reason.to_string())),
            Frame::Reply(_) | Frame::Pong(_) => Err(crate::Error::Protocol(
                "a reply has no `type`, so it is not an event".into(),
            )),
        }
    }

    /// The event's `type`, e.g. `"message"`.
    #[doc(alias = "type")]
    pub fn kind(&self) -> &str {
        self.slice(self.kind)
    }

    /// The event's `subtype`, e.g. `Some("bot_message")`, when it has one.
    pub fn subtype(&self) -> Option<&str> {
        self.subtype.map(|at| self.slice(at))
    }

    /// The frame's JSON text, exactly as Slack sent it.
    pub fn json(&self) -> &str {
        // A value inside the JSON never starts at 0 (that is its `{`): a `type` there was
        // put in front of the frame, with the `subtype`, each followed by a NUL.
        let start = match self.kind.start() {
            0 => self.subtype.unwrap_or(self.kind).end() + 1,
            _ => 0,
        };
        self.text.get(start..).unwrap_or_default()
    }

    /// Deserializes the event into any type, e.g. a struct of [`crate::events`] or your own
    /// serde struct. `serde_json::Value` works too.
    ///
    /// The result may borrow from the event: a field of type `&'a str` or (for text that may
    /// hold escapes) `#[serde(borrow)] Cow<'a, str>` points into the frame instead of
    /// allocating a copy.
    ///
    /// # Errors
    /// A [`ParseError`] naming the event type, the target type and the failing field.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, ParseError> {
        serde_json::from_str(self.json()).map_err(|source| ParseError {
            event_type: self.kind().to_owned(),
            target: std::any::type_name::<T>(),
            source: std::sync::Arc::new(source),
        })
    }

    /// Parses the event into [`KnownEvent`](crate::events::KnownEvent): the typed struct for
    /// its type, or `KnownEvent::Unknown` (keeping this event) for a type it does not know.
    ///
    /// # Errors
    /// A [`ParseError`] naming the event type and the field when a known type lacks a
    /// required field or has one of the wrong JSON type.
    pub fn to_known(&self) -> Result<crate::events::KnownEvent, ParseError> {
        crate::events::KnownEvent::from_event(self)
    }

    /// Socket Mode: the envelope this event came in (its id, kind, retry count and whether
    /// it can be answered in the ack). `None` for RTM events and events built with
    /// [`from_json`](Self::from_json). Events taken from an `events_api` envelope carry it
    /// too, so a handler can see `retry_attempt` and `retry_reason`.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_deref()
    }

    /// Attaches the envelope the event came in.
    pub(crate) fn with_envelope(mut self, envelope: Envelope) -> Event {
        self.envelope = Some(Arc::new(envelope));
        self
    }

    /// The envelope, while this event is its only holder (the connection task, before
    /// delivering it).
    pub(crate) fn envelope_mut(&mut self) -> Option<&mut Envelope> {
        self.envelope.as_mut().and_then(Arc::get_mut)
    }

    /// The envelope, shared.
    pub(crate) fn shared_envelope(&self) -> Option<&Arc<Envelope>> {
        self.envelope.as_ref()
    }

    /// The event's `channel` when it is a plain string id, as the classifier located it
    /// (no parse); `None` when absent or of another shape.
    pub(crate) fn channel_id(&self) -> Option<&str> {
        self.channel.map(|at| self.slice(at))
    }

    fn slice(&self, at: Loc) -> &str {
        at.slice(&self.text)
    }
}

/// Where a string is inside an event's text: 8 bytes, and so is `Option<Loc>` (the niche of
/// `NonZeroU32`), which keeps an event within 64 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    /// One past the start (so that a start of 0 can be stored).
    start_plus_one: NonZeroU32,
    end: u32,
}

impl Loc {
    /// `None` when the range does not fit in a `u32`.
    pub(crate) fn new(start: usize, end: usize) -> Option<Loc> {
        let start_plus_one = NonZeroU32::new(u32::try_from(start).ok()?.checked_add(1)?)?;
        Some(Loc {
            start_plus_one,
            end: u32::try_from(end).ok()?,
        })
    }

    fn start(self) -> usize {
        (self.start_plus_one.get() - 1) as usize
    }

    fn end(self) -> usize {
        self.end as usize
    }

    /// The located string; empty if `text` is not the text it was located in (which the
    /// classifier never does).
    pub(crate) fn slice(self, text: &str) -> &str {
        text.get(self.start()..self.end()).unwrap_or_default()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("type", &self.kind())
            .field("subtype", &self.subtype())
            .field("json", &self.json())
            .field("envelope", &self.envelope)
            .finish()
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}
