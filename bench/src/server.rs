//! The load server: a small, fast RTM server on 127.0.0.1 built for measuring clients.
//!
//! HTTP is served by hand (`rtm.connect`, `rtm.start`, `auth.test`, and the websocket upgrade),
//! like the bundled emulator does, but every response closes its connection so an idle client
//! keeps exactly one socket (its websocket) open. Each websocket session has a writer task that
//! pushes `message` events (a sequence number in the text) as fast as the socket takes them or at
//! a fixed rate, interleaved with the replies, and a reader task that answers every client frame
//! (`{"ok":true,"reply_to":..}` for messages, `pong` for JSON pings) and records each echo:
//! when it arrived, and whether it was lost, duplicated, reordered or unexpected.

use std::{
    borrow::Cow,
    collections::HashMap,
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::Duration,
};

use futures::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message, Utf8Bytes,
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
};

/// The token the load server accepts.
pub const TOKEN: &str = "xoxb-bench-token";
/// The channel every event is posted in.
pub const CHANNEL: &str = "C0BENCH";
/// The (other) user every event comes from.
pub const SENDER: &str = "U0SENDER";
/// The bot's own user id, as `rtm.connect` and `auth.test` report it.
pub const SELF_ID: &str = "U0BOT";
const TEAM: &str = "T0BENCH";
/// The event a sink phase ends with; clients answer it with a message whose text is `done`.
pub const END_MARKER: &str = r#"{"type":"bench_end"}"#;
/// Events written per writer turn before replies get their turn again.
const WRITE_SLICE: usize = 64;
const MAX_HEAD: usize = 32 * 1024;

type Ws = WebSocketStream<TcpStream>;

/// Counters over the server's lifetime.
#[derive(Debug, Default)]
pub struct Counters {
    pub connect_calls: AtomicU64,
    pub rate_limited: AtomicU64,
    pub sessions: AtomicU64,
    pub json_pings: AtomicU64,
    pub ws_pings: AtomicU64,
}

/// A running load server; dropping it stops accepting.
#[derive(Debug)]
pub struct LoadServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    sessions: tokio::sync::Mutex<mpsc::UnboundedReceiver<Session>>,
    accept: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    bucket: Option<Mutex<Bucket>>,
    next_ticket: AtomicU64,
    new_sessions: mpsc::UnboundedSender<Session>,
    counters: Counters,
    live: AtomicUsize,
}

/// A token bucket for `rtm.connect`: `rate` per second, bursts of `rate / 10`.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Drop for LoadServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl LoadServer {
    /// Binds 127.0.0.1 on a free port. `connect_rate` limits `rtm.connect` calls per second
    /// (HTTP 429 with `Retry-After: 1` beyond it).
    pub async fn start(connect_rate: Option<u32>) -> io::Result<LoadServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let bucket = connect_rate.map(|rate| {
            let rate = f64::from(rate.max(1));
            let capacity = (rate / 10.0).max(1.0);
            Mutex::new(Bucket {
                rate,
                capacity,
                tokens: capacity,
                last: Instant::now(),
            })
        });
        let shared = Arc::new(Shared {
            addr,
            bucket,
            next_ticket: AtomicU64::new(1),
            new_sessions: tx,
            counters: Counters::default(),
            live: AtomicUsize::new(0),
        });
        let accept = tokio::spawn(accept_loop(shared.clone(), listener));
        Ok(LoadServer {
            addr,
            shared,
            sessions: tokio::sync::Mutex::new(rx),
            accept,
        })
    }

    /// The Web API base URL clients are pointed at (`SLACK_API_URL`).
    pub fn api_url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Forgets sessions that opened and were not taken (e.g. a previous client's reconnect).
    pub async fn discard_pending_sessions(&self) {
        let mut rx = self.sessions.lock().await;
        while rx.try_recv().is_ok() {}
    }

    /// The next websocket session that received `hello`, in connection order.
    pub async fn next_session(&self, timeout: Duration) -> Option<Session> {
        let mut rx = self.sessions.lock().await;
        tokio::time::timeout(timeout, rx.recv()).await.ok().flatten()
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
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

/// One parsed HTTP request head (and its body).
pub(crate) struct Request {
    pub(crate) target: String,
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

async fn serve_connection(shared: Arc<Shared>, mut tcp: TcpStream) {
    let mut buf = Vec::with_capacity(2048);
    let Some((request, head_len)) = read_request(&mut tcp, &mut buf).await else {
        return;
    };
    if request.target.starts_with("/ws/") {
        let Some(key) = request.header("sec-websocket-key") else {
            let _ = respond(
                &mut tcp,
                "400 Bad Request",
                "",
                r#"{"ok":false,"error":"not_a_websocket"}"#,
            )
            .await;
            return;
        };
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        if tcp.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let leftover = buf.split_off(head_len.min(buf.len()) + request.body.len());
        let config = WebSocketConfig::default();
        let ws = WebSocketStream::from_partially_read(tcp, leftover, Role::Server, Some(config)).await;
        run_session(shared, ws).await;
        return;
    }
    let (status, extra, body) = route(&shared, &request);
    let _ = respond(&mut tcp, status, &extra, &body).await;
}

async fn respond(tcp: &mut TcpStream, status: &str, extra: &str, body: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    tcp.write_all(response.as_bytes()).await?;
    tcp.shutdown().await
}

/// Reads one request (head and `Content-Length` body); returns it and the head's length.
pub(crate) async fn read_request(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(Request, usize)> {
    let head_len = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let read = tokio::time::timeout(Duration::from_secs(30), tcp.read_buf(buf))
            .await
            .ok()?
            .ok()?;
        if read == 0 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let _method = first.next()?;
    let target = first.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if length > 1024 * 1024 {
        return None;
    }
    while buf.len() < head_len + length {
        let read = tokio::time::timeout(Duration::from_secs(30), tcp.read_buf(buf))
            .await
            .ok()?
            .ok()?;
        if read == 0 {
            return None;
        }
    }
    let body = buf[head_len..head_len + length].to_vec();
    Some((
        Request {
            target,
            headers,
            body,
        },
        head_len,
    ))
}

/// Finds `token=` in a query string or form body.
fn form_token(form: &str) -> Option<&str> {
    form.split('&').find_map(|pair| pair.strip_prefix("token="))
}

fn route(shared: &Shared, request: &Request) -> (&'static str, String, String) {
    let (path, query) = request.target.split_once('?').unwrap_or((&request.target, ""));
    let body = String::from_utf8_lossy(&request.body);
    let token = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| form_token(query))
        .or_else(|| form_token(&body));
    let ok = "200 OK";
    let method = path.strip_prefix("/api/").unwrap_or("");
    if !matches!(method, "rtm.connect" | "rtm.start" | "auth.test") {
        return (
            ok,
            String::new(),
            r#"{"ok":false,"error":"unknown_method"}"#.to_owned(),
        );
    }
    if token != Some(TOKEN) {
        let error = if token.is_none() {
            "not_authed"
        } else {
            "invalid_auth"
        };
        return (ok, String::new(), format!(r#"{{"ok":false,"error":"{error}"}}"#));
    }
    if method == "auth.test" {
        let body = format!(
            r#"{{"ok":true,"url":"https://bench.slack.com/","team":"Bench","user":"bench-bot","team_id":"{TEAM}","user_id":"{SELF_ID}","bot_id":"B0BOT","is_enterprise_install":false}}"#
        );
        return (ok, String::new(), body);
    }
    shared.counters.connect_calls.fetch_add(1, Relaxed);
    if let Some(bucket) = &shared.bucket
        && !bucket.lock().unwrap_or_else(|p| p.into_inner()).take()
    {
        shared.counters.rate_limited.fetch_add(1, Relaxed);
        return (
            "429 Too Many Requests",
            "Retry-After: 1\r\n".to_owned(),
            r#"{"ok":false,"error":"ratelimited"}"#.to_owned(),
        );
    }
    let ticket = shared.next_ticket.fetch_add(1, Relaxed);
    let body = format!(
        r#"{{"ok":true,"url":"ws://{}/ws/{ticket}","team":{{"id":"{TEAM}","name":"Bench","domain":"bench"}},"self":{{"id":"{SELF_ID}","name":"bench-bot"}}}}"#,
        shared.addr
    );
    (ok, String::new(), body)
}

/// What a session's writer is asked to do.
enum Cmd {
    /// A reply or pong, written before further events.
    Frame(Utf8Bytes),
    /// Push a phase's events.
    Start(Arc<Phase>),
    Stop,
}

/// The handle the benchmark drives one websocket session with.
#[derive(Debug)]
pub struct Session {
    cmd: mpsc::UnboundedSender<Cmd>,
    state: Arc<SessionState>,
}

#[derive(Debug, Default)]
struct SessionState {
    phase: Mutex<Option<Arc<Phase>>>,
    next_seq: AtomicU64,
}

impl Session {
    fn phase(&self, n: usize, rate: Option<f64>, expect_echoes: bool) -> Arc<Phase> {
        let base = self.state.next_seq.fetch_add(n as u64, Relaxed);
        let phase = Arc::new(Phase::new(base, n, rate, expect_echoes));
        *self.state.phase.lock().unwrap_or_else(|p| p.into_inner()) = Some(phase.clone());
        let _ = self.cmd.send(Cmd::Start(phase.clone()));
        phase
    }

    /// Pushes `n` events as fast as the socket takes them; each should come back as an echo.
    pub fn burst(&self, n: usize) -> Arc<Phase> {
        self.phase(n, None, true)
    }

    /// Pushes `n` events at `rate` per second; each should come back as an echo.
    pub fn paced(&self, n: usize, rate: f64) -> Arc<Phase> {
        self.phase(n, Some(rate), true)
    }

    /// Pushes `n` events as fast as possible, then [`END_MARKER`]; the client answers only the
    /// marker (with a `done` message).
    pub fn sink(&self, n: usize) -> Arc<Phase> {
        self.phase(n, None, false)
    }

    pub fn stop(&self) {
        let _ = self.cmd.send(Cmd::Stop);
    }
}

/// One batch of events on one session and what came back.
#[derive(Debug)]
pub struct Phase {
    base: u64,
    n: usize,
    rate: Option<f64>,
    expect_echoes: bool,
    epoch: Instant,
    /// Nanoseconds after `epoch` plus one; zero means "not yet".
    sent: Vec<AtomicU64>,
    recv: Vec<AtomicU64>,
    first_sent: AtomicU64,
    last_recv: AtomicU64,
    done_at: AtomicU64,
    distinct: AtomicUsize,
    duplicates: AtomicU64,
    reordered: AtomicU64,
    stray: AtomicU64,
    wrong: AtomicU64,
    max_seen: AtomicU64,
    /// Time of the last echo (or the marker answer), for stall detection.
    progress: AtomicU64,
}

/// What a phase measured.
#[derive(Debug, Clone, Default)]
pub struct PhaseResult {
    pub n: usize,
    pub received: usize,
    pub duplicates: u64,
    pub reordered: u64,
    pub stray: u64,
    pub wrong: u64,
    pub completed: bool,
    /// First event written to the last echo received (or the `done` answer, for sinks).
    pub elapsed: Duration,
    /// Echo round trips in microseconds, sorted.
    pub latencies_us: Vec<f64>,
}

impl PhaseResult {
    pub fn lost(&self) -> usize {
        self.n.saturating_sub(self.received)
    }

    pub fn rate(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.received as f64 / self.elapsed.as_secs_f64()
        }
    }

    pub fn percentile(&self, p: f64) -> f64 {
        percentile(&self.latencies_us, p)
    }
}

/// Nearest-rank percentile of sorted values (`p` in 0..=100).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Phase {
    pub(crate) fn new(base: u64, n: usize, rate: Option<f64>, expect_echoes: bool) -> Phase {
        let slots = if expect_echoes { n } else { 0 };
        Phase {
            base,
            n,
            rate,
            expect_echoes,
            epoch: Instant::now(),
            sent: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            recv: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            first_sent: AtomicU64::new(0),
            last_recv: AtomicU64::new(0),
            done_at: AtomicU64::new(0),
            distinct: AtomicUsize::new(0),
            duplicates: AtomicU64::new(0),
            reordered: AtomicU64::new(0),
            stray: AtomicU64::new(0),
            wrong: AtomicU64::new(0),
            max_seen: AtomicU64::new(0),
            progress: AtomicU64::new(0),
        }
    }

    fn stamp(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64 + 1
    }

    /// Records that event `idx` of the phase was written now (for other servers' writers).
    pub(crate) fn mark_sent(&self, idx: usize) {
        let t = self.stamp(Instant::now());
        if idx == 0 {
            self.first_sent.store(t, Relaxed);
        }
        if let Some(slot) = self.sent.get(idx) {
            slot.store(t, Relaxed);
        }
    }

    /// The first sequence number, the event count and the fixed rate (`None`: a burst).
    pub(crate) fn shape(&self) -> (u64, usize, Option<f64>) {
        (self.base, self.n, self.rate)
    }

    pub fn is_complete(&self) -> bool {
        if self.expect_echoes {
            self.distinct.load(Relaxed) >= self.n
        } else {
            self.done_at.load(Relaxed) != 0
        }
    }

    /// Waits until every echo arrived (or the `done` answer), giving up when nothing new
    /// arrived for `stall` or after `max` in all. Returns whether the phase completed.
    pub async fn wait(&self, stall: Duration, max: Duration) -> bool {
        let started = Instant::now();
        let stall_ns = stall.as_nanos() as u64;
        loop {
            if self.is_complete() {
                return true;
            }
            let now = self.stamp(Instant::now());
            let last = self
                .progress
                .load(Relaxed)
                .max(self.first_sent.load(Relaxed))
                .max(1);
            if started.elapsed() >= max || now.saturating_sub(last) > stall_ns {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The phase's start as an instant (the first event written).
    pub fn first_sent(&self) -> Option<Instant> {
        let t = self.first_sent.load(Relaxed);
        (t != 0).then(|| self.epoch + Duration::from_nanos(t - 1))
    }

    /// The last echo (or the `done` answer) as an instant.
    pub fn last_received(&self) -> Option<Instant> {
        let t = if self.expect_echoes {
            self.last_recv.load(Relaxed)
        } else {
            self.done_at.load(Relaxed)
        };
        (t != 0).then(|| self.epoch + Duration::from_nanos(t - 1))
    }

    pub fn result(&self) -> PhaseResult {
        let first = self.first_sent.load(Relaxed);
        let last = if self.expect_echoes {
            self.last_recv.load(Relaxed)
        } else {
            self.done_at.load(Relaxed)
        };
        let elapsed = if first != 0 && last > first {
            Duration::from_nanos(last - first)
        } else {
            Duration::ZERO
        };
        let mut latencies_us: Vec<f64> = self
            .sent
            .iter()
            .zip(&self.recv)
            .filter_map(|(s, r)| {
                let (s, r) = (s.load(Relaxed), r.load(Relaxed));
                (s != 0 && r >= s).then(|| (r - s) as f64 / 1000.0)
            })
            .collect();
        latencies_us.sort_by(f64::total_cmp);
        PhaseResult {
            n: self.n,
            received: if self.expect_echoes {
                self.distinct.load(Relaxed)
            } else {
                self.n
            },
            duplicates: self.duplicates.load(Relaxed),
            reordered: self.reordered.load(Relaxed),
            stray: self.stray.load(Relaxed),
            wrong: self.wrong.load(Relaxed),
            completed: self.is_complete(),
            elapsed,
            latencies_us,
        }
    }

    /// Records one client `message` frame.
    pub(crate) fn record(&self, channel: Option<&str>, text: Option<&str>, at: Instant) {
        let t = self.stamp(at);
        self.progress.store(t, Relaxed);
        let Some(text) = text else {
            self.wrong.fetch_add(1, Relaxed);
            return;
        };
        if text == "done" {
            let _ = self.done_at.compare_exchange(0, t, Relaxed, Relaxed);
            return;
        }
        let Some(seq) = text.strip_prefix("bench ").and_then(|s| s.parse::<u64>().ok()) else {
            self.wrong.fetch_add(1, Relaxed);
            return;
        };
        if channel != Some(CHANNEL) {
            self.wrong.fetch_add(1, Relaxed);
        }
        if !self.expect_echoes || seq < self.base || seq >= self.base + self.n as u64 {
            self.stray.fetch_add(1, Relaxed);
            return;
        }
        let idx = (seq - self.base) as usize;
        if self.recv[idx].compare_exchange(0, t, Relaxed, Relaxed).is_err() {
            self.duplicates.fetch_add(1, Relaxed);
            return;
        }
        self.last_recv.fetch_max(t, Relaxed);
        if self.max_seen.fetch_max(idx as u64 + 1, Relaxed) > idx as u64 + 1 {
            self.reordered.fetch_add(1, Relaxed);
        }
        self.distinct.fetch_add(1, Relaxed);
    }
}

/// A realistic `message` event (the fields captured RTM traffic carries) with `seq` in its text.
pub fn event_text(seq: u64) -> String {
    event_text_in(seq, CHANNEL)
}

/// [`event_text`] in another channel.
pub fn event_text_in(seq: u64, channel: &str) -> String {
    let secs = 1_700_000_000 + seq / 1_000_000;
    let micros = seq % 1_000_000;
    format!(
        r#"{{"type":"message","channel":"{channel}","user":"{SENDER}","text":"bench {seq}","ts":"{secs}.{micros:06}","client_msg_id":"00000000-0000-4000-8000-{seq:012}","suppress_notification":false,"team":"{TEAM}","user_team":"{TEAM}","source_team":"{TEAM}","event_ts":"{secs}.{micros:06}"}}"#
    )
}

async fn run_session(shared: Arc<Shared>, ws: Ws) {
    shared.counters.sessions.fetch_add(1, Relaxed);
    shared.live.fetch_add(1, Relaxed);
    let (sink, stream) = ws.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(SessionState::default());
    let writer = tokio::spawn(write_loop(sink, rx));
    let _ = shared.new_sessions.send(Session {
        cmd: tx.clone(),
        state: state.clone(),
    });
    read_loop(&shared, stream, &state, &tx).await;
    let _ = tx.send(Cmd::Stop);
    drop(tx);
    let _ = writer.await;
    shared.live.fetch_sub(1, Relaxed);
}

struct Job {
    phase: Arc<Phase>,
    next: usize,
    end_marker_sent: bool,
}

async fn write_loop(mut sink: SplitSink<Ws, Message>, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    if sink
        .send(Message::Text(r#"{"type":"hello"}"#.into()))
        .await
        .is_err()
    {
        return;
    }
    let mut job: Option<Job> = None;
    // Frames fed but not yet flushed.
    let mut dirty = false;
    loop {
        loop {
            match rx.try_recv() {
                Ok(Cmd::Frame(text)) => {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        return;
                    }
                    dirty = true;
                }
                Ok(Cmd::Start(phase)) => {
                    job = Some(Job {
                        phase,
                        next: 0,
                        end_marker_sent: false,
                    })
                }
                Ok(Cmd::Stop) => {
                    let _ = sink.send(Message::Close(None)).await;
                    return;
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        let mut next_due = None;
        if let Some(j) = &mut job {
            let phase = j.phase.clone();
            let due = match phase.rate {
                None => phase.n,
                Some(rate) => {
                    let elapsed = phase.epoch.elapsed().as_secs_f64();
                    ((elapsed * rate) as usize + 1).min(phase.n)
                }
            };
            let upto = due.min(j.next + WRITE_SLICE);
            while j.next < upto {
                let t = phase.stamp(Instant::now());
                if j.next == 0 {
                    phase.first_sent.store(t, Relaxed);
                }
                if phase.expect_echoes {
                    phase.sent[j.next].store(t, Relaxed);
                }
                let text = event_text(phase.base + j.next as u64);
                if sink.feed(Message::Text(text.into())).await.is_err() {
                    return;
                }
                j.next += 1;
                dirty = true;
            }
            if j.next >= phase.n {
                if !phase.expect_echoes && !j.end_marker_sent {
                    if sink.feed(Message::Text(END_MARKER.into())).await.is_err() {
                        return;
                    }
                    j.end_marker_sent = true;
                    dirty = true;
                }
                job = None;
            } else if let Some(rate) = phase.rate
                && j.next >= due
            {
                next_due = Some(phase.epoch + Duration::from_secs_f64(j.next as f64 / rate));
            }
        }
        if dirty {
            if sink.flush().await.is_err() {
                return;
            }
            dirty = false;
            continue;
        }
        if job.is_some() && next_due.is_none() {
            continue;
        }
        let cmd = match next_due {
            Some(at) => tokio::select! {
                cmd = rx.recv() => cmd,
                () = tokio::time::sleep_until(at) => continue,
            },
            None => rx.recv().await,
        };
        match cmd {
            Some(Cmd::Frame(text)) => {
                if sink.feed(Message::Text(text)).await.is_err() {
                    return;
                }
                dirty = true;
            }
            Some(Cmd::Start(phase)) => {
                job = Some(Job {
                    phase,
                    next: 0,
                    end_marker_sent: false,
                })
            }
            Some(Cmd::Stop) => {
                let _ = sink.send(Message::Close(None)).await;
                return;
            }
            None => return,
        }
    }
}

/// The client frame fields the server looks at.
#[derive(Deserialize)]
struct ClientFrame<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    time: Option<&'a RawValue>,
}

async fn read_loop(
    shared: &Shared,
    mut stream: SplitStream<Ws>,
    state: &SessionState,
    tx: &mpsc::UnboundedSender<Cmd>,
) {
    let mut ts = 0u64;
    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Ping(_)) => {
                shared.counters.ws_pings.fetch_add(1, Relaxed);
                continue;
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let now = Instant::now();
        let Ok(frame) = serde_json::from_str::<ClientFrame<'_>>(&text) else {
            continue;
        };
        match frame.kind.as_deref() {
            Some("ping") => {
                shared.counters.json_pings.fetch_add(1, Relaxed);
                if let Some(id) = frame.id {
                    let pong = match frame.time {
                        Some(time) => format!(r#"{{"type":"pong","reply_to":{id},"time":{}}}"#, time.get()),
                        None => format!(r#"{{"type":"pong","reply_to":{id}}}"#),
                    };
                    let _ = tx.send(Cmd::Frame(pong.into()));
                }
            }
            Some("message") => {
                if let Some(id) = frame.id {
                    ts += 1;
                    let text_json =
                        serde_json::to_string(frame.text.as_deref().unwrap_or("")).unwrap_or_default();
                    let reply = format!(
                        r#"{{"ok":true,"reply_to":{id},"ts":"1800000000.{ts:06}","text":{text_json}}}"#
                    );
                    let _ = tx.send(Cmd::Frame(reply.into()));
                }
                let phase = state.phase.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(phase) = phase {
                    phase.record(frame.channel.as_deref(), frame.text.as_deref(), now);
                }
            }
            Some(_) => {
                if let Some(id) = frame.id {
                    let _ = tx.send(Cmd::Frame(format!(r#"{{"ok":true,"reply_to":{id}}}"#).into()));
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn events_carry_their_sequence_number() {
        let v: serde_json::Value = serde_json::from_str(&event_text(1_234_567)).unwrap();
        assert_eq!(v["text"], "bench 1234567");
        assert_eq!(v["ts"], "1700000001.234567");
    }

    #[test]
    fn phase_counts_lost_duplicated_and_reordered() {
        let phase = Phase::new(10, 4, None, true);
        let now = Instant::now();
        for i in 0..4 {
            phase.sent[i].store(1, Relaxed);
        }
        for seq in [10, 12, 11, 12, 99] {
            phase.record(Some(CHANNEL), Some(&format!("bench {seq}")), now);
        }
        let r = phase.result();
        assert_eq!(
            (r.received, r.lost(), r.duplicates, r.reordered, r.stray),
            (3, 1, 1, 1, 1)
        );
        assert!(!r.completed);
    }
}
