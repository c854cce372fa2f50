//! [`AckGuard`]: releases a Socket Mode envelope's pending acknowledgement once every handler
//! call for it has finished.
//!
//! Envelopes that take an answer (slash commands, some interactions) are acknowledged by the
//! client only when answered or released, so that a handler can answer in the ack. The
//! dispatcher gives each call for such an envelope a clone of one `Arc<AckGuard>`; the last
//! clone to drop (the last call to finish, fail, panic or be aborted) releases the ack, so
//! Slack never waits for the whole budget after the work is done.

use std::{fmt, sync::Arc};

use crate::Event;

use super::transport::Transport;

/// Releases `event`'s pending acknowledgement when dropped.
pub(crate) struct AckGuard {
    transport: Arc<dyn Transport>,
    event: Event,
}

impl AckGuard {
    /// A guard for `event` when it is an envelope whose acknowledgement waits for an answer;
    /// `None` for everything else (RTM events, `events_api` envelopes).
    pub(crate) fn for_event(transport: &Arc<dyn Transport>, event: &Event) -> Option<Arc<AckGuard>> {
        event
            .envelope()
            .is_some_and(crate::Envelope::accepts_response_payload)
            .then(|| AckGuard::new(transport, event))
    }

    pub(crate) fn new(transport: &Arc<dyn Transport>, event: &Event) -> Arc<AckGuard> {
        Arc::new(AckGuard {
            transport: Arc::clone(transport),
            event: event.clone(),
        })
    }
}

impl Drop for AckGuard {
    fn drop(&mut self) {
        // A no-op when a handler already answered in the ack.
        self.transport.ack(&self.event);
    }
}

impl fmt::Debug for AckGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckGuard")
            .field("event.type", &self.event.kind())
            .finish_non_exhaustive()
    }
}
