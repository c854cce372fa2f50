//! The socket as the session sees it: reads and writes driven from one poll, so that a write
//! the peer does not take (its receive window is full) never stops the session from reading,
//! timing out replies or noticing that the peer is dead.
//!
//! Frames are taken from a [`FrameSource`] only when the socket can take them, so a frame
//! still in the source never reached the peer; [`Wire::stuck_since`] tells keepalive how long
//! a write has been waiting.

use std::task::{Context, Poll};

use futures::{SinkExt, StreamExt, task::noop_waker_ref};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::{dial::WsSocket, outbox::FrameSource};

/// What the socket did.
pub(crate) enum Io {
    /// A frame arrived, or the stream ended (`None`) or failed.
    Inbound(Option<Result<Message, WsError>>),
    /// Writing failed: the connection is gone.
    WriteFailed(WsError),
}

pub(crate) struct Wire<S> {
    socket: S,
    /// Frames handed to the socket since the last completed flush.
    unflushed: bool,
    /// When the oldest write still waiting started to wait.
    stuck_since: Option<Instant>,
}

impl<S: WsSocket> Wire<S> {
    pub(crate) fn new(socket: S) -> Self {
        Wire {
            socket,
            unflushed: false,
            stuck_since: None,
        }
    }

    /// Whether everything handed to the socket has been flushed.
    pub(crate) fn is_idle(&self) -> bool {
        !self.unflushed
    }

    /// Since when a write has been waiting for the peer to take it, if one is.
    pub(crate) fn stuck_since(&self) -> Option<Instant> {
        self.stuck_since
    }

    /// Writes frames from `source` as far as the socket takes them, then reports the next
    /// read (only when `reading`). Pending while nothing happened.
    pub(crate) fn poll_io(
        &mut self,
        cx: &mut Context<'_>,
        reading: bool,
        source: &mut impl FrameSource,
    ) -> Poll<Io> {
        if let Err(e) = self.poll_write(cx, source) {
            return Poll::Ready(Io::WriteFailed(e));
        }
        if reading && let Poll::Ready(frame) = self.socket.poll_next_unpin(cx) {
            return Poll::Ready(Io::Inbound(frame));
        }
        Poll::Pending
    }

    /// A frame that has already arrived, without waiting (for batching a burst).
    pub(crate) fn next_ready(&mut self) -> Option<Option<Result<Message, WsError>>> {
        // A noop waker is fine: the session polls the socket again with its own waker
        // (through `poll_io`) before it sleeps.
        let mut cx = Context::from_waker(noop_waker_ref());
        match self.socket.poll_next_unpin(&mut cx) {
            Poll::Ready(frame) => Some(frame),
            Poll::Pending => None,
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, source: &mut impl FrameSource) -> Result<(), WsError> {
        while source.has_frames() {
            match self.socket.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {
                    self.stuck_since.get_or_insert_with(Instant::now);
                    return Ok(());
                }
            }
            match source.next_frame() {
                Some(message) => {
                    self.socket.start_send_unpin(message)?;
                    self.unflushed = true;
                }
                None => break,
            }
        }
        if self.unflushed {
            match self.socket.poll_flush_unpin(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {
                    self.stuck_since.get_or_insert_with(Instant::now);
                    return Ok(());
                }
            }
        }
        self.stuck_since = None;
        Ok(())
    }

    /// Lets the connection go without waiting on the peer: a detached task sends a close
    /// frame and gives the peer `grace` to answer before dropping the socket. Nothing it reads
    /// is delivered any more.
    pub(crate) fn close_detached(mut self, grace: std::time::Duration) {
        tokio::spawn(async move {
            let _ = tokio::time::timeout(grace, async {
                let _ = self.socket.close().await;
                while let Some(Ok(_)) = self.socket.next().await {}
            })
            .await;
        });
    }

    /// The socket itself, for a bounded clean close.
    pub(crate) fn into_socket(self) -> S {
        self.socket
    }
}
