//! [`DispatcherProbe`]: lets a test wait until a running dispatcher has handled everything it
//! was sent, and see every handler failure, without sleeping.

use std::{
    fmt,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

use super::HandlerError;

/// The event type of the probe's sync marker. The dispatcher never hands it to a handler.
pub(crate) const SYNC_TYPE: &str = "rtm_dispatcher_probe_sync";

/// A test's view of a running dispatcher, from
/// [`RtmDispatcher::with_probe`](crate::RtmDispatcher::with_probe).
///
/// [`sync_event`](Self::sync_event) is an event to push after the events under test (e.g.
/// with the emulator's `push`); [`settled`](Self::settled) then waits until the dispatcher
/// has read it, which means it has started every call for the events before it, and until
/// every call (and error hook) has finished. It returns the handler failures since the last
/// `settled`, so a test can assert there were none, and negative assertions ("the bot did not
/// answer") need no sleep.
///
/// ```no_run
/// # #[cfg(feature = "emulator")]
/// # async fn demo(client: rtm_core::RtmClient, emulator: rtm_core::emulator::Emulator) {
/// let (dispatcher, probe) = rtm_core::RtmDispatcher::new(client).with_probe();
/// tokio::spawn(dispatcher.run());
/// emulator.message("C1", "U1", "hello");
/// emulator.push(probe.sync_event());
/// assert_eq!(probe.settled().await, Vec::<String>::new(), "no handler failed");
/// let said = emulator.sent().into_iter().filter(|frame| frame["type"] == "message").count();
/// assert_eq!(said, 0, "and the bot said nothing");
/// # }
/// ```
#[derive(Clone)]
pub struct DispatcherProbe {
    shared: Arc<ProbeShared>,
}

/// What the probe and the running dispatcher share.
pub(crate) struct ProbeShared {
    /// How many sync events the dispatcher has read.
    seen: watch::Sender<u64>,
    /// How many sync events the test asked for.
    requested: Mutex<u64>,
    /// The dispatcher's permits and their number, once it runs: all of them free means no
    /// call is queued or running.
    permits: OnceLock<(Arc<Semaphore>, u32)>,
    /// Handler failures not yet returned by `settled`.
    errors: Mutex<Vec<String>>,
}

impl DispatcherProbe {
    pub(crate) fn new() -> DispatcherProbe {
        DispatcherProbe {
            shared: Arc::new(ProbeShared {
                seen: watch::Sender::new(0),
                requested: Mutex::new(0),
                permits: OnceLock::new(),
                errors: Mutex::new(Vec::new()),
            }),
        }
    }

    pub(crate) fn shared(&self) -> Arc<ProbeShared> {
        Arc::clone(&self.shared)
    }

    /// The marker event to push after the events under test (its type is reserved; no
    /// handler sees it). Call [`settled`](Self::settled) once per marker.
    pub fn sync_event(&self) -> Value {
        *self
            .shared
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        json!({ "type": SYNC_TYPE })
    }

    /// Waits until the dispatcher has read every marker asked for so far and every handler
    /// call (with its error hook) has finished; returns the handler failures since the last
    /// call, as their `Display` text.
    ///
    /// Not bounded by itself: wrap it in a timeout in tests.
    pub async fn settled(&self) -> Vec<String> {
        let wanted = *self
            .shared
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut seen = self.shared.seen.subscribe();
        // The sender lives in `shared`, which `self` keeps alive: this cannot fail.
        let _ = seen.wait_for(|&n| n >= wanted).await;
        if let Some((permits, limit)) = self.shared.permits.get() {
            // Every permit free at once: nothing queued or running.
            let _all = permits.acquire_many(*limit).await;
        }
        std::mem::take(&mut *self.shared.errors.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl ProbeShared {
    /// The running dispatcher's permits.
    pub(crate) fn attach(&self, permits: Arc<Semaphore>, limit: usize) {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let _ = self.permits.set((permits, limit));
    }

    /// The dispatcher read a marker (after starting every call for the events before it).
    pub(crate) fn marker_seen(&self) {
        self.seen.send_modify(|n| *n += 1);
    }

    /// A handler call failed.
    pub(crate) fn record(&self, error: &HandlerError) {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(error.to_string());
    }
}

impl fmt::Debug for DispatcherProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherProbe")
            .field("seen", &*self.shared.seen.borrow())
            .finish_non_exhaustive()
    }
}
