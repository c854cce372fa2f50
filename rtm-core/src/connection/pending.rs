//! Sends waiting for their reply, by id.

use std::collections::HashMap;

use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::{SendError, reply::ReplySlot};

#[derive(Default)]
pub(crate) struct Pending {
    slots: HashMap<u64, ReplySlot>,
}

impl Pending {
    pub(crate) fn insert(&mut self, id: u64, slot: ReplySlot) {
        self.slots.insert(id, slot);
    }

    /// Hands a reply to its sender; returns `false` when nobody waits for it any more.
    pub(crate) fn resolve(&mut self, reply_to: u64, text: Utf8Bytes) -> bool {
        match self.slots.remove(&reply_to) {
            Some(slot) => slot.send(Ok(text)).is_ok(),
            None => false,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Forgets senders that gave up (their future timed out or was dropped).
    pub(crate) fn sweep(&mut self) {
        self.slots.retain(|_, slot| !slot.is_closed());
    }

    /// Fails every waiting send: the connection that carried them is gone.
    pub(crate) fn fail_all(&mut self, error: &SendError) {
        for (_, slot) in self.slots.drain() {
            let _ = slot.send(Err(error.clone()));
        }
    }
}
