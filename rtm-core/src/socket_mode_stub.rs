//! TEMPORARY STUB — replaced at merge by branch `ack`, which owns the real implementation.
//!
//! It declares exactly the API that branch provides (`SocketModeClient::respond`/`ack`,
//! [`Answered`], [`RespondError`], [`Event::envelope`], [`Envelope`]) so that the routes, the
//! dispatcher's ack guard and `Context::respond` compile against it. Nothing here works:
//! `respond` always fails with [`RespondError::NotAnswerable`], `ack` does nothing and
//! `envelope` is always `None`. The lead deletes this file (and its `mod`/`pub use` lines in
//! `lib.rs`) when merging `ack`.

use serde::Serialize;

use crate::{Event, SocketModeClient};

/// How an answer reached Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answered {
    /// In the envelope's acknowledgement (the 3-second window).
    InAck,
    /// Posted to the payload's `response_url`.
    ResponseUrl,
}

/// Why an answer could not be given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The acknowledgement would exceed Slack's frame limit.
    #[error("the answer is {len} bytes; an acknowledgement holds at most {max}")]
    TooLarge {
        /// The frame's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The event cannot be answered (not an envelope that takes an answer, no `response_url`).
    #[error("this event cannot be answered")]
    NotAnswerable,
    /// The event was answered already.
    #[error("this event was answered already")]
    AlreadyAnswered,
    /// The socket that delivered the envelope is gone.
    #[error("the connection that delivered the envelope is gone")]
    ConnectionGone,
    /// Posting to the `response_url` failed.
    #[error("posting to the response_url failed: {0}")]
    ResponseUrl(String),
}

/// A Socket Mode envelope's metadata.
#[derive(Debug, Clone)]
pub struct Envelope {
    id: String,
    kind: String,
    accepts_response_payload: bool,
    retry_attempt: u32,
    retry_reason: String,
}

impl Envelope {
    /// Whether Slack takes an answer in the acknowledgement.
    pub fn accepts_response_payload(&self) -> bool {
        self.accepts_response_payload
    }

    /// The `envelope_id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The envelope's `type`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The `retry_attempt`.
    pub fn retry_attempt(&self) -> u32 {
        self.retry_attempt
    }

    /// The `retry_reason`.
    pub fn retry_reason(&self) -> &str {
        &self.retry_reason
    }
}

impl Event {
    /// The Socket Mode envelope this event came in (stub: always `None`).
    pub fn envelope(&self) -> Option<&Envelope> {
        None
    }
}

impl SocketModeClient {
    /// Answers `event` with `payload` (stub: always [`RespondError::NotAnswerable`]).
    ///
    /// # Errors
    /// Always [`RespondError::NotAnswerable`] in this stub.
    pub async fn respond<T: Serialize + ?Sized>(
        &self,
        event: &Event,
        payload: &T,
    ) -> Result<Answered, RespondError> {
        let _ = (event, payload);
        Err(RespondError::NotAnswerable)
    }

    /// Releases a pending acknowledgement now (stub: does nothing).
    pub fn ack(&self, event: &Event) {
        let _ = event;
    }
}
