//! Fault injection (protocol §8, item 6): each method takes effect at once, so a test can put
//! a client through every way a Slack connection ends or fails.

use std::sync::atomic::Ordering;

use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tracing::debug;

use super::Emulator;
use super::frames;
use super::state::lock;
use super::ws::{Out, close_frame};

impl Emulator {
    /// Cuts every websocket connection abruptly: no close frame, the TCP socket is just
    /// closed, as when a network path dies. Frames still queued are lost.
    pub fn drop_connections(&self) {
        debug!("fault: dropping all websocket connections");
        self.shared().each_socket(|socket| socket.gate.abort());
    }

    /// Sends `{"type":"goodbye"}` to every socket, then closes each (close code 1000) after
    /// the builder's `goodbye_close_delay`, as Slack does before a server restart. Events
    /// pushed after the goodbye go only to sockets opened since.
    pub fn goodbye(&self) {
        debug!("fault: goodbye");
        let delay = self.shared().config.goodbye_close_delay;
        self.shared().retire_ready(|socket| {
            let _ = socket.tx.send(Out::Frame(Message::Text(frames::GOODBYE.into())));
            let close = close_frame(CloseCode::Normal, "goodbye");
            let _ = socket.tx.send(Out::CloseAfter(delay, close));
        });
    }

    /// Closes every socket cleanly, with close code 1012 (service restart), after the frames
    /// already queued: a restart of the websocket side.
    pub fn close_connections(&self) {
        debug!("fault: closing all websocket connections");
        self.shared().each_socket(|socket| {
            let close = close_frame(CloseCode::Restart, "service restart");
            let _ = socket.tx.send(Out::Close(close));
        });
    }

    /// Stalls every socket while `true`, keeping TCP open: no JSON pongs, no websocket pongs,
    /// no replies, no messages posted. Everything the emulator would send meanwhile (pushes,
    /// `hello`, close frames) is held and sent in order once silence ends. Client frames are
    /// still read and recorded. Lets a test check that a client detects a dead connection.
    pub fn set_silent(&self, silent: bool) {
        debug!(silent, "fault: silence");
        self.shared().silent.store(silent, Ordering::SeqCst);
        if !silent {
            self.shared().each_socket(|socket| socket.gate.wake_writer());
        }
    }

    /// While `true`, reads nothing from any socket but keeps TCP open and keeps sending: the
    /// client's frames (pings included) pile up in TCP buffers until its writes block, as
    /// with a server that stopped reading. Lets a test check that a client whose writes
    /// cannot complete still notices the dead peer.
    pub fn stop_reading(&self, stopped: bool) {
        debug!(stopped, "fault: stop reading");
        self.shared().reading_stopped.store(stopped, Ordering::SeqCst);
        if !stopped {
            self.shared().each_socket(|socket| socket.gate.wake_reader());
        }
    }

    /// While `true`, answers no RTM frame (no `pong`, no replies, nothing posted) but keeps
    /// the websocket itself healthy: websocket pings are still answered, as many servers'
    /// websocket libraries do on their own. Models a server stuck above the websocket layer,
    /// which a client only notices through RTM-level pings.
    pub fn stall_rtm(&self, stalled: bool) {
        debug!(stalled, "fault: RTM stall");
        self.shared().rtm_stalled.store(stalled, Ordering::SeqCst);
    }

    /// Answers the next `times` `rtm.connect` calls with HTTP 429, `Retry-After:
    /// retry_after_secs` and `{"ok":false,"error":"ratelimited"}`, to test a client's respect
    /// for Slack's rate limits.
    pub fn rate_limit_connects(&self, times: usize, retry_after_secs: u64) {
        let mut connects = lock(&self.shared().connects);
        connects.rate_limited = times;
        connects.retry_after_secs = retry_after_secs;
    }

    /// Answers the next `times` `rtm.connect` calls (`None`: every call until
    /// [`Emulator::clear_connect_faults`]) with HTTP 200 `{"ok":false,"error":code}`, to test
    /// fatal errors (`invalid_auth`, `not_allowed_token_type`) and retryable ones
    /// (`migration_in_progress`). Applied after the rate-limit faults, before the token check.
    pub fn fail_connects(&self, code: &str, times: Option<usize>) {
        let failure = match times {
            Some(0) => None,
            times => Some((code.to_owned(), times)),
        };
        lock(&self.shared().connects).failure = failure;
    }

    /// Clears the faults set by [`Emulator::rate_limit_connects`] and
    /// [`Emulator::fail_connects`], so `rtm.connect` works again.
    pub fn clear_connect_faults(&self) {
        let mut connects = lock(&self.shared().connects);
        connects.rate_limited = 0;
        connects.failure = None;
    }

    /// Revokes the token: every later call gets `token_revoked`, unused websocket URLs stop
    /// working, and open sockets are closed (code 1000), as when a workspace admin removes
    /// the bot.
    pub fn revoke_token(&self) {
        debug!("fault: token revoked");
        {
            let mut connects = lock(&self.shared().connects);
            connects.revoked = true;
            connects.expire_tickets();
        }
        self.shared().each_socket(|socket| {
            let close = close_frame(CloseCode::Normal, "token revoked");
            let _ = socket.tx.send(Out::Close(close));
        });
    }

    /// Sends `{"type":"error","error":{"code":code,"msg":msg}}` to every socket, then closes
    /// it (code 1000), to test how a client handles server error events.
    pub fn send_error_event(&self, code: i64, msg: &str) {
        debug!(code, msg, "fault: error event");
        let event = Utf8Bytes::from(frames::error_event(code, msg));
        self.shared().each_socket(|socket| {
            if socket.ready {
                let _ = socket.tx.send(Out::Frame(Message::Text(event.clone())));
                let _ = socket.tx.send(Out::Close(close_frame(CloseCode::Normal, "")));
            }
        });
    }

    /// Invalidates every websocket URL issued but not used yet: connecting with one gets the
    /// "Socket URL has expired" error, as after Slack's 30 seconds.
    pub fn expire_tickets(&self) {
        lock(&self.shared().connects).expire_tickets();
    }
}
