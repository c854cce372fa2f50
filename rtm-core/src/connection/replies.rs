//! Reply matching: sends written and waiting for their reply, by id, with their deadlines.
//!
//! Ids grow in call order and every send gets the same reply timeout, so ordering by id is
//! ordering by deadline: the first entry is always the next to expire.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

use crate::{
    SendError,
    reply::{RawReply, ReplySlot},
};

/// Past this many entries, an emptied table gives its memory back (after a burst).
const KEEP_CAPACITY: usize = 1024;

/// Sends awaiting replies, oldest first.
///
/// Ids are registered in increasing order (the outbox takes them in write order), and Slack
/// answers in about that order, so the table is a queue: registering appends, the usual
/// reply takes the front, and a reply out of order is found by binary search and leaves a
/// gap (`None`) that is dropped once it reaches the front. No allocation per send, unlike a
/// tree node; the first entry is still always the next to expire.
#[derive(Default)]
pub(crate) struct Replies {
    slots: VecDeque<(u64, Option<ReplySlot>)>,
    /// Entries that are not gaps.
    live: usize,
}

impl Replies {
    pub(crate) fn insert(&mut self, id: u64, slot: ReplySlot) {
        match self.slots.back() {
            Some((last, _)) if *last >= id => {
                // Never happens (ids only grow); kept correct rather than assumed.
                let at = self.slots.partition_point(|(k, _)| *k < id);
                match self.slots.get_mut(at) {
                    Some((k, existing)) if *k == id => {
                        if existing.replace(slot).is_none() {
                            self.live += 1;
                        }
                    }
                    _ => {
                        self.slots.insert(at, (id, Some(slot)));
                        self.live += 1;
                    }
                }
                return;
            }
            _ => self.slots.push_back((id, Some(slot))),
        }
        self.live += 1;
    }

    /// Hands a reply to its sender; returns `false` when nobody waits for it any more.
    pub(crate) fn resolve(&mut self, reply: RawReply) -> bool {
        match self.take(reply.reply_to()) {
            Some(slot) => slot.send(Ok(reply)),
            None => false,
        }
    }

    fn take(&mut self, id: u64) -> Option<ReplySlot> {
        let at = match self.slots.front() {
            Some((first, _)) if *first == id => 0,
            _ => self.slots.binary_search_by_key(&id, |(k, _)| *k).ok()?,
        };
        let slot = self.slots.get_mut(at)?.1.take()?;
        self.live -= 1;
        self.trim();
        Some(slot)
    }

    /// Drops gaps from the front, so the front is always a live entry.
    fn trim(&mut self) {
        while let Some((_, None)) = self.slots.front() {
            self.slots.pop_front();
        }
        if self.slots.is_empty() && self.slots.capacity() > KEEP_CAPACITY {
            self.slots = VecDeque::new();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// When the oldest send runs out of time.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .front()
            .and_then(|(_, slot)| slot.as_ref())
            .map(|slot| slot.deadline)
    }

    /// Fails the sends whose deadline has passed with [`SendError::Timeout`].
    pub(crate) fn expire(&mut self, now: Instant, timeout: Duration) {
        while let Some((_, Some(slot))) = self.slots.front() {
            if slot.deadline > now {
                break;
            }
            if let Some((_, Some(slot))) = self.slots.pop_front() {
                self.live -= 1;
                slot.send(Err(SendError::Timeout(timeout)));
            }
            self.trim();
        }
    }

    /// Forgets senders that dropped their future.
    pub(crate) fn sweep(&mut self) {
        self.slots
            .retain(|(_, slot)| slot.as_ref().is_some_and(|slot| !slot.is_closed()));
        self.live = self.slots.len();
        self.trim();
    }

    /// Fails every waiting send: the connection that carried them is gone.
    pub(crate) fn fail_all(&mut self, error: &SendError) {
        self.live = 0;
        for slot in std::mem::take(&mut self.slots)
            .into_iter()
            .filter_map(|(_, slot)| slot)
        {
            slot.send(Err(error.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::Utf8Bytes;

    use super::*;
    use crate::event::{Frame, classify};

    fn reply(id: u64) -> RawReply {
        match classify(Utf8Bytes::from(format!(r#"{{"ok":true,"reply_to":{id}}}"#))) {
            Frame::Reply(reply) => reply,
            other => panic!("not a reply: {other:?}"),
        }
    }

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
        assert!(pending.resolve(reply(2)));
        assert_eq!(fb.await.unwrap().reply_to, 2);
        assert!(pending.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn replies_out_of_order_leave_gaps_that_never_hide_a_live_send() {
        let mut pending = Replies::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut futures: Vec<_> = (1..=5)
            .map(|id| {
                let (slot, future) = ReplySlot::new(deadline + Duration::from_millis(id));
                // Ids with holes, as probes and sends without replies take ids too.
                pending.insert(id * 2, slot);
                Some(future)
            })
            .collect();
        assert!(pending.resolve(reply(6)), "from the middle");
        assert!(!pending.resolve(reply(6)), "only once");
        assert!(!pending.resolve(reply(7)), "an id nobody waits for");
        assert!(pending.resolve(reply(2)), "the front");
        assert_eq!(
            pending.next_deadline(),
            Some(deadline + Duration::from_millis(2)),
            "the gap left by 6 is skipped: the next live send is 4"
        );
        assert!(!pending.is_empty());
        // Expiring takes 4 and 8 (due), skips the gap, and keeps 10.
        pending.expire(deadline + Duration::from_millis(4), Duration::from_secs(10));
        assert_eq!(pending.next_deadline(), Some(deadline + Duration::from_millis(5)));
        for (i, expect_timeout) in [(1, true), (3, true)] {
            let result = futures[i].take().unwrap().await;
            assert_eq!(matches!(result, Err(SendError::Timeout(_))), expect_timeout);
        }
        assert!(pending.resolve(reply(10)));
        assert!(pending.is_empty());
        assert_eq!(pending.next_deadline(), None);
        assert_eq!(futures[4].take().unwrap().await.unwrap().reply_to, 10);
        assert_eq!(futures[0].take().unwrap().await.unwrap().reply_to, 2);
        assert_eq!(futures[2].take().unwrap().await.unwrap().reply_to, 6);
    }
}
