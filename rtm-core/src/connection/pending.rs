//! Sends waiting for their reply, by id.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::{SendError, reply::ReplySlot};

#[derive(Default)]
pub(crate) struct Pending {
    slots: HashMap<u64, ReplySlot, BuildHasherDefault<IdHasher>>,
}

/// Ids are sequential numbers we chose ourselves, so nobody can pick colliding keys and
/// SipHash's protection is wasted: one multiplication (Fibonacci hashing) spreads them over
/// the high bits the table uses.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
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
