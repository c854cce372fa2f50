//! What the connection will write, in order: keepalive probes first, then the application's
//! sends in call order (at the opt-in send pace). A send gets its id, and its reply slot is
//! registered, only when the socket takes it, so a send that never reached a socket is known
//! never to have been sent.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{
    held_acks::{AckWith, Answer, HeldAcks},
    pace::Pace,
    replies::Replies,
};
use crate::{Envelope, SendError, outgoing::Outgoing, reply::ReplySlot};

/// One send from a handle: the frame, and where its reply goes (`None` for frames Slack does
/// not answer, such as `typing`).
pub(crate) struct Send {
    pub(crate) frame: Outgoing,
    pub(crate) reply: Option<ReplySlot>,
}

/// Where the socket writer takes its next frame from.
pub(crate) trait FrameSource {
    /// Whether a frame may be waiting.
    fn has_frames(&self) -> bool;
    /// The next frame to write, now committed to the socket; `None` when nothing is left.
    fn next_frame(&mut self) -> Option<Message>;
}

/// A source with nothing to write (a retiring socket takes no new frames).
pub(crate) struct Nothing;

impl FrameSource for Nothing {
    fn has_frames(&self) -> bool {
        false
    }

    fn next_frame(&mut self) -> Option<Message> {
        None
    }
}

/// Only the acknowledgements: what a retiring socket still writes.
pub(crate) struct AcksOnly<'a>(pub(crate) &'a mut Outbox);

impl FrameSource for AcksOnly<'_> {
    fn has_frames(&self) -> bool {
        !self.0.acks.is_empty()
    }

    fn next_frame(&mut self) -> Option<Message> {
        self.0.acks.pop_front()
    }
}

pub(crate) struct Outbox {
    /// Acknowledgements of received envelopes (Socket Mode), written before anything else.
    /// Unlike probes they outlive their socket: an envelope received on a socket that is
    /// lost or replaced is acknowledged on the next one.
    acks: VecDeque<Message>,
    /// Acks held back for an answer until their response budget runs out (Socket Mode).
    /// Like `acks`, they outlive their socket.
    held: HeldAcks,
    /// Keepalive probes, written before any send.
    control: VecDeque<Message>,
    sends: VecDeque<Send>,
    /// Sends written and awaiting their reply.
    pub(crate) replies: Replies,
    /// Ids are unique for the client's lifetime, so a late reply from an old connection can
    /// never be mistaken for the reply to a new frame.
    next_id: u64,
    reply_timeout: Duration,
    /// The opt-in send pace; keepalive probes are never paced.
    pace: Option<Pace>,
}

impl Outbox {
    pub(crate) fn new(reply_timeout: Duration, pace: Option<(Duration, u32)>) -> Self {
        Outbox {
            acks: VecDeque::new(),
            held: HeldAcks::default(),
            control: VecDeque::new(),
            sends: VecDeque::new(),
            replies: Replies::default(),
            next_id: 1,
            reply_timeout,
            pace: pace.map(|(interval, burst)| Pace::new(interval, burst)),
        }
    }

    /// When the pace lets the next queued send go, if it holds one back.
    fn paced_until(&self, now: Instant) -> Option<Instant> {
        let pace = self.pace.as_ref()?;
        if self.sends.is_empty() {
            return None;
        }
        Some(pace.next_allowed(now)).filter(|at| *at > now)
    }

    pub(crate) fn push(&mut self, send: Send) {
        self.sends.push_back(send);
    }

    /// Sends not written yet.
    pub(crate) fn queued(&self) -> usize {
        self.sends.len()
    }

    /// Queues a probe built by `ping` with a fresh id (one the reply table never holds, so
    /// its pong is recognised as the keepalive's).
    pub(crate) fn push_probe(&mut self, ping: impl FnOnce(u64) -> Message) {
        let id = self.take_id();
        self.control.push_back(ping(id));
    }

    /// Queues an acknowledgement, to be written before any probe or send.
    pub(crate) fn push_ack(&mut self, ack: Message) {
        self.acks.push_back(ack);
    }

    /// Holds `empty_ack` back until `deadline` for an answer to `envelope`; sent at the
    /// deadline or on close only when `ack_unanswered`.
    pub(crate) fn hold_ack(
        &mut self,
        envelope: Arc<Envelope>,
        empty_ack: Message,
        ack_unanswered: bool,
        deadline: Instant,
    ) {
        self.held.hold(envelope, empty_ack, ack_unanswered, deadline);
    }

    /// The application's answer to a held ack; the ack is queued before any other frame.
    pub(crate) fn answer(&mut self, envelope_id: &str, with: AckWith) -> Answer {
        let (answer, frame) = self.held.answer(envelope_id, with);
        self.acks.extend(frame);
        answer
    }

    /// Queues every held ack now, empty (the connection is closing).
    pub(crate) fn release_held(&mut self) {
        self.held.release_all(|ack| self.acks.push_back(ack));
    }

    /// Keepalive probes are per socket: a new socket starts without the old one's.
    pub(crate) fn drop_probes(&mut self) {
        self.control.clear();
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// When something is due: a held ack's budget runs out, a reply or queued send runs out
    /// of time, or the pace lets the next send go. `connected`: whether a socket could take the queued sends.
    pub(crate) fn next_deadline(&self, connected: bool) -> Option<Instant> {
        let queued = if connected && self.pace.is_some() {
            self.paced_until(Instant::now())
        } else {
            self.sends
                .iter()
                .find_map(|send| send.reply.as_ref().map(|slot| slot.deadline))
        };
        [self.held.next_deadline(), self.replies.next_deadline(), queued]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fails what ran out of time: written sends with [`SendError::Timeout`], queued ones
    /// (never written, never to be) with [`SendError::NotSent`]. While `connected` with a send
    /// pace, queued sends are only waiting their turn and keep waiting.
    /// Held acks whose budget ran out are queued, empty.
    pub(crate) fn expire(&mut self, now: Instant, connected: bool) {
        self.held.expire(now, |ack| self.acks.push_back(ack));
        self.replies.expire(now, self.reply_timeout);
        if connected && self.pace.is_some() {
            return;
        }
        if self
            .sends
            .iter()
            .any(|send| send.reply.as_ref().is_some_and(|slot| slot.deadline <= now))
        {
            let timeout = self.reply_timeout;
            self.sends.retain_mut(|send| match send.reply.take() {
                Some(slot) if slot.deadline <= now => {
                    slot.send(Err(SendError::NotSent(timeout)));
                    false
                }
                reply => {
                    send.reply = reply;
                    true
                }
            });
        }
    }

    /// Fails every send not written yet with `error` (the client is stopping).
    pub(crate) fn fail_queued(&mut self, error: &SendError) {
        for send in self.sends.drain(..) {
            if let Some(slot) = send.reply {
                slot.send(Err(error.clone()));
            }
        }
        self.control.clear();
        self.acks.clear();
        self.held.clear();
    }
}

impl FrameSource for Outbox {
    fn has_frames(&self) -> bool {
        !self.acks.is_empty()
            || !self.control.is_empty()
            || (!self.sends.is_empty() && self.paced_until(Instant::now()).is_none())
    }

    fn next_frame(&mut self) -> Option<Message> {
        if let Some(ack) = self.acks.pop_front() {
            return Some(ack);
        }
        if let Some(probe) = self.control.pop_front() {
            return Some(probe);
        }
        let now = Instant::now();
        if self.paced_until(now).is_some() {
            return None;
        }
        while let Some(Send { frame, reply }) = self.sends.pop_front() {
            match reply {
                Some(slot) if slot.deadline <= now && self.pace.is_none() => {
                    slot.send(Err(SendError::NotSent(self.reply_timeout)));
                }
                Some(mut slot) => {
                    if let Some(pace) = &mut self.pace {
                        pace.reserve(now);
                        // Paced: the reply timeout counts from the write.
                        slot.deadline = now + self.reply_timeout;
                    }
                    let id = self.take_id();
                    self.replies.insert(id, slot);
                    return Some(Message::Text(frame.with_id(id)));
                }
                None => {
                    if let Some(pace) = &mut self.pace {
                        pace.reserve(now);
                    }
                    let id = self.take_id();
                    return Some(Message::Text(frame.with_id(id)));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(deadline: Instant) -> (Send, crate::ReplyFuture) {
        let (slot, future) = ReplySlot::new(deadline);
        let frame = Outgoing::new(&serde_json::json!({"type": "message", "text": "hi"}), 64).unwrap();
        (
            Send {
                frame,
                reply: Some(slot),
            },
            future,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn probes_go_first_and_ids_follow_write_order() {
        let timeout = Duration::from_secs(10);
        let mut outbox = Outbox::new(timeout, None);
        let (a, _fa) = send(Instant::now() + timeout);
        outbox.push(a);
        outbox.push_probe(|id| Message::text(format!(r#"{{"id":{id},"type":"ping"}}"#)));
        let Some(Message::Text(first)) = outbox.next_frame() else {
            panic!()
        };
        assert!(
            first.contains(r#""type":"ping""#) && first.contains(r#""id":1"#),
            "{first}"
        );
        let Some(Message::Text(second)) = outbox.next_frame() else {
            panic!()
        };
        assert!(second.contains(r#""id":2"#), "{second}");
        assert!(outbox.next_frame().is_none());
        assert!(!outbox.replies.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn acks_go_before_probes_and_sends_and_outlive_the_socket() {
        let timeout = Duration::from_secs(10);
        let mut outbox = Outbox::new(timeout, None);
        let (a, _fa) = send(Instant::now() + timeout);
        outbox.push(a);
        outbox.push_probe(|id| Message::text(format!(r#"{{"id":{id},"type":"ping"}}"#)));
        outbox.push_ack(Message::text(r#"{"envelope_id":"e1"}"#));
        outbox.push_ack(Message::text(r#"{"envelope_id":"e2"}"#));
        outbox.drop_probes();
        {
            let mut retiring = AcksOnly(&mut outbox);
            assert!(retiring.has_frames());
            assert_eq!(
                retiring.next_frame(),
                Some(Message::text(r#"{"envelope_id":"e1"}"#))
            );
        }
        assert_eq!(
            outbox.next_frame(),
            Some(Message::text(r#"{"envelope_id":"e2"}"#))
        );
        let Some(Message::Text(next)) = outbox.next_frame() else {
            panic!()
        };
        assert!(
            next.contains(r#""type":"message""#),
            "the probe went with its socket: {next}"
        );
        assert!(!AcksOnly(&mut outbox).has_frames());
    }

    #[tokio::test(start_paused = true)]
    async fn queued_sends_that_time_out_were_never_sent_and_written_ones_may_have_been() {
        let timeout = Duration::from_secs(10);
        let mut outbox = Outbox::new(timeout, None);
        let t0 = Instant::now();
        let (written, written_reply) = send(t0 + timeout);
        outbox.push(written);
        assert!(outbox.next_frame().is_some());
        let (queued, queued_reply) = send(t0 + timeout + Duration::from_millis(1));
        outbox.push(queued);
        assert_eq!(outbox.next_deadline(true), Some(t0 + timeout));
        outbox.expire(t0 + timeout, true);
        assert!(matches!(written_reply.await, Err(SendError::Timeout(_))));
        assert_eq!(outbox.queued(), 1, "not due yet");
        outbox.expire(t0 + timeout + Duration::from_millis(1), true);
        let error = queued_reply.await.unwrap_err();
        assert!(
            matches!(error, SendError::NotSent(_)) && error.was_not_sent(),
            "{error}"
        );
        assert_eq!(outbox.queued(), 0);
    }
}
