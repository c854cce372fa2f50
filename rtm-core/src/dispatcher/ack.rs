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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use super::*;
    use crate::{ConnectionInfo, ReplyFuture, SendError, WebClient};

    /// Counts acks; nothing else.
    struct Counting(AtomicUsize);

    impl Transport for Counting {
        fn info(&self) -> Arc<ConnectionInfo> {
            unreachable!("not used")
        }
        fn post(&self, _: &str, _: &str, _: Option<&str>) -> ReplyFuture {
            ReplyFuture::failed(SendError::InvalidFrame("not used".into()))
        }
        fn web(&self) -> Option<WebClient> {
            None
        }
        fn ack(&self, _event: &Event) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[tokio::test]
    async fn acks_once_after_the_last_call_finished_even_if_one_panicked() {
        let counting = Arc::new(Counting(AtomicUsize::new(0)));
        let transport: Arc<dyn Transport> = counting.clone();
        let event = Event::from_json(r#"{"envelope_id":"1","type":"slash_commands","payload":{}}"#).unwrap();
        let guard = AckGuard::new(&transport, &event);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let panicking = {
            let guard = Arc::clone(&guard);
            tokio::spawn(async move {
                let _guard = guard;
                panic!("a handler panics");
            })
        };
        let slow = {
            let guard = Arc::clone(&guard);
            tokio::spawn(async move {
                let _guard = guard;
                let _ = released.await;
            })
        };
        drop(guard);
        assert!(panicking.await.is_err());
        assert_eq!(counting.0.load(SeqCst), 0, "a call is still running");
        let _ = release.send(());
        slow.await.unwrap();
        assert_eq!(counting.0.load(SeqCst), 1);
    }

    #[test]
    fn rtm_events_and_events_api_need_no_guard() {
        let transport: Arc<dyn Transport> = Arc::new(Counting(AtomicUsize::new(0)));
        let event = Event::from_json(r#"{"type":"message","text":"hi"}"#).unwrap();
        assert!(AckGuard::for_event(&transport, &event).is_none());
    }
}
