//! One websocket session (protocol §4): check the ticket, send `hello`, answer client frames
//! in order, deliver pushes, and close as scripted.
//!
//! Each session has two tasks. The reader (the connection's own task) parses client frames
//! and queues replies; the writer owns the sink and is fed by an unbounded channel, so a push
//! from a test is synchronous and never blocks. Pushes and replies share that channel, which
//! keeps their order. tungstenite answers websocket pings itself while the reader reads.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{Instrument, Span, debug};

use super::frames::{self, MessageEvent};
use super::gate::{Gate, GatedStream};
use super::inbound::{self, Answer, Post};
use super::state::{Shared, lock};
use super::workspace::{Post as Posted, PostVia};

/// How long a closing session waits for its peer before cutting the TCP connection.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How many queued frames the writer takes before flushing.
const WRITE_BATCH: usize = 256;

type Ws = WebSocketStream<GatedStream>;

/// What the writer task is asked to do, in order.
#[derive(Debug)]
pub(super) enum Out {
    /// Send a frame.
    Frame(Message),
    /// Send a close frame, then end the session.
    Close(CloseFrame),
    /// Close with this frame after a delay (frames queued meanwhile are still sent).
    CloseAfter(Duration, CloseFrame),
}

/// A close frame with a static reason.
pub(super) fn close_frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}

/// Runs a session on a connection whose upgrade the HTTP side has already answered with 101;
/// `leftover` holds bytes the client sent after its request head.
pub(super) async fn run_session(shared: Arc<Shared>, tcp: TcpStream, leftover: Vec<u8>, ticket: &str) {
    let accepted = lock(&shared.connects).take_ticket(ticket, Instant::now());
    let gate = Arc::new(Gate::new(
        Arc::clone(&shared.silent),
        Arc::clone(&shared.reading_stopped),
    ));
    let max = shared.config.max_client_frame;
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let ws = WebSocketStream::from_partially_read(
        GatedStream::new(tcp, Arc::clone(&gate)),
        leftover,
        Role::Server,
        Some(config),
    )
    .await;
    let (tx, rx) = mpsc::unbounded_channel();
    let Some(id) = shared.register(tx.clone(), Arc::clone(&gate)) else {
        return;
    };
    debug!(session = id, accepted, "websocket session opened");
    let guard = SessionGuard {
        shared: Arc::clone(&shared),
        gate: Arc::clone(&gate),
        id,
    };
    let (sink, stream) = ws.split();
    let mut writer = tokio::spawn(write_loop(sink, rx, Arc::clone(&gate)).instrument(Span::current()));

    if !accepted {
        let _ = tx.send(Out::Frame(Message::Text(frames::URL_EXPIRED.into())));
        let _ = tx.send(Out::Close(close_frame(CloseCode::Normal, "")));
    } else {
        for frame in &shared.config.frames_before_hello {
            let _ = tx.send(Out::Frame(Message::Text(frame.as_str().into())));
        }
        if shared.config.hello_delay.is_zero() {
            shared.mark_ready(id);
        }
    }

    let close = read_loop(&shared, id, stream, &tx, accepted).await;
    if let Some(frame) = close {
        let _ = tx.send(Out::Close(frame));
    }
    // Dropping every sender lets the writer drain its queue and end.
    drop(tx);
    shared.unregister(id);
    if timeout(CLOSE_GRACE, &mut writer).await.is_err() {
        gate.abort();
        let _ = writer.await;
    }
    debug!(session = id, "websocket session closed");
    drop(guard);
}

/// Undoes a session's registration even if its task is dropped mid-way (runtime shutdown).
struct SessionGuard {
    shared: Arc<Shared>,
    gate: Arc<Gate>,
    id: u64,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.gate.abort();
        self.shared.unregister(self.id);
        self.shared.live_sockets.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Reads client frames until the socket ends. Returns the close frame to send when the
/// emulator itself ends the session (an oversized frame).
async fn read_loop(
    shared: &Shared,
    id: u64,
    mut stream: SplitStream<Ws>,
    tx: &mpsc::UnboundedSender<Out>,
    accepted: bool,
) -> Option<CloseFrame> {
    let mut hello_pending = accepted && !shared.config.hello_delay.is_zero();
    let hello_timer = sleep(shared.config.hello_delay);
    tokio::pin!(hello_timer);
    loop {
        let next = tokio::select! {
            biased;
            () = &mut hello_timer, if hello_pending => {
                hello_pending = false;
                shared.mark_ready(id);
                continue;
            }
            next = stream.next() => next,
        };
        match next {
            None => return None,
            Some(Ok(Message::Text(text))) if accepted => on_text(shared, tx, &text),
            Some(Ok(Message::Binary(bytes))) => {
                debug!(session = id, len = bytes.len(), "ignoring binary client frame");
            }
            // Pings are answered by tungstenite; a close is answered and then ends the stream.
            Some(Ok(_)) => {}
            Some(Err(WsError::Capacity(error))) => {
                debug!(session = id, %error, "client frame too large, closing");
                return Some(close_frame(CloseCode::Size, "frame too large"));
            }
            Some(Err(error)) => {
                debug!(session = id, %error, "websocket read ended");
                return None;
            }
        }
    }
}

/// Records one client text frame and answers it.
fn on_text(shared: &Shared, tx: &mpsc::UnboundedSender<Out>, text: &str) {
    let frame: Value = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(error) => {
            debug!(%error, len = text.len(), "ignoring non-JSON client frame");
            return;
        }
    };
    let is_ping = frame.get("type").and_then(Value::as_str) == Some("ping");
    // Decide before recording (recording moves the frame), act after, so a test that saw a
    // reply always finds the frame in `sent()`.
    let answer = if shared.ignores_rtm() {
        Answer::Nothing
    } else {
        inbound::answer(&frame)
    };
    let (reply, broadcast) = match answer {
        Answer::Nothing => (None, None),
        Answer::Reply(reply) => (Some(reply), None),
        Answer::Post(post) => post_message(shared, &post),
    };
    shared.record(frame, is_ping);
    if let Some(reply) = reply {
        let _ = tx.send(Out::Frame(Message::Text(reply.into())));
    }
    if let Some(event) = broadcast {
        shared.push(&event);
    }
}

/// Posts a valid client message: returns the reply for the sender (if the frame had an `id`)
/// and the `message` event to broadcast, to be sent in that order.
fn post_message(shared: &Shared, post: &Post<'_>) -> (Option<String>, Option<Message>) {
    if !shared.allow_message() {
        let reply = post.id.map(|id| frames::error_reply(id, frames::SLOW_DOWN));
        return (reply, None);
    }
    let ts = shared.next_ts();
    let reply = post.id.map(|id| frames::message_ok(id, &ts, post.text));
    let event = MessageEvent {
        channel: post.channel,
        user: &shared.config.self_id,
        text: post.text,
        ts: &ts,
        team: &shared.config.team_id,
        thread_ts: post.thread_ts,
        client_msg_id: None,
    }
    .to_value();
    let broadcast = shared
        .config
        .broadcast_sent_messages
        .then(|| Message::Text(event.to_string().into()));
    let ledger = Posted {
        channel: post.channel.to_owned(),
        ts: ts.clone(),
        text: post.text.to_owned(),
        thread_ts: post.thread_ts.map(str::to_owned),
        via: PostVia::Rtm,
    };
    shared.record_post(ledger, event);
    (reply, broadcast)
}

/// Writes queued frames, flushing once per batch, until the session ends or closes.
async fn write_loop(mut sink: SplitSink<Ws, Message>, mut rx: mpsc::UnboundedReceiver<Out>, gate: Arc<Gate>) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    // A delayed close (after `goodbye`): the frame, and a timer armed when it is set.
    let mut close_later: Option<CloseFrame> = None;
    let close_timer = sleep(Duration::ZERO);
    tokio::pin!(close_timer);
    loop {
        let received = tokio::select! {
            biased;
            () = &mut close_timer, if close_later.is_some() => None,
            n = rx.recv_many(&mut batch, WRITE_BATCH) => Some(n),
        };
        let Some(received) = received else {
            if let Some(frame) = close_later.take() {
                close(&mut sink, frame, &mut rx, &gate).await;
            }
            return;
        };
        if received == 0 {
            return;
        }
        for out in batch.drain(..) {
            match out {
                Out::Frame(message) => {
                    if sink.feed(message).await.is_err() {
                        return;
                    }
                }
                Out::Close(frame) => {
                    close(&mut sink, frame, &mut rx, &gate).await;
                    return;
                }
                Out::CloseAfter(delay, frame) => {
                    if close_later.is_none() {
                        close_timer.as_mut().reset(Instant::now() + delay);
                        close_later = Some(frame);
                    }
                }
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

/// Sends a close frame and waits for the session to end (the reader sees the peer's close
/// reply); cuts the connection if the peer does not answer in time.
async fn close(
    sink: &mut SplitSink<Ws, Message>,
    frame: CloseFrame,
    rx: &mut mpsc::UnboundedReceiver<Out>,
    gate: &Gate,
) {
    debug!(code = %frame.code, "closing websocket");
    let _ = sink.send(Message::Close(Some(frame))).await;
    let ended = timeout(CLOSE_GRACE, async { while rx.recv().await.is_some() {} }).await;
    if ended.is_err() {
        gate.abort();
    }
}
