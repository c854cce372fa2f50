//! Reply matching: sends written and waiting for their reply, by id, with their deadlines.
//!
//! Ids grow in call order and every send gets the same reply timeout, so ordering by id is
//! ordering by deadline: the first entry is always the next to expire.

use std::{collections::BTreeMap, time::Duration};

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::{SendError, reply::ReplySlot};

#[derive(Default)]
pub(crate) struct Replies {
    slots: BTreeMap<u64, ReplySlot>,
}

impl Replies {
    pub(crate) fn insert(&mut self, id: u64, slot: ReplySlot) {
        self.slots.insert(id, slot);
    }

    /// Hands a reply to its sender; returns `false` when nobody waits for it any more.
    pub(crate) fn resolve(&mut self, reply_to: u64, text: Utf8Bytes) -> bool {
        match self.slots.remove(&reply_to) {
            Some(slot) => slot.send(Ok(text)),
            None => false,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// When the oldest send runs out of time.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.slots.first_key_value().map(|(_, slot)| slot.deadline)
    }

    /// Fails the sends whose deadline has passed with [`SendError::Timeout`].
    pub(crate) fn expire(&mut self, now: Instant, timeout: Duration) {
        while let Some(entry) = self.slots.first_entry() {
            if entry.get().deadline > now {
                break;
            }
            entry.remove().send(Err(SendError::Timeout(timeout)));
        }
    }

    /// Forgets senders that dropped their future.
    pub(crate) fn sweep(&mut self) {
        self.slots.retain(|_, slot| !slot.is_closed());
    }

    /// Fails every waiting send: the connection that carried them is gone.
    pub(crate) fn fail_all(&mut self, error: &SendError) {
        for (_, slot) in std::mem::take(&mut self.slots) {
            slot.send(Err(error.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expires_oldest_first_and_only_when_due() {
        let mut pending = Replies::default();
        let start = Instant::now();
        let timeout = Duration::from_secs(10);
        let (a, fa) = ReplySlot::new(start + timeout);
        let (b, fb) = ReplySlot::new(start + timeout + Duration::from_secs(1));
        pending.insert(1, a);
        pending.insert(2, b);
        assert_eq!(pending.next_deadline(), Some(start + timeout));
        pending.expire(start + Duration::from_secs(5), timeout);
        assert_eq!(pending.next_deadline(), Some(start + timeout));
        pending.expire(start + timeout, timeout);
        assert!(matches!(fa.await, Err(SendError::Timeout(t)) if t == timeout));
        assert!(pending.resolve(2, Utf8Bytes::from_static(r#"{"ok":true,"reply_to":2}"#)));
        assert_eq!(fb.await.unwrap().reply_to, 2);
        assert!(pending.is_empty());
    }
}
