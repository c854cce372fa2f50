//! A TCP stream wrapper that lets the emulator stall or cut one websocket from outside its
//! tasks: [`Gate::abort`] fails every read and write at once (an abrupt drop), and the
//! emulator-wide silence flag holds every write, including the pongs tungstenite queues by
//! itself, while reads go on (so closes and oversized frames are still seen). The
//! emulator-wide "stop reading" flag holds every read while writes go on: the client's frames
//! pile up in TCP buffers until its writes block, as with a peer that stopped reading.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The switches of one socket, shared between its stream and the emulator.
#[derive(Debug)]
pub(super) struct Gate {
    aborted: AtomicBool,
    silent: Arc<AtomicBool>,
    reading_stopped: Arc<AtomicBool>,
    read_waker: AtomicWaker,
    write_waker: AtomicWaker,
}

impl Gate {
    /// A gate that follows the emulator-wide `silent` and `reading_stopped` flags.
    pub(super) fn new(silent: Arc<AtomicBool>, reading_stopped: Arc<AtomicBool>) -> Self {
        Self {
            aborted: AtomicBool::new(false),
            silent,
            reading_stopped,
            read_waker: AtomicWaker::new(),
            write_waker: AtomicWaker::new(),
        }
    }

    /// Fails all further IO on the socket, waking whoever waits on it.
    pub(super) fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        self.read_waker.wake();
        self.write_waker.wake();
    }

    /// Wakes a writer held by silence; call after clearing the silence flag.
    pub(super) fn wake_writer(&self) {
        self.write_waker.wake();
    }

    /// Wakes a reader held by "stop reading"; call after clearing the flag.
    pub(super) fn wake_reader(&self) {
        self.read_waker.wake();
    }

    fn aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    fn silent(&self) -> bool {
        self.silent.load(Ordering::SeqCst)
    }

    /// `Some` when a write must not reach the socket now.
    fn hold_write(&self, cx: &Context<'_>) -> Option<Poll<io::Error>> {
        self.write_waker.register(cx.waker());
        if self.aborted() {
            Some(Poll::Ready(aborted_error()))
        } else if self.silent() {
            Some(Poll::Pending)
        } else {
            None
        }
    }
}

fn aborted_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "dropped by the emulator")
}

/// A [`TcpStream`] behind a [`Gate`].
#[derive(Debug)]
pub(super) struct GatedStream {
    inner: TcpStream,
    gate: Arc<Gate>,
}

impl GatedStream {
    pub(super) fn new(inner: TcpStream, gate: Arc<Gate>) -> Self {
        Self { inner, gate }
    }
}

impl AsyncRead for GatedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.gate.read_waker.register(cx.waker());
        if this.gate.aborted() {
            return Poll::Ready(Err(aborted_error()));
        }
        if this.gate.reading_stopped.load(Ordering::SeqCst) {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(held) = this.gate.hold_write(cx) {
            return held.map(Err);
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(held) = this.gate.hold_write(cx) {
            return held.map(Err);
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.gate.aborted() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
