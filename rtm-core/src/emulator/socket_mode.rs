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
use std::sync::atomic::{AtomicBool, Ordering};
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
use super::gate::{Gate, GatedStream};
use super::http::Request;
use super::socket_mode_faults::SocketModeFaults;
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
/// How long a Socket Mode URL from `apps.connections.open` stays usable (single use).
pub const DEFAULT_SOCKET_MODE_TICKET_TTL: Duration = Duration::from_secs(30);
/// How long a socket whose TCP connection ended without a close handshake stays registered
/// (a "ghost", §7.6): it still counts in `num_connections` and against the socket cap.
pub const DEFAULT_GHOST_LIFETIME: Duration = Duration::from_secs(30);
/// How long a socket opened with `debug_reconnects=true` lives before `refresh_requested`:
/// Slack's 360 s.
pub const DEFAULT_DEBUG_RECONNECTS_LIFETIME: Duration = Duration::from_secs(360);

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
    pub(super) ticket_ttl: Duration,
    pub(super) ghost_lifetime: Duration,
    pub(super) debug_reconnects_lifetime: Duration,
    /// Every socket behaves as if its URL had `debug_reconnects=true`.
    pub(super) debug_reconnects: bool,
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
            ticket_ttl: DEFAULT_SOCKET_MODE_TICKET_TTL,
            ghost_lifetime: DEFAULT_GHOST_LIFETIME,
            debug_reconnects_lifetime: DEFAULT_DEBUG_RECONNECTS_LIFETIME,
            debug_reconnects: false,
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
pub(super) struct Socket {
    tx: mpsc::UnboundedSender<Out>,
    /// Told `disconnect`: gets envelopes only when no other socket is open.
    pub(super) retiring: bool,
    /// Cuts the TCP connection, holds writes or reads (the Socket Mode faults).
    pub(super) gate: Arc<Gate>,
    /// Counted in `socket_mode_ready` (open and under the cap).
    counted: bool,
    /// Its TCP connection ended without a close handshake: still registered until then.
    pub(super) ghost_until: Option<Instant>,
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
    /// Unused tickets and when each expires.
    tickets: HashMap<String, Instant>,
    pub(super) sockets: BTreeMap<u64, Socket>,
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
    /// The most sockets open and under the cap at once.
    pub(super) peak_connections: usize,
    /// The most sockets open at once, over the cap or not (ghosts not counted).
    most_open: usize,
    /// Fault switches (drop, silence, stall, 409s, ghost routing).
    pub(super) faults: SocketModeFaults,
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
    let now = Instant::now();
    state.tickets.retain(|_, expires| *expires > now);
    state
        .tickets
        .insert(ticket.clone(), now + shared.config.socket_mode.ticket_ttl);
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

/// Whether a `/link/` query asks for short-lived sockets (`debug_reconnects=true`, §7.1).
pub(super) fn debug_reconnects_of(query: &str) -> bool {
    super::http::form_value(query.as_bytes(), "debug_reconnects").as_deref() == Some("true")
}

/// Decides a websocket upgrade on `/link/` before it is answered: the ticket must have been
/// issued, be unused and unexpired, and no "refuse upgrades" fault may be pending; otherwise
/// HTTP 409, as Slack refuses a reused URL.
pub(super) fn admit(shared: &Shared, ticket: &str) -> Result<(), Response> {
    let mut state = lock(&shared.socket_mode);
    let refused = state.faults.take_refusal();
    let issued = state.tickets.remove(ticket);
    if refused {
        debug!("fault: socket mode upgrade refused with 409");
        return Err(Response::text(409, "upgrade refused"));
    }
    match issued {
        Some(expires) if expires > Instant::now() => Ok(()),
        Some(_) => {
            debug!("socket mode ticket expired; 409");
            Err(Response::text(409, "ticket expired"))
        }
        None => {
            debug!("socket mode ticket unknown or used; 409");
            Err(Response::text(409, "ticket unknown or already used"))
        }
    }
}

/// One Socket Mode session, on a connection whose upgrade was admitted and answered with
/// 101. `debug_reconnects`: the URL asked for a short lifetime.
pub(super) async fn run_session(
    shared: Arc<Shared>,
    tcp: TcpStream,
    leftover: Vec<u8>,
    debug_reconnects: bool,
) {
    let gate = lock(&shared.socket_mode).faults.gate();
    let max = MAX_SOCKET_MODE_CLIENT_FRAME - 1;
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let tcp = GatedStream::new(tcp, Arc::clone(&gate));
    let ws = WebSocketStream::from_partially_read(tcp, leftover, Role::Server, Some(config)).await;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let Some((id, num_connections, over_cap)) = register(&shared, &tx, gate) else {
        return;
    };
    let clean = Arc::new(AtomicBool::new(false));
    let _guard = Registration {
        shared: Arc::clone(&shared),
        id,
        clean: Arc::clone(&clean),
    };
    let hello = json!({
        "type": "hello", "num_connections": num_connections,
        "debug_info": {"host": "applink-emulator", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": DEFAULT_APP_ID},
    });
    let _ = tx.send(Out::Frame(Message::text(hello.to_string())));
    if over_cap {
        debug!(num_connections, "over the socket limit");
        let frame = json!({"type": "disconnect", "reason": "too_many_websockets",
                           "debug_info": {"host": "applink-emulator"}});
        let _ = tx.send(Out::Frame(Message::text(frame.to_string())));
        let _ = tx.send(Out::Close(Duration::ZERO, CloseCode::Normal, ""));
    }
    let socket_mode = &shared.config.socket_mode;
    let ping_interval = socket_mode.ping_interval;
    let refresh_at = (debug_reconnects || socket_mode.debug_reconnects)
        .then(|| Instant::now() + socket_mode.debug_reconnects_lifetime);
    let mut shutdown = shared.shutdown.subscribe();
    let writer = {
        let shared = Arc::clone(&shared);
        let clean = Arc::clone(&clean);
        async move {
            let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
            let mut refresh_at = refresh_at;
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
                            // The server ends it: Slack unregisters the socket.
                            clean.store(true, Ordering::SeqCst);
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
                    () = sleep_until_some(refresh_at) => {
                        refresh_at = None;
                        debug!(session = id, "debug_reconnects: the socket's lifetime is over");
                        retire(&shared, id, "refresh_requested");
                    }
                }
            }
        }
    };
    let reader = async {
        while let Some(frame) = stream.next().await {
            match frame {
                Ok(Message::Text(text)) => on_ack(&shared, &text),
                Ok(Message::Close(_)) => {
                    clean.store(true, Ordering::SeqCst);
                    break;
                }
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
    debug!(
        session = id,
        close_handshake = clean.load(Ordering::SeqCst),
        "socket mode session closed"
    );
}

/// Sleeps until `at`, or forever without it.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Registers a new socket: returns its id, the `num_connections` its `hello` reports (ghosts
/// included) and whether that is over the cap. `None` once the emulator has stopped.
fn register(shared: &Shared, tx: &mpsc::UnboundedSender<Out>, gate: Arc<Gate>) -> Option<(u64, usize, bool)> {
    if *shared.shutdown.borrow() {
        return None;
    }
    let mut state = lock(&shared.socket_mode);
    state.forget_ghosts(Instant::now());
    state.next_socket += 1;
    let id = state.next_socket;
    let num_connections = state.sockets.len() + 1;
    let max_sockets = state
        .faults
        .max_sockets
        .unwrap_or(shared.config.socket_mode.max_sockets);
    let over_cap = num_connections > max_sockets;
    state.sockets.insert(
        id,
        Socket {
            tx: tx.clone(),
            // Over the cap: it is about to be closed and gets no envelopes.
            retiring: over_cap,
            gate,
            counted: !over_cap,
            ghost_until: None,
        },
    );
    state.used = true;
    state.sockets_opened += 1;
    let open = state.sockets.values().filter(|s| s.ghost_until.is_none()).count();
    state.most_open = state.most_open.max(open);
    if !over_cap {
        let live = state.sockets.values().filter(|s| s.counted).count();
        state.peak_connections = state.peak_connections.max(live);
        shared.socket_mode_ready.send_modify(|n| *n += 1);
    }
    Some((id, num_connections, over_cap))
}

/// Unregisters a session however its task ends. A session that ended without a close
/// handshake (a cut TCP connection) that the server was not ending itself stays registered as
/// a ghost for the configured lifetime.
struct Registration {
    shared: Arc<Shared>,
    id: u64,
    clean: Arc<AtomicBool>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let lifetime = self.shared.config.socket_mode.ghost_lifetime;
        let clean = self.clean.load(Ordering::SeqCst) || *self.shared.shutdown.borrow();
        let mut state = lock(&self.shared.socket_mode);
        let Some(socket) = state.sockets.get_mut(&self.id) else {
            return;
        };
        let counted = std::mem::replace(&mut socket.counted, false);
        // A socket Slack itself was ending (told `disconnect`, or over the cap) is gone
        // however the client lets it go.
        if clean || socket.retiring || lifetime.is_zero() {
            state.sockets.remove(&self.id);
        } else {
            debug!(
                session = self.id,
                ?lifetime,
                "socket ended without a close handshake: a ghost now"
            );
            socket.ghost_until = Some(Instant::now() + lifetime);
        }
        drop(state);
        if counted {
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
        self.forget_ghosts(Instant::now());
        let to_ghosts = self.faults.route_to_ghosts;
        let live: Vec<u64> = self
            .sockets
            .iter()
            .filter(|(_, s)| !s.retiring && (to_ghosts || s.ghost_until.is_none()))
            .map(|(id, _)| *id)
            .collect();
        let candidates = if live.is_empty() {
            self.sockets
                .iter()
                .filter(|(_, s)| s.ghost_until.is_none())
                .map(|(id, _)| *id)
                .collect()
        } else {
            live
        };
        if candidates.is_empty() {
            return false;
        }
        self.next_pick = self.next_pick.wrapping_add(1);
        let id = candidates[self.next_pick % candidates.len()];
        let Some(socket) = self.sockets.get(&id) else {
            return false;
        };
        if socket.ghost_until.is_some() {
            // As with Slack: the frame goes to a registration nobody reads, and is not acked.
            debug!(session = id, "frame routed to a ghost socket; lost");
            return true;
        }
        socket.tx.send(Out::Frame(Message::text(text))).is_ok()
    }

    /// Forgets ghosts whose lifetime is over.
    pub(super) fn forget_ghosts(&mut self, now: Instant) {
        self.sockets
            .retain(|_, socket| socket.ghost_until.is_none_or(|until| until > now));
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
    let ids: Vec<u64> = lock(&shared.socket_mode).sockets.keys().copied().collect();
    for id in ids {
        retire(shared, id, reason);
    }
}

/// Sends `disconnect` with `reason` to socket `id` and closes it (at once for
/// `link_disabled` and `too_many_websockets`, after the configured delay otherwise); it gets
/// no more envelopes while another socket is open.
pub(super) fn retire(shared: &Shared, id: u64, reason: &str) {
    let frame = json!({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-emulator"}});
    let delay = match reason {
        "link_disabled" | "too_many_websockets" => Duration::ZERO,
        _ => shared.config.socket_mode.disconnect_close_delay,
    };
    let mut state = lock(&shared.socket_mode);
    if let Some(socket) = state.sockets.get_mut(&id) {
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
