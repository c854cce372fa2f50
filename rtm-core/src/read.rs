//! What readers get: a [`Batch`] of everything that was buffered, and the continuous
//! [`Events`] stream.

use std::{
    collections::{VecDeque, vec_deque},
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use futures::{Stream, stream::BoxStream};

use std::sync::Arc;

use crate::{Error, Event, connection::Shared};

/// Every event that was buffered when [`RtmClient::read`](crate::RtmClient::read) or [`RtmClient::try_read`](crate::RtmClient::try_read) was
/// called, oldest first.
///
/// Use it as a `Stream` (`while let Some(ev) = batch.next().await`, always ready) or as an
/// iterator (`for ev in batch`).
#[must_use = "a batch holds events taken from the client; dropping it discards them"]
#[derive(Default)]
pub struct Batch {
    events: VecDeque<Event>,
}

impl Batch {
    pub(crate) fn new(events: VecDeque<Event>) -> Self {
        Batch { events }
    }

    /// Number of events left in the batch.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the batch is empty (only [`RtmClient::try_read`](crate::RtmClient::try_read) returns empty batches).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Iterates over the events without consuming the batch.
    pub fn iter(&self) -> vec_deque::Iter<'_, Event> {
        self.events.iter()
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch").field("len", &self.events.len()).finish()
    }
}

impl Stream for Batch {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Event>> {
        Poll::Ready(self.events.pop_front())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.events.len(), Some(self.events.len()))
    }
}

impl IntoIterator for Batch {
    type Item = Event;
    type IntoIter = vec_deque::IntoIter<Event>;

    fn into_iter(self) -> Self::IntoIter {
        self.events.into_iter()
    }
}

impl<'a> IntoIterator for &'a Batch {
    type Item = &'a Event;
    type IntoIter = vec_deque::Iter<'a, Event>;

    fn into_iter(self) -> Self::IntoIter {
        self.events.iter()
    }
}

/// A continuous stream of events from [`RtmClient::events`](crate::RtmClient::events) or
/// [`SocketModeClient::events`](crate::SocketModeClient::events): yields each event in
/// order, ends (`None`) after the client's `disconnect`, and yields one `Err` and then ends
/// when the client stops for good (e.g. the token was revoked). The stream keeps the
/// connection open, like a client handle.
pub struct Events {
    inner: BoxStream<'static, Result<Event, Error>>,
}

/// What the stream holds: the connection's shared state, and the client's command
/// sender(s) so that the connection stays open while the stream is alive (like a client
/// handle).
struct Source {
    shared: Arc<Shared>,
    _keep_open: Box<dyn std::any::Any + Send + Sync>,
}

impl Events {
    pub(crate) fn new(shared: Arc<Shared>, keep_open: impl std::any::Any + Send + Sync) -> Self {
        let source = Source {
            shared,
            _keep_open: Box::new(keep_open),
        };
        let inner = futures::stream::unfold(Some((source, Batch::default())), |state| async move {
            let (source, mut batch) = state?;
            loop {
                if let Some(event) = batch.events.pop_front() {
                    return Some((Ok(event), Some((source, batch))));
                }
                match source.shared.read().await {
                    Ok(Some(next)) => batch = next,
                    Ok(None) => return None,
                    Err(e) => return Some((Err(e), None)),
                }
            }
        });
        Events {
            inner: Box::pin(inner),
        }
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Stream for Events {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
