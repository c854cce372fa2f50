//! Socket Mode envelope metadata carried by the events it delivered ([`Event::envelope`]).
//!
//! [`Event::envelope`]: crate::Event::envelope

use std::{
    fmt,
    sync::atomic::{AtomicU8, Ordering},
};

use crate::connection::AckRoute;

/// What kind of envelope an event came in (its `type`, protocol §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeKind {
    /// `events_api`: an Events API callback; the event is its `payload.event`.
    EventsApi,
    /// `slash_commands`: a slash command; the event is the whole envelope.
    SlashCommands,
    /// `interactive`: shortcuts, block actions, view submissions, …; the event is the whole
    /// envelope.
    Interactive,
    /// An envelope type this client does not know.
    Other,
}

impl EnvelopeKind {
    pub(crate) fn from_type(kind: &str) -> EnvelopeKind {
        match kind {
            "events_api" => EnvelopeKind::EventsApi,
            "slash_commands" => EnvelopeKind::SlashCommands,
            "interactive" => EnvelopeKind::Interactive,
            _ => EnvelopeKind::Other,
        }
    }
}

/// The Socket Mode envelope an [`Event`](crate::Event) was delivered in: what Slack said
/// about the delivery rather than about the event.
///
/// Shared by every clone of the event (one allocation per envelope).
pub struct Envelope {
    id: Box<str>,
    kind: EnvelopeKind,
    retry_attempt: u32,
    retry_reason: Option<Box<str>>,
    /// `payload.event_id` of an `events_api` envelope.
    event_id: Option<Box<str>>,
    accepts_response_payload: bool,
    /// The connection that holds this envelope's ack, when it holds one back for an answer.
    route: Option<AckRoute>,
    /// Where the ack is: [`HELD`], [`SENT`] or [`ANSWERED`]. Written by the connection task,
    /// read by `respond` to skip a round trip to a connection that has nothing to answer.
    ack: AtomicU8,
}

/// The connection task holds the ack back for an answer.
const HELD: u8 = 0;
/// The ack went (or is queued) empty.
const SENT: u8 = 1;
/// The ack went (or is queued) with the application's answer.
const ANSWERED: u8 = 2;

impl Envelope {
    pub(crate) fn new(
        id: Box<str>,
        kind: EnvelopeKind,
        retry_attempt: u32,
        retry_reason: &str,
        accepts_response_payload: bool,
    ) -> Envelope {
        Envelope {
            id,
            kind,
            retry_attempt,
            retry_reason: (!retry_reason.is_empty()).then(|| retry_reason.into()),
            event_id: None,
            accepts_response_payload,
            route: None,
            ack: AtomicU8::new(SENT),
        }
    }

    /// The `envelope_id` Slack gave the delivery (what the ack names).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The envelope's `type`.
    pub fn kind(&self) -> EnvelopeKind {
        self.kind
    }

    /// `retry_attempt`: 0 on the first delivery, 1, 2, 3 on Slack's redeliveries of an
    /// `events_api` envelope it considers unacknowledged.
    pub fn retry_attempt(&self) -> u32 {
        self.retry_attempt
    }

    /// `retry_reason` (e.g. `"timeout"`); `None` on a first delivery, where Slack sends `""`.
    pub fn retry_reason(&self) -> Option<&str> {
        self.retry_reason.as_deref()
    }

    /// `payload.event_id` of an `events_api` envelope: Slack's id of the event, the same on
    /// every redelivery and on every socket (what deduplication keys on).
    pub fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }

    pub(crate) fn set_event_id(&mut self, event_id: Option<String>) {
        self.event_id = event_id.map(String::into_boxed_str);
    }

    /// Whether Slack takes an answer in the ack (slash commands, `view_submission`,
    /// `block_suggestion`). Only then does the client hold the ack back for
    /// [`SocketModeClient::respond`](crate::SocketModeClient::respond), within the
    /// [response budget](crate::ClientConfigBuilder::response_budget).
    pub fn accepts_response_payload(&self) -> bool {
        self.accepts_response_payload
    }

    /// Where to send an answer for the held-back ack, if the connection holds one.
    pub(crate) fn route(&self) -> Option<&AckRoute> {
        self.route.as_ref()
    }

    /// The connection that received the envelope holds its ack back, until answered.
    pub(crate) fn hold(&mut self, route: AckRoute) {
        self.route = Some(route);
        *self.ack.get_mut() = HELD;
    }

    /// The connection task queued the ack: with the application's answer, or empty.
    pub(crate) fn ack_queued(&self, answered: bool) {
        self.ack
            .store(if answered { ANSWERED } else { SENT }, Ordering::Release);
    }

    /// Whether the ack is still held for an answer.
    pub(crate) fn ack_held(&self) -> bool {
        self.ack.load(Ordering::Acquire) == HELD
    }

    /// Whether the ack carried the application's answer.
    pub(crate) fn answered_in_ack(&self) -> bool {
        self.ack.load(Ordering::Acquire) == ANSWERED
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("retry_attempt", &self.retry_attempt)
            .field("retry_reason", &self.retry_reason)
            .field("event_id", &self.event_id)
            .field("accepts_response_payload", &self.accepts_response_payload)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_costs_an_event_one_pointer() {
        // Socket Mode metadata is one optional shared pointer: RTM events pay 8 bytes.
        assert_eq!(size_of::<Option<std::sync::Arc<Envelope>>>(), size_of::<usize>());
        assert!(size_of::<crate::Event>() <= 64, "{}", size_of::<crate::Event>());
    }

    #[test]
    fn an_empty_retry_reason_is_none_and_debug_shows_the_metadata() {
        let first = Envelope::new("e1".into(), EnvelopeKind::EventsApi, 0, "", false);
        assert_eq!(first.retry_reason(), None);
        let retried = Envelope::new("e2".into(), EnvelopeKind::EventsApi, 1, "timeout", false);
        assert_eq!(
            (retried.retry_attempt(), retried.retry_reason()),
            (1, Some("timeout"))
        );
        let debug = format!("{retried:?}");
        assert!(debug.contains("e2") && debug.contains("timeout"), "{debug}");
        assert_eq!(
            EnvelopeKind::from_type("slash_commands"),
            EnvelopeKind::SlashCommands
        );
        assert_eq!(EnvelopeKind::from_type("something_new"), EnvelopeKind::Other);
    }
}
