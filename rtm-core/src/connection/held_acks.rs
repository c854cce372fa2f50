//! Acks held back for an answer (Socket Mode envelopes with `accepts_response_payload`).
//!
//! An envelope that takes a response payload is acknowledged when the application answers
//! ([`HeldAcks::answer`]) or, failing that, with an empty ack when its response budget runs
//! out ([`HeldAcks::expire`]). The connection task owns this table and polls its deadline with
//! its one wake timer, so an ack goes out on time whatever the reader or handlers do.
//!
//! Every envelope gets the same budget, so deadlines come in arrival order: the front of the
//! queue is always the next one due. Answered entries leave the table at once and their queue
//! entry is skipped when it comes up. Each entry shares the event's [`Envelope`] (no copy of
//! its id), and marks it when its ack is queued.

use std::{
    borrow::Borrow,
    collections::{HashMap, VecDeque},
    hash::{Hash, Hasher},
    sync::Arc,
};

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::Envelope;

/// What became of an answer (the reply to [`super::Command::Answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The ack was still held: it is queued, with the answer, before any other frame.
    Sent,
    /// The ack was still held, but the answer was too large for it: it stays held.
    StillHeld,
    /// No ack is held for this envelope: it went already (budget, an earlier answer) or was
    /// never held.
    NotHeld,
}

/// What the application puts in a held ack.
#[derive(Debug)]
pub(crate) enum AckWith {
    /// This ack frame, carrying the answer.
    Answer(Message),
    /// Nothing: send the empty ack now.
    Nothing,
    /// An answer too large for an ack: send nothing, only say whether the ack is held.
    TooLarge,
}

/// An envelope keyed by its id.
struct Key(Arc<Envelope>);

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.0.id()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

impl Eq for Key {}

#[derive(Default)]
pub(crate) struct HeldAcks {
    /// Envelope → the empty ack, and whether it goes out unanswered (at its deadline or on
    /// close) or not at all (manual acks: Slack then redelivers).
    held: HashMap<Key, (Message, bool)>,
    /// Deadlines in arrival order (same budget for all, so also in deadline order).
    order: VecDeque<(Instant, Arc<Envelope>)>,
}

impl HeldAcks {
    /// Holds `empty_ack` for `envelope` until `deadline`. An id already held keeps its first
    /// deadline (a repeated delivery does not extend the budget).
    pub(crate) fn hold(
        &mut self,
        envelope: Arc<Envelope>,
        empty_ack: Message,
        ack_unanswered: bool,
        deadline: Instant,
    ) {
        if self.held.contains_key(envelope.id()) {
            envelope.ack_queued(false);
            return;
        }
        self.held
            .insert(Key(envelope.clone()), (empty_ack, ack_unanswered));
        self.order.push_back((deadline, envelope));
    }

    /// The application's answer for `envelope_id`. Returns what became of it and the frame
    /// to write, if any.
    pub(crate) fn answer(&mut self, envelope_id: &str, with: AckWith) -> (Answer, Option<Message>) {
        if !self.held.contains_key(envelope_id) {
            return (Answer::NotHeld, None);
        }
        let answer = match with {
            AckWith::TooLarge => return (Answer::StillHeld, None),
            AckWith::Answer(ack) => Some(ack),
            AckWith::Nothing => None,
        };
        let Some((Key(envelope), (empty, _))) = self.held.remove_entry(envelope_id) else {
            return (Answer::NotHeld, None);
        };
        envelope.ack_queued(answer.is_some());
        self.skip_answered();
        (Answer::Sent, Some(answer.unwrap_or(empty)))
    }

    /// When the next held ack is due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.order.front().map(|(at, _)| *at)
    }

    /// Hands every ack due at `now` to `send`, empty.
    pub(crate) fn expire(&mut self, now: Instant, mut send: impl FnMut(Message)) {
        while let Some((at, _)) = self.order.front()
            && *at <= now
        {
            if let Some((_, envelope)) = self.order.pop_front() {
                self.release(&envelope, &mut send);
            }
        }
        self.skip_answered();
    }

    /// Hands every held ack to `send` now, empty (the connection is closing).
    pub(crate) fn release_all(&mut self, mut send: impl FnMut(Message)) {
        while let Some((_, envelope)) = self.order.pop_front() {
            self.release(&envelope, &mut send);
        }
    }

    /// Forgets every held ack (the client stopped: no socket will ever carry them).
    pub(crate) fn clear(&mut self) {
        self.held.clear();
        self.order.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    /// Sends `envelope`'s empty ack if this very envelope is still held.
    fn release(&mut self, envelope: &Arc<Envelope>, send: &mut impl FnMut(Message)) {
        if self.is_held(envelope)
            && let Some((Key(envelope), (ack, ack_unanswered))) = self.held.remove_entry(envelope.id())
        {
            envelope.ack_queued(false);
            if ack_unanswered {
                send(ack);
            }
        }
    }

    fn is_held(&self, envelope: &Arc<Envelope>) -> bool {
        self.held
            .get_key_value(envelope.id())
            .is_some_and(|(key, _)| Arc::ptr_eq(&key.0, envelope))
    }

    /// Drops answered entries from the front, so the next deadline is a live one.
    fn skip_answered(&mut self) {
        while let Some((_, envelope)) = self.order.front()
            && !self.is_held(envelope)
        {
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::EnvelopeKind;

    fn held(id: &str) -> Arc<Envelope> {
        let mut envelope = Envelope::new(id.into(), EnvelopeKind::SlashCommands, 0, "", true);
        let (commands, _) = tokio::sync::mpsc::unbounded_channel();
        envelope.hold(super::super::AckRoute::new(&commands));
        Arc::new(envelope)
    }

    fn ack(id: &str) -> Message {
        Message::text(format!(r#"{{"envelope_id":"{id}"}}"#))
    }

    #[tokio::test(start_paused = true)]
    async fn held_acks_go_empty_at_their_deadline_unless_answered_first() {
        let t0 = Instant::now();
        let budget = Duration::from_secs(2);
        let mut table = HeldAcks::default();
        let (a, b, c) = (held("a"), held("b"), held("c"));
        table.hold(a.clone(), ack("a"), true, t0 + budget);
        table.hold(b.clone(), ack("b"), true, t0 + budget + Duration::from_millis(10));
        table.hold(c.clone(), ack("c"), true, t0 + budget + Duration::from_millis(20));
        assert!(a.ack_held());
        // An answer too large for the ack leaves it held.
        assert_eq!(table.answer("a", AckWith::TooLarge), (Answer::StillHeld, None));
        assert!(a.ack_held());
        let answered = Message::text(r#"{"envelope_id":"a","payload":{"text":"ok"}}"#);
        assert_eq!(
            table.answer("a", AckWith::Answer(answered.clone())),
            (Answer::Sent, Some(answered))
        );
        assert!(a.answered_in_ack() && !a.ack_held());
        assert_eq!(table.answer("a", AckWith::Nothing), (Answer::NotHeld, None));
        assert_eq!(
            table.next_deadline(),
            Some(t0 + budget + Duration::from_millis(10))
        );
        let mut sent = Vec::new();
        table.expire(t0 + budget + Duration::from_millis(9), |m| sent.push(m));
        assert!(sent.is_empty());
        table.expire(t0 + budget + Duration::from_millis(10), |m| sent.push(m));
        assert_eq!(sent, [ack("b")]);
        assert!(!b.ack_held() && !b.answered_in_ack());
        assert_eq!(table.answer("b", AckWith::Nothing).0, Answer::NotHeld);
        // Released early, empty, and not counted as answered.
        assert_eq!(
            table.answer("c", AckWith::Nothing),
            (Answer::Sent, Some(ack("c")))
        );
        assert!(!c.ack_held() && !c.answered_in_ack());
        table.hold(held("d"), ack("d"), true, t0 + budget * 2);
        table.release_all(|m| sent.push(m));
        assert_eq!(sent, [ack("b"), ack("d")]);
        assert_eq!((table.len(), table.next_deadline()), (0, None));
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_delivery_keeps_the_first_deadline() {
        let t0 = Instant::now();
        let mut table = HeldAcks::default();
        let (first, again) = (held("a"), held("a"));
        table.hold(first, ack("a"), true, t0);
        table.hold(again.clone(), ack("a"), true, t0 + Duration::from_secs(5));
        assert!(!again.ack_held(), "the repeat is not held");
        assert_eq!(table.next_deadline(), Some(t0));
        let mut sent = Vec::new();
        table.expire(t0, |m| sent.push(m));
        assert_eq!(sent.len(), 1);
        assert_eq!(table.next_deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_manual_ack_goes_only_when_the_application_acks() {
        let t0 = Instant::now();
        let mut table = HeldAcks::default();
        let (late, closing, acked) = (held("late"), held("closing"), held("acked"));
        table.hold(late, ack("late"), false, t0);
        table.hold(closing, ack("closing"), false, t0 + Duration::from_secs(1));
        table.hold(acked, ack("acked"), false, t0 + Duration::from_secs(1));
        let mut sent = Vec::new();
        table.expire(t0, |m| sent.push(m));
        assert!(
            sent.is_empty(),
            "an unanswered manual ack is never sent: Slack redelivers"
        );
        assert_eq!(
            table.answer("acked", AckWith::Nothing),
            (Answer::Sent, Some(ack("acked")))
        );
        table.release_all(|m| sent.push(m));
        assert!(
            sent.is_empty(),
            "closing does not acknowledge what the application did not"
        );
        assert_eq!(table.len(), 0);
    }
}
