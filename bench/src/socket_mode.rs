//! The Socket Mode echo scenario (issue 12): a load server speaking Socket Mode, the floor
//! client for it, the measurements and their table.
//!
//! The load server serves `apps.connections.open` (app token), `auth.test` (bot token) and
//! `chat.postMessage` (bot token, JSON or form body) over HTTP/1.1 with keep-alive, and the
//! `/link/` websocket: `hello`, then `events_api` envelopes whose event is a `message` with a
//! sequence number in its text. It records every ack (by `envelope_id`) and every echo (a
//! `chat.postMessage` with the same text in the same channel): lost, duplicated, stray.
//!
//! Events are spread over [`CHANNELS`] channels, so that no channel gets more than a couple
//! of events per second and the per-channel `chat.postMessage` pacing a real bot does by
//! default (Slack's one message per second per channel, bursts of three) never binds: what is
//! measured is the client's cost per event, not Slack's rate limit.
//!
//! Clients, each a process of its own: `examples/socket_echo_bot` (the real binary) and the
//! floor (`rtm-bench client socket-floor`): reqwest + tokio-tungstenite + serde_json, acking
//! each envelope on the socket and posting its echo on a task of its own.

use std::{
    borrow::Cow,
    fmt::Write as _,
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::Duration,
};

use futures::{FutureExt, SinkExt, StreamExt, stream::SplitSink};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message,
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
};

use crate::{
    procfs,
    report::{median, num, ratio},
    scenarios::{ClientSpec, EchoMeasure, Settings, configure, log_path, stop, tail},
    server::{CHANNEL, Phase, SELF_ID, TOKEN, event_text_in, read_request},
};

/// The app-level token the load server accepts for `apps.connections.open`.
pub const APP_TOKEN: &str = "xapp-bench-app-token";
/// How many channels events are spread over (see the module docs).
pub const CHANNELS: u64 = 10_000;
const BOT_ID: &str = "B0BOT";
const TEAM: &str = "T0BENCH";
/// Envelopes written before a flush during a burst.
const WRITE_SLICE: usize = 64;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Ws = WebSocketStream<TcpStream>;

/// The channel event `seq` is posted in.
pub fn channel_of(seq: u64) -> String {
    format!("C{:06}", seq % CHANNELS)
}

/// The `events_api` envelope carrying event `seq`.
fn envelope(seq: u64) -> String {
    format!(
        r#"{{"envelope_id":"env-{seq}","type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":"","payload":{{"token":"verification","team_id":"{TEAM}","api_app_id":"A0BENCH","type":"event_callback","event_id":"Ev{seq:010}","event_time":1700000000,"authorizations":[{{"team_id":"{TEAM}","user_id":"{SELF_ID}","is_bot":true}}],"event":{}}}}}"#,
        event_text_in(seq, &channel_of(seq))
    )
}

// ---------------------------------------------------------------------------------------------
// The load server

/// One batch of envelopes and what came back for it: echoes (through [`Phase`]) and acks.
#[derive(Debug)]
pub struct SmPhase {
    pub phase: Arc<Phase>,
    acked: Vec<AtomicBool>,
    acks: AtomicUsize,
    dup_acks: AtomicU64,
    stray_acks: AtomicU64,
    wrong_channel: AtomicU64,
}

impl SmPhase {
    fn new(base: u64, n: usize, rate: Option<f64>) -> SmPhase {
        SmPhase {
            phase: Arc::new(Phase::new(base, n, rate, true)),
            acked: (0..n).map(|_| AtomicBool::new(false)).collect(),
            acks: AtomicUsize::new(0),
            dup_acks: AtomicU64::new(0),
            stray_acks: AtomicU64::new(0),
            wrong_channel: AtomicU64::new(0),
        }
    }

    fn ack(&self, seq: u64) {
        let (base, n, _) = self.phase.shape();
        let Some(idx) = seq.checked_sub(base).filter(|i| *i < n as u64) else {
            self.stray_acks.fetch_add(1, Relaxed);
            return;
        };
        if self.acked[idx as usize].swap(true, Relaxed) {
            self.dup_acks.fetch_add(1, Relaxed);
        } else {
            self.acks.fetch_add(1, Relaxed);
        }
    }

    fn echo(&self, channel: Option<&str>, text: Option<&str>, at: Instant) {
        let seq = text
            .and_then(|t| t.strip_prefix("bench "))
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(seq) = seq
            && channel != Some(channel_of(seq).as_str())
        {
            self.wrong_channel.fetch_add(1, Relaxed);
        }
        // The channel was checked here; the phase checks the rest.
        self.phase.record(Some(CHANNEL), text, at);
    }

    /// Envelopes of this phase not acked (yet).
    pub fn acks_missing(&self) -> usize {
        self.acked.len() - self.acks.load(Relaxed)
    }

    /// Waits up to `max` until every envelope was acked.
    async fn wait_for_acks(&self, max: Duration) {
        let until = Instant::now() + max;
        while self.acks_missing() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Counters over the server's lifetime.
#[derive(Debug, Default)]
pub struct SmCounters {
    pub opens: AtomicU64,
    pub sessions: AtomicU64,
    /// Sessions open now, and the most open at once since the last reset: a client keeps
    /// several sockets open by design, so only sessions beyond that many are reconnects.
    pub open: AtomicU64,
    pub peak_open: AtomicU64,
    pub posts: AtomicU64,
    pub refused: AtomicU64,
}

#[derive(Debug)]
struct SmShared {
    addr: SocketAddr,
    next_ticket: AtomicU64,
    next_seq: AtomicU64,
    new_sessions: mpsc::UnboundedSender<SmSession>,
    /// The phase acks and echoes are recorded against.
    current: Mutex<Option<Arc<SmPhase>>>,
    counters: SmCounters,
}

impl SmShared {
    fn current(&self) -> Option<Arc<SmPhase>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A running Socket Mode load server; dropping it stops accepting.
#[derive(Debug)]
pub struct SmServer {
    shared: Arc<SmShared>,
    sessions: tokio::sync::Mutex<mpsc::UnboundedReceiver<SmSession>>,
    accept: JoinHandle<()>,
}

impl Drop for SmServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// One websocket session, driven by the harness.
#[derive(Debug)]
pub struct SmSession {
    cmd: mpsc::UnboundedSender<Cmd>,
}

enum Cmd {
    Start(Arc<SmPhase>),
    Stop,
}

impl SmServer {
    pub async fn start() -> io::Result<SmServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(SmShared {
            addr,
            next_ticket: AtomicU64::new(1),
            next_seq: AtomicU64::new(0),
            new_sessions: tx,
            current: Mutex::new(None),
            counters: SmCounters::default(),
        });
        let accept = tokio::spawn(accept_loop(shared.clone(), listener));
        Ok(SmServer {
            shared,
            sessions: tokio::sync::Mutex::new(rx),
            accept,
        })
    }

    pub fn api_url(&self) -> String {
        format!("http://{}/api/", self.shared.addr)
    }

    pub fn counters(&self) -> &SmCounters {
        &self.shared.counters
    }

    pub async fn discard_pending_sessions(&self) {
        let mut rx = self.sessions.lock().await;
        while rx.try_recv().is_ok() {}
    }

    pub async fn next_session(&self, timeout: Duration) -> Option<SmSession> {
        let mut rx = self.sessions.lock().await;
        tokio::time::timeout(timeout, rx.recv()).await.ok().flatten()
    }

    /// Starts pushing `n` envelopes on `session` (at `rate` per second, or as fast as the
    /// socket takes them); acks and echoes are recorded against the new phase.
    pub fn start_phase(&self, session: &SmSession, n: usize, rate: Option<f64>) -> Arc<SmPhase> {
        let base = self.shared.next_seq.fetch_add(n as u64, Relaxed);
        let phase = Arc::new(SmPhase::new(base, n, rate));
        *self.shared.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(phase.clone());
        let _ = session.cmd.send(Cmd::Start(phase.clone()));
        phase
    }
}

impl SmSession {
    pub fn stop(&self) {
        let _ = self.cmd.send(Cmd::Stop);
    }
}

async fn accept_loop(shared: Arc<SmShared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                let _ = tcp.set_nodelay(true);
                tokio::spawn(serve_connection(shared.clone(), tcp));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Serves requests on one keep-alive connection until it closes or upgrades.
async fn serve_connection(shared: Arc<SmShared>, mut tcp: TcpStream) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let Some((request, head_len)) = read_request(&mut tcp, &mut buf).await else {
            return;
        };
        let consumed = (head_len + request.body.len()).min(buf.len());
        if request.target.starts_with("/link") {
            let Some(key) = request.header("sec-websocket-key") else {
                return;
            };
            let head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            );
            if tcp.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let leftover = buf.split_off(consumed);
            let ws = WebSocketStream::from_partially_read(
                tcp,
                leftover,
                Role::Server,
                Some(WebSocketConfig::default()),
            )
            .await;
            run_session(shared, ws).await;
            return;
        }
        let (status, body) = route(&shared, &request);
        buf.drain(..consumed);
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if tcp.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// What `chat.postMessage` reads from its body.
#[derive(Deserialize)]
struct PostArgs<'a> {
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

/// Decodes one `application/x-www-form-urlencoded` value.
fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_field(body: &str, name: &str) -> Option<String> {
    body.split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .map(form_decode)
}

fn route(shared: &SmShared, request: &crate::server::Request) -> (&'static str, String) {
    let path = request.target.split('?').next().unwrap_or("");
    let token = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = "200 OK";
    let refuse = |error: &str| {
        shared.counters.refused.fetch_add(1, Relaxed);
        (ok, format!(r#"{{"ok":false,"error":"{error}"}}"#))
    };
    match path {
        "/api/apps.connections.open" => {
            if token != Some(APP_TOKEN) {
                return refuse("invalid_auth");
            }
            shared.counters.opens.fetch_add(1, Relaxed);
            let ticket = shared.next_ticket.fetch_add(1, Relaxed);
            (
                ok,
                format!(
                    r#"{{"ok":true,"url":"ws://{}/link/?ticket=bench-{ticket}&app_id=A0BENCH"}}"#,
                    shared.addr
                ),
            )
        }
        "/api/auth.test" => {
            if token != Some(TOKEN) {
                return refuse("invalid_auth");
            }
            (
                ok,
                format!(
                    r#"{{"ok":true,"url":"https://bench.slack.com/","team":"Bench","user":"bench-bot","team_id":"{TEAM}","user_id":"{SELF_ID}","bot_id":"{BOT_ID}","is_enterprise_install":false}}"#
                ),
            )
        }
        "/api/chat.postMessage" => {
            if token != Some(TOKEN) {
                return refuse("invalid_auth");
            }
            let now = Instant::now();
            shared.counters.posts.fetch_add(1, Relaxed);
            let body = String::from_utf8_lossy(&request.body);
            let is_json = request
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json"));
            let (channel, text) = if is_json {
                match serde_json::from_str::<PostArgs<'_>>(&body) {
                    Ok(args) => (args.channel.map(Cow::into_owned), args.text.map(Cow::into_owned)),
                    Err(_) => (None, None),
                }
            } else {
                (form_field(&body, "channel"), form_field(&body, "text"))
            };
            let (Some(channel), Some(text)) = (channel, text) else {
                return refuse("no_text");
            };
            if let Some(phase) = shared.current() {
                phase.echo(Some(&channel), Some(&text), now);
            }
            let ts = format!(
                "1800000000.{:06}",
                shared.counters.posts.load(Relaxed) % 1_000_000
            );
            let text_json = serde_json::to_string(&text).unwrap_or_default();
            (
                ok,
                format!(
                    r#"{{"ok":true,"channel":"{channel}","ts":"{ts}","message":{{"type":"message","user":"{SELF_ID}","bot_id":"{BOT_ID}","text":{text_json},"ts":"{ts}"}}}}"#
                ),
            )
        }
        _ => refuse("unknown_method"),
    }
}

async fn run_session(shared: Arc<SmShared>, ws: Ws) {
    shared.counters.sessions.fetch_add(1, Relaxed);
    let open = shared.counters.open.fetch_add(1, Relaxed) + 1;
    shared.counters.peak_open.fetch_max(open, Relaxed);
    let (sink, mut stream) = ws.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(sink, rx));
    let _ = shared.new_sessions.send(SmSession { cmd: tx.clone() });
    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        #[derive(Deserialize)]
        struct Ack<'a> {
            #[serde(borrow)]
            envelope_id: Cow<'a, str>,
        }
        let Ok(ack) = serde_json::from_str::<Ack<'_>>(&text) else {
            continue;
        };
        let seq = ack
            .envelope_id
            .strip_prefix("env-")
            .and_then(|s| s.parse::<u64>().ok());
        if let (Some(seq), Some(phase)) = (seq, shared.current()) {
            phase.ack(seq);
        }
    }
    shared.counters.open.fetch_sub(1, Relaxed);
    let _ = tx.send(Cmd::Stop);
    let _ = writer.await;
}

async fn write_loop(mut sink: SplitSink<Ws, Message>, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    let hello = r#"{"type":"hello","num_connections":1,"debug_info":{"host":"applink-bench","build_number":1,"approximate_connection_time":18060},"connection_info":{"app_id":"A0BENCH"}}"#;
    if sink.send(Message::text(hello)).await.is_err() {
        return;
    }
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Start(phase) => {
                if push(&mut sink, &phase).await.is_err() {
                    return;
                }
            }
            Cmd::Stop => {
                let _ = sink.send(Message::Close(None)).await;
                return;
            }
        }
    }
}

async fn push(sink: &mut SplitSink<Ws, Message>, phase: &SmPhase) -> Result<(), ()> {
    let (base, n, rate) = phase.phase.shape();
    let start = Instant::now();
    for i in 0..n {
        if let Some(rate) = rate {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            if due > Instant::now() {
                sink.flush().await.map_err(drop)?;
                tokio::time::sleep_until(due).await;
            }
        }
        phase.phase.mark_sent(i);
        sink.feed(Message::text(envelope(base + i as u64)))
            .await
            .map_err(drop)?;
        if rate.is_some() || i % WRITE_SLICE == WRITE_SLICE - 1 {
            sink.flush().await.map_err(drop)?;
        }
    }
    sink.flush().await.map_err(drop)
}

// ---------------------------------------------------------------------------------------------
// The floor

/// The fields of a Socket Mode frame the floor looks at; `payload` stays raw.
#[derive(Deserialize)]
struct FloorEnvelope<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    envelope_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct FloorCallback<'a> {
    #[serde(borrow)]
    event: FloorEvent<'a>,
}

#[derive(Deserialize)]
struct FloorEvent<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    subtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    bot_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

#[derive(serde::Serialize)]
struct Post<'a> {
    channel: &'a str,
    text: &'a str,
}

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

/// `rtm-bench client socket-floor`: [`floor_client`] on a multi-thread runtime, with the
/// same rustls + ring stack as rtm-core as the process default.
pub fn run_floor() -> Result<(), BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(floor_client())
}

/// The thinnest correct Socket Mode echo client: `auth.test` for its own ids,
/// `apps.connections.open`, the websocket; per envelope an ack on the socket at once and, for
/// a message from someone else, a `chat.postMessage` on a task of its own (pipelined; the
/// answer's `ok` is checked). No keepalive, no reconnect, no dedupe.
pub async fn floor_client() -> Result<(), BoxError> {
    let api = env("SLACK_API_URL")?;
    let app = env("SLACK_APP_TOKEN")?;
    let bot = env("SLACK_BOT_TOKEN")?;
    let http = reqwest::Client::new();
    let auth: serde_json::Value = http
        .post(format!("{api}auth.test"))
        .bearer_auth(&bot)
        .send()
        .await?
        .json()
        .await?;
    let me = auth["user_id"].as_str().unwrap_or_default().to_owned();
    let my_bot = auth["bot_id"].as_str().unwrap_or_default().to_owned();
    let open: serde_json::Value = http
        .post(format!("{api}apps.connections.open"))
        .bearer_auth(&app)
        .send()
        .await?
        .json()
        .await?;
    let url = open["url"]
        .as_str()
        .ok_or_else(|| format!("apps.connections.open: {open}"))?;
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let post_url: Arc<str> = format!("{api}chat.postMessage").into();
    let bot: Arc<str> = bot.into();
    let failed = Arc::new(AtomicU64::new(0));
    loop {
        let message = match ws.next().now_or_never() {
            Some(message) => message,
            None => {
                ws.flush().await?;
                ws.next().await
            }
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => return Ok(()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
        };
        let Ok(envelope) = serde_json::from_str::<FloorEnvelope<'_>>(&text) else {
            continue;
        };
        let Some(envelope_id) = envelope.envelope_id.as_deref() else {
            continue;
        };
        let ack = serde_json::to_string(&serde_json::json!({ "envelope_id": envelope_id }))?;
        ws.feed(Message::text(ack)).await?;
        if envelope.kind != "events_api" {
            continue;
        }
        let Some(callback) = envelope
            .payload
            .and_then(|p| serde_json::from_str::<FloorCallback<'_>>(p.get()).ok())
        else {
            continue;
        };
        let event = callback.event;
        let from_me = event.user.as_deref() == Some(me.as_str())
            || (!my_bot.is_empty() && event.bot_id.as_deref() == Some(my_bot.as_str()));
        if event.kind != "message" || event.subtype.is_some() || from_me {
            continue;
        }
        let (Some(channel), Some(text)) = (event.channel.as_deref(), event.text.as_deref()) else {
            continue;
        };
        let body = serde_json::to_vec(&Post { channel, text })?;
        let (http, url, bot, failed) = (http.clone(), post_url.clone(), bot.clone(), failed.clone());
        tokio::spawn(async move {
            let answer = async {
                let response = http
                    .post(&*url)
                    .bearer_auth(&*bot)
                    .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(body)
                    .send()
                    .await?;
                let value: serde_json::Value = response.json().await?;
                Ok::<bool, reqwest::Error>(value["ok"] == true)
            };
            if !matches!(answer.await, Ok(true)) && failed.fetch_add(1, Relaxed) == 0 {
                eprintln!("socket-floor: a chat.postMessage failed");
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario

/// One client session: its echo figures plus the ack checks.
#[derive(Debug, Clone, Default)]
pub struct SmMeasure {
    pub echo: EchoMeasure,
    /// Envelopes never acked, over every phase.
    pub acks_missing: usize,
    pub dup_acks: u64,
    pub wrong_channel: u64,
}

/// Every session of one client.
#[derive(Debug, Clone)]
pub struct SmResults {
    pub spec: ClientSpec,
    pub runs: Vec<SmMeasure>,
}

/// The burst size: echoes here are HTTP calls, so a fifth of the RTM burst.
pub fn burst_n(settings: &Settings) -> usize {
    (settings.throughput_n / 5).max(100)
}

pub async fn run(settings: &Settings, clients: &[ClientSpec]) -> io::Result<Vec<SmResults>> {
    let server = SmServer::start().await?;
    let mut results: Vec<SmResults> = clients
        .iter()
        .map(|spec| SmResults {
            spec: spec.clone(),
            runs: Vec::new(),
        })
        .collect();
    for run in 0..settings.runs {
        for result in &mut results {
            let first = result.runs.first();
            if run > 0 && first.is_some_and(|m| m.echo.error.is_some() || !m.echo.throughput.completed) {
                continue;
            }
            let started = std::time::Instant::now();
            let mut m = session(&server, &result.spec, settings, run)
                .await
                .unwrap_or_else(|e| SmMeasure {
                    echo: EchoMeasure {
                        error: Some(e),
                        ..EchoMeasure::default()
                    },
                    ..SmMeasure::default()
                });
            m.echo.wall = started.elapsed();
            eprintln!(
                "  [run {}/{}] {:<28} {}",
                run + 1,
                settings.runs,
                result.spec.label,
                summary(&m)
            );
            result.runs.push(m);
        }
    }
    Ok(results)
}

fn summary(m: &SmMeasure) -> String {
    if let Some(e) = &m.echo.error {
        return format!("FAILED: {e}");
    }
    let t = &m.echo.throughput;
    let mut s = format!(
        "{}{:>8.0} ev/s  cpu {:>6.2} µs/ev  peak {:>6.1} MB  lost {} dup {}  acks missing {} dup {}",
        if t.completed { "" } else { "INCOMPLETE " },
        t.rate(),
        m.echo.cpu_us_per_event,
        m.echo.peak_rss_kb as f64 / 1024.0,
        t.lost(),
        t.duplicates,
        m.acks_missing,
        m.dup_acks
    );
    for l in &m.echo.latency {
        let _ = write!(s, "  p99 {:.0}µs", l.percentile(99.0));
    }
    if m.echo.reconnects > 0 {
        let _ = write!(s, "  RECONNECTED {}×", m.echo.reconnects);
    }
    s
}

async fn session(
    server: &SmServer,
    spec: &ClientSpec,
    settings: &Settings,
    run: usize,
) -> Result<SmMeasure, String> {
    server.discard_pending_sessions().await;
    let sessions_before = server.counters().sessions.load(Relaxed);
    let counters = server.counters();
    counters.peak_open.store(counters.open.load(Relaxed), Relaxed);
    let log = log_path(settings, &format!("socket-{}-{}", spec.key, run + 1));
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args);
    configure(&mut cmd, &server.api_url(), &log).map_err(|e| e.to_string())?;
    cmd.env("SLACK_APP_TOKEN", APP_TOKEN)
        .env("SLACK_BOT_TOKEN", TOKEN);
    let child = cmd.spawn().map_err(|e| e.to_string())?;
    let pid = child.id().ok_or("no pid")?;
    let Some(session) = server.next_session(Duration::from_secs(30)).await else {
        stop(child).await;
        return Err(format!("did not connect within 30 s ({})", tail(&log)));
    };
    let mut phases = Vec::new();
    let mut ready = false;
    for _ in 0..40 {
        let probe = server.start_phase(&session, 1, Some(1.0));
        let echoed = probe
            .phase
            .wait(Duration::from_millis(500), Duration::from_millis(500))
            .await;
        phases.push(probe);
        if echoed {
            ready = true;
            break;
        }
    }
    if !ready {
        session.stop();
        stop(child).await;
        return Err(format!(
            "connected but echoed nothing within 20 s ({})",
            tail(&log)
        ));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut latency = Vec::new();
    for &rate in &settings.rates {
        let n = (rate * settings.latency_secs).round() as usize;
        let phase = server.start_phase(&session, n, Some(rate));
        let max = Duration::from_secs_f64(settings.latency_secs * 3.0 + 30.0);
        phase.phase.wait(Duration::from_secs(10), max).await;
        phase.wait_for_acks(Duration::from_secs(2)).await;
        latency.push(phase.phase.result());
        phases.push(phase);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let cpu0 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let switches0 = procfs::context_switches(pid).unwrap_or(0);
    let phase = server.start_phase(&session, burst_n(settings), None);
    phase
        .phase
        .wait(Duration::from_secs(15), settings.burst_max)
        .await;
    let cpu1 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let switches1 = procfs::context_switches(pid).unwrap_or(0);
    phase.wait_for_acks(Duration::from_secs(2)).await;
    let throughput = phase.phase.result();
    phases.push(phase);
    let cpu_us_per_event = if throughput.received > 0 {
        (cpu1 - cpu0) * 1e6 / throughput.received as f64
    } else {
        f64::NAN
    };
    let peak_rss_kb = procfs::peak_rss_kb(pid).unwrap_or(0);
    // Sockets opened beyond the most the client held at once (Socket Mode clients hold several).
    let opened = server.counters().sessions.load(Relaxed) - sessions_before;
    let reconnects = opened.saturating_sub(server.counters().peak_open.load(Relaxed).max(1));
    session.stop();
    stop(child).await;
    // Probes that were never echoed (the client was not ready yet) are not counted as lost acks.
    let counted = phases
        .iter()
        .filter(|p| p.phase.result().received > 0 || p.phase.shape().1 > 1);
    let (mut acks_missing, mut dup_acks, mut wrong_channel) = (0, 0, 0);
    for p in counted {
        acks_missing += p.acks_missing();
        dup_acks += p.dup_acks.load(Relaxed) + p.stray_acks.load(Relaxed);
        wrong_channel += p.wrong_channel.load(Relaxed);
    }
    Ok(SmMeasure {
        echo: EchoMeasure {
            switches_per_event: if throughput.received > 0 {
                switches1.saturating_sub(switches0) as f64 / throughput.received as f64
            } else {
                f64::NAN
            },
            throughput,
            cpu_us_per_event,
            peak_rss_kb,
            latency,
            error: None,
            wall: Duration::ZERO,
            reconnects,
        },
        acks_missing,
        dup_acks,
        wrong_channel,
    })
}

/// Smoke-mode failures: any session that failed, lost or duplicated an echo, or left an
/// envelope unacked.
pub fn smoke_failures(results: &[SmResults]) -> Vec<String> {
    let mut failures = Vec::new();
    for r in results {
        for m in &r.runs {
            let t = &m.echo.throughput;
            let lost: usize = t.lost() + m.echo.latency.iter().map(|l| l.lost()).sum::<usize>();
            let dup: u64 = t.duplicates + m.echo.latency.iter().map(|l| l.duplicates).sum::<u64>();
            if let Some(e) = &m.echo.error {
                failures.push(format!("socket mode {}: {e}", r.spec.label));
            } else if !t.completed
                || lost > 0
                || dup > 0
                || m.acks_missing > 0
                || m.dup_acks > 0
                || m.wrong_channel > 0
            {
                failures.push(format!(
                    "socket mode {}: lost {lost} / duplicated {dup} echoes, {} envelopes unacked, {} acked twice, {} echoes in the wrong channel",
                    r.spec.label, m.acks_missing, m.dup_acks, m.wrong_channel
                ));
            }
        }
    }
    failures
}

/// The Markdown table (inside the generated section of BENCHMARKS.md).
pub fn markdown(w: &mut String, results: &[SmResults], settings: &Settings) {
    if results.is_empty() {
        return;
    }
    struct Row<'a> {
        label: &'a str,
        is_floor: bool,
        ok: usize,
        rate: f64,
        cpu: f64,
        rss: f64,
        p99: Vec<f64>,
        lost: usize,
        dup: u64,
        unacked: usize,
        error: Option<String>,
    }
    let rows: Vec<Row<'_>> = results
        .iter()
        .map(|r| {
            let ok: Vec<&SmMeasure> = r.runs.iter().filter(|m| m.echo.error.is_none()).collect();
            let complete: Vec<&&SmMeasure> = ok.iter().filter(|m| m.echo.throughput.completed).collect();
            Row {
                label: r.spec.label,
                is_floor: r.spec.is_floor,
                ok: ok.len(),
                rate: median(complete.iter().map(|m| m.echo.throughput.rate())),
                cpu: median(complete.iter().map(|m| m.echo.cpu_us_per_event)),
                rss: median(ok.iter().map(|m| m.echo.peak_rss_kb as f64 / 1024.0)),
                p99: (0..settings.rates.len())
                    .map(|i| {
                        median(
                            ok.iter()
                                .filter_map(|m| m.echo.latency.get(i))
                                .map(|l| l.percentile(99.0)),
                        )
                    })
                    .collect(),
                lost: ok.iter().map(|m| m.echo.throughput.lost()).sum(),
                dup: ok.iter().map(|m| m.echo.throughput.duplicates).sum(),
                unacked: ok.iter().map(|m| m.acks_missing).sum(),
                error: r.runs.iter().find_map(|m| m.echo.error.clone()),
            }
        })
        .collect();
    let floor = rows.iter().find(|r| r.is_floor && r.ok > 0);
    let f = |pick: fn(&Row<'_>) -> f64| floor.map_or(f64::NAN, pick);
    let _ = writeln!(
        w,
        "### 6. Socket Mode echo: N = {} envelopes, pushed as fast as the socket takes them\n",
        num(burst_n(settings) as f64, 0)
    );
    let _ = writeln!(
        w,
        "A Socket Mode load server in the harness (`bench/src/socket_mode.rs`) serves `apps.connections.open`, \
         `auth.test` and `chat.postMessage` over HTTP/1.1 keep-alive and pushes `events_api` envelopes (the same \
         ~330-byte `message` event, a sequence number in `text`) on the `/link/` websocket; it checks that every \
         envelope is acked once and every echo (`chat.postMessage` with the same text in the same channel) arrives \
         once. Events are spread over {} channels so that the real bot's default per-channel `chat.postMessage` \
         pacing (1/s, bursts of 3) never binds. \"ours\" is the real `examples/socket_echo_bot` binary; the floor \
         (`rtm-bench client socket-floor`) is reqwest + tokio-tungstenite + serde_json: ack on the socket, then \
         each post on a task of its own. Throughput is from the first envelope written to the last echo \
         received; CPU is the client process's over the burst, per echoed event. Fixed-rate phases first \
         ({} s each), then the burst; {} run(s), medians.\n",
        num(CHANNELS as f64, 0),
        settings.latency_secs,
        settings.runs
    );
    let mut head =
        "| client | events/s | × floor | client CPU µs/event | × floor | peak RSS MB | × floor |".to_owned();
    let mut rule = "|---|--:|--:|--:|--:|--:|--:|".to_owned();
    for rate in &settings.rates {
        let _ = write!(head, " p99 ms at {}/s | × floor |", num(*rate, 0));
        rule.push_str("--:|--:|");
    }
    head.push_str(" lost / dup echoes, unacked | runs |");
    rule.push_str("--:|--:|");
    let _ = writeln!(w, "{head}\n{rule}");
    for r in &rows {
        if r.ok == 0 {
            let _ = writeln!(
                w,
                "| {} | failed: {} |",
                r.label,
                r.error.clone().unwrap_or_default()
            );
            continue;
        }
        let mut line = format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            num(r.rate, 0),
            ratio(r.rate, f(|x| x.rate)),
            num(r.cpu, 2),
            ratio(r.cpu, f(|x| x.cpu)),
            num(r.rss, 1),
            ratio(r.rss, f(|x| x.rss)),
        );
        for (i, p) in r.p99.iter().enumerate() {
            let fp = floor.and_then(|fl| fl.p99.get(i).copied()).unwrap_or(f64::NAN);
            let _ = write!(line, " {} | {} |", num(p / 1000.0, 2), ratio(*p, fp));
        }
        let _ = write!(line, " {} / {}, {} | {} |", r.lost, r.dup, r.unacked, r.ok);
        let _ = writeln!(w, "{line}");
    }
    let _ = writeln!(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_carry_their_sequence_number_and_channel() {
        let v: serde_json::Value = serde_json::from_str(&envelope(12_345)).unwrap();
        assert_eq!(v["envelope_id"], "env-12345");
        assert_eq!(v["type"], "events_api");
        assert_eq!(v["payload"]["event"]["text"], "bench 12345");
        assert_eq!(v["payload"]["event"]["channel"], "C002345");
    }

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(form_decode("bench+12%2C3"), "bench 12,3");
        assert_eq!(
            form_field("channel=C000001&text=bench+7", "text").as_deref(),
            Some("bench 7")
        );
        assert_eq!(form_decode("100%"), "100%");
    }

    #[test]
    fn acks_are_counted_once() {
        let phase = SmPhase::new(10, 3, None);
        for seq in [10, 11, 11, 99] {
            phase.ack(seq);
        }
        assert_eq!(phase.acks_missing(), 1);
        assert_eq!(phase.dup_acks.load(Relaxed), 1);
        assert_eq!(phase.stray_acks.load(Relaxed), 1);
    }
}
