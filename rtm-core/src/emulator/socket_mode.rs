//! Socket Mode beside RTM (protocol §7, checklist §8): `apps.connections.open` with an
//! app-level token, the `/link/?ticket=…` websocket with `hello`, envelopes pushed by tests
//! (and by the bot's own Web API posts), recorded acks, redelivery of un-acked `events_api`
//! envelopes, `disconnect` with each reason, a per-app socket cap, websocket pings, and the
//! 20,480-byte client frame cap.
//!
//! Each session has a reader (the connection's task) and a writer task fed by an unbounded
//! channel, so pushes from tests are synchronous. Redelivery runs on one task per emulator.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::debug;

use super::api::{api_error, rate_limited};
use super::http::Request;
use super::state::{Shared, lock};

/// The app-level token `apps.connections.open` accepts unless the builder sets another.
pub const DEFAULT_APP_TOKEN: &str = "xapp-1-A0EMU-emulator";
/// The app id in `hello`'s `connection_info` and in the socket URL.
pub const DEFAULT_APP_ID: &str = "A0EMU";
/// Slack closes a Socket Mode socket (code 1009) on a client frame of this many bytes or more.
pub const MAX_SOCKET_MODE_CLIENT_FRAME: usize = 20_480;
/// Slack's Socket Mode socket limit per app.
pub const DEFAULT_SOCKET_MODE_MAX_SOCKETS: usize = 10;
/// How long an `events_api` envelope may go un-acked before it counts as timed out.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(3);
/// Redelivery delays after each timeout, as the Events API: at once, after 1 min, after 5 min.
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 3] =
    [Duration::ZERO, Duration::from_secs(60), Duration::from_secs(300)];
/// How often the emulator pings each Socket Mode socket.
pub const DEFAULT_SOCKET_MODE_PING_INTERVAL: Duration = Duration::from_secs(10);
/// How long after `disconnect` (`warning`, `refresh_requested`) the emulator closes the socket.
pub const DEFAULT_DISCONNECT_CLOSE_DELAY: Duration = Duration::from_secs(1);

pub(super) const LINK_PATH: &str = "/link/";

/// Socket Mode settings (part of the builder's `Config`).
#[derive(Debug, Clone)]
pub(super) struct SocketModeConfig {
    pub(super) app_token: String,
    pub(super) max_sockets: usize,
    pub(super) ack_timeout: Duration,
    pub(super) retry_schedule: Vec<Duration>,
    pub(super) ping_interval: Duration,
    pub(super) disconnect_close_delay: Duration,
}

impl Default for SocketModeConfig {
    fn default() -> Self {
        Self {
            app_token: DEFAULT_APP_TOKEN.to_owned(),
            max_sockets: DEFAULT_SOCKET_MODE_MAX_SOCKETS,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            retry_schedule: DEFAULT_RETRY_SCHEDULE.to_vec(),
            ping_interval: DEFAULT_SOCKET_MODE_PING_INTERVAL,
            disconnect_close_delay: DEFAULT_DISCONNECT_CLOSE_DELAY,
        }
    }
}

/// What a session's writer is asked to do.
#[derive(Debug)]
enum Out {
    Frame(Message),
    /// Close after a delay (frames queued meanwhile still go out).
    Close(Duration, CloseCode, &'static str),
}

#[derive(Debug)]
struct Socket {
    tx: mpsc::UnboundedSender<Out>,
    /// Told `disconnect`: gets envelopes only when no other socket is open.
    retiring: bool,
}

/// An `events_api` event not acked yet.
#[derive(Debug)]
struct Pending {
    event_id: String,
    payload: Value,
    /// The `retry_attempt` to send next (1..).
    next_retry: usize,
    /// When it is due: the previous delivery's ack timeout plus the schedule's delay.
    due: Instant,
}

/// Socket Mode state shared by the emulator's tasks.
#[derive(Debug, Default)]
pub(super) struct SocketModeState {
    tickets: HashSet<String>,
    sockets: BTreeMap<u64, Socket>,
    next_socket: u64,
    next_id: u64,
    next_pick: usize,
    /// Every ack frame received, in order.
    acks: Vec<Value>,
    /// Envelope id → the event it carried, for `events_api` deliveries.
    envelope_events: HashMap<String, String>,
    acked_events: HashSet<String>,
    pending: Vec<Pending>,
    /// Whether any Socket Mode socket ever opened (posts become envelopes only then).
    used: bool,
    sockets_opened: usize,
    /// The most sockets open at once so far.
    most_open: usize,
}

/// Wakes the redelivery task.
#[derive(Debug, Default)]
pub(super) struct Redelivery(Notify);

/// `apps.connections.open`: POST with the app token as a Bearer header → a single-use URL.
pub(super) fn open(shared: &Shared, request: &Request) -> Response {
    shared
        .connect_calls
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let bearer = request
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match bearer {
        None => return api_error("not_authed"),
        Some(token) if token != shared.config.socket_mode.app_token => return api_error("invalid_auth"),
        Some(_) => {}
    }
    {
        let mut connects = lock(&shared.connects);
        if connects.rate_limited > 0 {
            connects.rate_limited -= 1;
            return rate_limited(connects.retry_after_secs);
        }
    }
    let mut state = lock(&shared.socket_mode);
    state.next_id += 1;
    let ticket = format!("smt-{:08x}-{}", state.next_id, fastrand::u64(..));
    state.tickets.insert(ticket.clone());
    Response::json(
        200,
        &json!({
            "ok": true,
            "url": format!("ws://{}{LINK_PATH}?ticket={ticket}&app_id={DEFAULT_APP_ID}", shared.addr),
            "response_metadata": {"scopes": ["connections:write"], "acceptedScopes": ["connections:write"]},
        }),
    )
}

use super::http::Response;

/// The ticket in a `/link/` query.
pub(super) fn ticket_of(query: &str) -> String {
    super::http::form_value(query.as_bytes(), "ticket").unwrap_or_default()
}

/// One Socket Mode session, on a connection whose upgrade was answered with 101.
pub(super) async fn run_session(shared: Arc<Shared>, tcp: TcpStream, leftover: Vec<u8>, ticket: String) {
    let accepted = lock(&shared.socket_mode).tickets.remove(&ticket);
    let max = MAX_SOCKET_MODE_CLIENT_FRAME - 1;
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let ws = WebSocketStream::from_partially_read(tcp, leftover, Role::Server, Some(config)).await;
    let (mut sink, mut stream) = ws.split();
    if !accepted {
        debug!("socket mode ticket unknown or used");
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Policy,
                reason: "invalid ticket".into(),
            })))
            .await;
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (id, num_connections) = {
        let mut state = lock(&shared.socket_mode);
        state.next_socket += 1;
        let id = state.next_socket;
        state.sockets.insert(
            id,
            Socket {
                tx: tx.clone(),
                retiring: false,
            },
        );
        state.used = true;
        state.sockets_opened += 1;
        state.most_open = state.most_open.max(state.sockets.len());
        (id, state.sockets.len())
    };
    let _guard = Registration {
        shared: Arc::clone(&shared),
        id,
    };
    let hello = json!({
        "type": "hello", "num_connections": num_connections,
        "debug_info": {"host": "applink-emulator", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": DEFAULT_APP_ID},
    });
    let _ = tx.send(Out::Frame(Message::text(hello.to_string())));
    if num_connections > shared.config.socket_mode.max_sockets {
        debug!(num_connections, "over the socket limit");
        let frame = json!({"type": "disconnect", "reason": "too_many_websockets",
                           "debug_info": {"host": "applink-emulator"}});
        let _ = tx.send(Out::Frame(Message::text(frame.to_string())));
        let _ = tx.send(Out::Close(Duration::ZERO, CloseCode::Normal, ""));
    } else {
        shared.socket_mode_ready.send_modify(|n| *n += 1);
    }
    let ping_interval = shared.config.socket_mode.ping_interval;
    let mut shutdown = shared.shutdown.subscribe();
    let writer = async move {
        let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(Out::Frame(message)) => {
                        if sink.send(message).await.is_err() {
                            return;
                        }
                    }
                    Some(Out::Close(delay, code, reason)) => {
                        sleep(delay).await;
                        while let Ok(Out::Frame(message)) = rx.try_recv() {
                            let _ = sink.send(message).await;
                        }
                        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                        return;
                    }
                    None => return,
                },
                _ = ping.tick() => {
                    if sink.send(Message::Ping("ping from applink-emulator".as_bytes().to_vec().into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let reader = async {
        while let Some(frame) = stream.next().await {
            match frame {
                Ok(Message::Text(text)) => on_ack(&shared, &text),
                Ok(Message::Close(_)) => break,
                Ok(_) => {}
                Err(WsError::Capacity(_)) => {
                    debug!("client frame over the 20,480-byte cap; closing with 1009");
                    let _ = tx.send(Out::Close(
                        Duration::ZERO,
                        CloseCode::Size,
                        "Max frame length of 20480 has been exceeded.",
                    ));
                    // Let the writer send the close frame.
                    sleep(Duration::from_millis(200)).await;
                    break;
                }
                Err(_) => break,
            }
        }
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
        _ = shutdown.wait_for(|stopped| *stopped) => {}
    }
    debug!(session = id, "socket mode session closed");
}

/// Unregisters a session however its task ends.
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if lock(&self.shared.socket_mode).sockets.remove(&self.id).is_some() {
            self.shared
                .socket_mode_ready
                .send_modify(|n| *n = n.saturating_sub(1));
        }
    }
}

/// Records an ack (a JSON object with `envelope_id`, and `payload` or not).
fn on_ack(shared: &Shared, text: &str) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        debug!("socket mode client sent a frame that is not JSON");
        return;
    };
    let mut state = lock(&shared.socket_mode);
    if let Some(envelope_id) = frame.get("envelope_id").and_then(Value::as_str)
        && let Some(event_id) = state.envelope_events.get(envelope_id).cloned()
    {
        state.acked_events.insert(event_id.clone());
        state.pending.retain(|p| p.event_id != event_id);
    }
    state.acks.push(frame);
    let n = state.acks.len();
    drop(state);
    shared.acks_count.send_replace(n);
}

impl SocketModeState {
    fn next_envelope_id(&mut self) -> String {
        self.next_id += 1;
        format!(
            "{:08x}-emu-{:04x}-{:012x}",
            fastrand::u32(..),
            self.next_id & 0xffff,
            self.next_id
        )
    }

    /// Sends `frame` to one open socket, preferring those not told `disconnect`. `false` when
    /// none is open.
    fn deliver(&mut self, frame: &Value) -> bool {
        self.deliver_text(frame.to_string())
    }

    fn deliver_text(&mut self, text: String) -> bool {
        let live: Vec<u64> = self
            .sockets
            .iter()
            .filter(|(_, s)| !s.retiring)
            .map(|(id, _)| *id)
            .collect();
        let candidates = if live.is_empty() {
            self.sockets.keys().copied().collect()
        } else {
            live
        };
        if candidates.is_empty() {
            return false;
        }
        self.next_pick = self.next_pick.wrapping_add(1);
        let id = candidates[self.next_pick % candidates.len()];
        let text = Message::text(text);
        self.sockets
            .get(&id)
            .is_some_and(|socket| socket.tx.send(Out::Frame(text)).is_ok())
    }
}

/// Pushes an envelope of `kind` with `payload` to one socket; returns its `envelope_id`.
pub(super) fn push_envelope(shared: &Shared, kind: &str, mut payload: Value) -> String {
    let mut state = lock(&shared.socket_mode);
    let envelope_id = state.next_envelope_id();
    super::response_url::attach(shared, kind, &envelope_id, &mut payload);
    let accepts_response_payload = super::response_url::accepts_response_payload(kind, &payload);
    let frame = json!({"envelope_id": envelope_id, "type": kind, "payload": payload,
                       "accepts_response_payload": accepts_response_payload});
    state.deliver(&frame);
    envelope_id
}

/// Pushes an `events_api` envelope carrying `event` (redelivered until acked, per the
/// schedule); returns the `event_id`. Queued for retries when no socket is open.
pub(super) fn push_event(shared: &Shared, event: Value) -> String {
    let mut state = lock(&shared.socket_mode);
    state.next_id += 1;
    let event_id = format!("Ev{:010}", state.next_id);
    let config = &shared.config;
    let payload = json!({
        "token": "verification-token", "team_id": config.team_id, "api_app_id": DEFAULT_APP_ID,
        "type": "event_callback", "event_id": event_id, "event_time": 1_700_000_000u64 + state.next_id,
        "authorizations": [{"enterprise_id": null, "team_id": config.team_id, "user_id": config.self_id,
                            "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false, "event": event,
    });
    send_event(&mut state, &event_id, &payload, 0);
    let socket_mode = &config.socket_mode;
    if let Some(delay) = socket_mode.retry_schedule.first() {
        let due = Instant::now() + socket_mode.ack_timeout + *delay;
        state.pending.push(Pending {
            event_id: event_id.clone(),
            payload,
            next_retry: 1,
            due,
        });
    }
    drop(state);
    shared.redelivery.0.notify_one();
    event_id
}

/// A post by the bot (or any message event) becomes an `events_api` envelope, as Slack
/// delivers it to Socket Mode apps, once a Socket Mode app has ever connected.
pub(super) fn on_message_event(shared: &Shared, event: &Value) {
    if lock(&shared.socket_mode).used {
        push_event(shared, event.clone());
    }
}

fn send_event(state: &mut SocketModeState, event_id: &str, payload: &Value, retry_attempt: usize) {
    let envelope_id = state.next_envelope_id();
    state
        .envelope_events
        .insert(envelope_id.clone(), event_id.to_owned());
    let frame = json!({
        "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": false,
        "retry_attempt": retry_attempt, "retry_reason": if retry_attempt == 0 { "" } else { "timeout" },
        "payload": payload,
    });
    if !state.deliver(&frame) {
        debug!(
            event_id,
            retry_attempt, "no socket mode socket open; the event waits for its retry"
        );
    }
}

/// Redelivers un-acked `events_api` events on the schedule, until acked or out of retries.
pub(super) async fn redeliver_loop(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let next_due = lock(&shared.socket_mode).pending.iter().map(|p| p.due).min();
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            () = sleep_until(next_due.unwrap_or(far)) => {}
            () = shared.redelivery.0.notified() => continue,
            _ = shutdown.wait_for(|stopped| *stopped) => return,
        }
        let now = Instant::now();
        let config = &shared.config.socket_mode;
        let mut state = lock(&shared.socket_mode);
        let pending = std::mem::take(&mut state.pending);
        for mut p in pending {
            if state.acked_events.contains(&p.event_id) {
                continue;
            }
            if p.due > now {
                state.pending.push(p);
                continue;
            }
            send_event(&mut state, &p.event_id, &p.payload, p.next_retry);
            if let Some(delay) = config.retry_schedule.get(p.next_retry) {
                p.next_retry += 1;
                p.due = now + config.ack_timeout + *delay;
                state.pending.push(p);
            }
        }
    }
}

/// Sends `disconnect` with `reason` to every Socket Mode socket. `link_disabled` and
/// `too_many_websockets` close at once; other reasons close after the configured delay.
pub(super) fn disconnect(shared: &Shared, reason: &str) {
    let frame = json!({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-emulator"}});
    let delay = match reason {
        "link_disabled" | "too_many_websockets" => Duration::ZERO,
        _ => shared.config.socket_mode.disconnect_close_delay,
    };
    let mut state = lock(&shared.socket_mode);
    for socket in state.sockets.values_mut() {
        socket.retiring = true;
        let _ = socket.tx.send(Out::Frame(Message::text(frame.to_string())));
        let _ = socket.tx.send(Out::Close(delay, CloseCode::Normal, ""));
    }
}

/// As [`disconnect`], on the oldest socket not told `disconnect` yet only; `false` when
/// there is none.
pub(super) fn disconnect_one(shared: &Shared, reason: &str) -> bool {
    let frame = json!({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-emulator"}});
    let delay = match reason {
        "link_disabled" | "too_many_websockets" => Duration::ZERO,
        _ => shared.config.socket_mode.disconnect_close_delay,
    };
    let mut state = lock(&shared.socket_mode);
    let Some(socket) = state.sockets.values_mut().find(|s| !s.retiring) else {
        return false;
    };
    socket.retiring = true;
    let _ = socket.tx.send(Out::Frame(Message::text(frame.to_string())));
    let _ = socket.tx.send(Out::Close(delay, CloseCode::Normal, ""));
    true
}

/// Sends `raw` as is to one open socket.
pub(super) fn push_raw(shared: &Shared, raw: String) {
    lock(&shared.socket_mode).deliver_text(raw);
}

/// Every ack received so far.
pub(super) fn acks(shared: &Shared) -> Vec<Value> {
    lock(&shared.socket_mode).acks.clone()
}

/// Socket Mode sockets opened so far.
pub(super) fn sockets_opened(shared: &Shared) -> usize {
    lock(&shared.socket_mode).sockets_opened
}

/// The most Socket Mode sockets open at once so far (over the cap or not).
pub(super) fn most_open(shared: &Shared) -> usize {
    lock(&shared.socket_mode).most_open
}
