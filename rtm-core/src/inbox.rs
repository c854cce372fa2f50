//! The bounded buffer between the connection task and the application's readers.
//!
//! The connection task pushes events; readers take *everything* buffered in one go. When the
//! buffer is full the task stops reading the socket (backpressure reaches Slack through TCP)
//! instead of dropping events or growing without bound. When the client ends, readers first
//! drain what is left, then see the end (a clean close or the fatal error).

use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::sync::Notify;

use crate::{Error, Event};

pub(crate) struct Inbox {
    state: Mutex<State>,
    /// Wakes readers when events arrive or the client ends.
    readable: Notify,
    /// Wakes the connection task when a reader made room.
    writable: Notify,
    /// Set while the reader cannot read on until some reply arrives (the dispatcher waiting
    /// for handlers that await replies); the connection task then reads past the limit.
    reader_blocked: AtomicBool,
    /// Wakes the connection task when `reader_blocked` is set.
    blocked: Notify,
    limit: usize,
}

struct State {
    events: VecDeque<Event>,
    /// Set once, when the client stops for good: `Ok` for a requested close.
    end: Option<Result<(), Error>>,
}

/// What a reader gets.
pub(crate) enum Take {
    Events(VecDeque<Event>),
    Empty,
    Ended(Result<(), Error>),
}

impl Inbox {
    pub(crate) fn new(limit: usize) -> Self {
        Inbox {
            state: Mutex::new(State {
                events: VecDeque::new(),
                end: None,
            }),
            readable: Notify::new(),
            writable: Notify::new(),
            reader_blocked: AtomicBool::new(false),
            blocked: Notify::new(),
            limit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue inconsistent (every critical
        // section is a single push or swap), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds one event and wakes readers if it is the first; returns whether the buffer is now
    /// full.
    #[cfg(test)]
    pub(crate) fn push(&self, event: Event) -> bool {
        let pushed = self.push_quiet(event);
        if pushed.was_empty {
            self.wake_readers();
        }
        pushed.full
    }

    /// Adds one event without waking readers. Readers sleep only on an empty buffer, so the
    /// caller owes them [`Inbox::wake_readers`] when [`Pushed::was_empty`] is set; a
    /// connection task handling a burst pays it once, at the burst's end.
    pub(crate) fn push_quiet(&self, event: Event) -> Pushed {
        let mut state = self.lock();
        state.events.push_back(event);
        Pushed {
            was_empty: state.events.len() == 1,
            full: state.events.len() >= self.limit,
        }
    }

    /// Wakes every waiting reader.
    pub(crate) fn wake_readers(&self) {
        self.readable.notify_waiters();
    }

    /// Adds several events at once: a reader sees all of them or none.
    pub(crate) fn extend(&self, events: impl IntoIterator<Item = Event>) {
        let was_empty = {
            let mut state = self.lock();
            let was_empty = state.events.is_empty();
            state.events.extend(events);
            was_empty && !state.events.is_empty()
        };
        if was_empty {
            self.readable.notify_waiters();
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.lock().events.len() >= self.limit
    }

    /// Waits until a reader has made room.
    pub(crate) async fn wait_writable(&self) {
        loop {
            let notified = self.writable.notified();
            if !self.is_full() {
                return;
            }
            notified.await;
        }
    }

    /// Marks the reader as blocked until the returned guard is dropped.
    pub(crate) fn reader_blocked(&self) -> BlockedGuard<'_> {
        self.reader_blocked.store(true, Ordering::Release);
        // Every connection task feeding this inbox may be waiting (Socket Mode has several).
        self.blocked.notify_waiters();
        BlockedGuard(self)
    }

    /// Waits until the reader says it is blocked.
    pub(crate) async fn wait_reader_blocked(&self) {
        loop {
            let notified = self.blocked.notified();
            if self.reader_blocked.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Ends the stream for readers once they have drained the buffer.
    pub(crate) fn end(&self, result: Result<(), Error>) {
        {
            let mut state = self.lock();
            if state.end.is_none() {
                state.end = Some(result);
            }
        }
        self.readable.notify_waiters();
    }

    /// Takes everything buffered, without waiting.
    pub(crate) fn try_take(&self) -> Take {
        let take = {
            let mut state = self.lock();
            if !state.events.is_empty() {
                Take::Events(std::mem::take(&mut state.events))
            } else if let Some(end) = &state.end {
                Take::Ended(end.clone())
            } else {
                Take::Empty
            }
        };
        if matches!(take, Take::Events(_)) {
            // Wakes every paused connection task: with one woken, another could stay paused
            // with room free and its socket's events unread.
            self.writable.notify_waiters();
        }
        take
    }

    /// Takes everything buffered, waiting (without spinning) until there is something.
    ///
    /// Cancel safe: nothing is taken unless the future completes.
    pub(crate) async fn take(&self) -> Result<Option<VecDeque<Event>>, Error> {
        loop {
            let notified = self.readable.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_take() {
                Take::Events(events) => return Ok(Some(events)),
                Take::Ended(Ok(())) => return Ok(None),
                Take::Ended(Err(e)) => return Err(e),
                Take::Empty => notified.await,
            }
        }
    }
}

/// What [`Inbox::push_quiet`] did.
pub(crate) struct Pushed {
    /// The buffer was empty: readers may be asleep and must be woken.
    pub(crate) was_empty: bool,
    /// The buffer is now full.
    pub(crate) full: bool,
}

/// Clears the reader's "blocked" mark when dropped.
pub(crate) struct BlockedGuard<'a>(&'a Inbox);

impl Drop for BlockedGuard<'_> {
    fn drop(&mut self) {
        self.0.reader_blocked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: usize) -> Event {
        Event::from_json(format!(r#"{{"type":"message","n":{i}}}"#)).unwrap()
    }

    #[tokio::test]
    async fn take_drains_everything_in_order_then_reports_end() {
        let inbox = Inbox::new(100);
        for i in 0..10 {
            inbox.push(ev(i));
        }
        inbox.end(Err(Error::Slack {
            code: "token_revoked".into(),
        }));
        let batch = inbox.take().await.unwrap().unwrap();
        let ns: Vec<u64> = batch
            .iter()
            .map(|e| e.parse::<serde_json::Value>().unwrap()["n"].as_u64().unwrap())
            .collect();
        assert_eq!(ns, (0..10).collect::<Vec<_>>());
        assert_eq!(
            inbox.take().await.unwrap_err().slack_code(),
            Some("token_revoked")
        );
    }

    #[tokio::test]
    async fn full_buffer_blocks_writer_until_reader_drains() {
        let inbox = std::sync::Arc::new(Inbox::new(2));
        assert!(!inbox.push(ev(0)));
        assert!(inbox.push(ev(1)));
        let waiter = tokio::spawn({
            let inbox = inbox.clone();
            async move { inbox.wait_writable().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        assert!(matches!(inbox.try_take(), Take::Events(e) if e.len() == 2));
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    /// Two connection tasks (two Socket Mode sockets) buffering bursts at once, each paying
    /// its owed wake-up at its own burst's end: the reader is never left asleep on a
    /// non-empty buffer, however the bursts interleave.
    #[tokio::test(flavor = "multi_thread", worker_threads = 3)]
    async fn interleaved_bursts_from_two_writers_never_strand_the_reader() {
        const EVENTS: usize = 20_000;
        let inbox = std::sync::Arc::new(Inbox::new(usize::MAX));
        let writer = |inbox: std::sync::Arc<Inbox>| async move {
            let mut owed = false;
            for i in 0..EVENTS {
                owed |= inbox.push_quiet(ev(i)).was_empty;
                if i % 7 == 6 {
                    if std::mem::take(&mut owed) {
                        inbox.wake_readers();
                    }
                    tokio::task::yield_now().await;
                }
            }
            if owed {
                inbox.wake_readers();
            }
        };
        let a = tokio::spawn(writer(inbox.clone()));
        let b = tokio::spawn(writer(inbox.clone()));
        let reader = tokio::spawn({
            let inbox = inbox.clone();
            async move {
                let mut seen = 0;
                while seen < 2 * EVENTS {
                    seen += inbox.take().await.unwrap().unwrap().len();
                }
                seen
            }
        });
        a.await.unwrap();
        b.await.unwrap();
        let seen = tokio::time::timeout(std::time::Duration::from_secs(10), reader)
            .await
            .expect("the reader was left asleep with events buffered")
            .unwrap();
        assert_eq!(seen, 2 * EVENTS);
    }

    #[tokio::test]
    async fn reader_wakes_when_event_arrives() {
        let inbox = std::sync::Arc::new(Inbox::new(10));
        let reader = tokio::spawn({
            let inbox = inbox.clone();
            async move { inbox.take().await.unwrap().unwrap().len() }
        });
        tokio::task::yield_now().await;
        inbox.push(ev(1));
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1);
    }
}
