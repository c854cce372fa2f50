//! State shared by the handle and every task of one emulator: settings, counters, connect
//! faults and tickets, the open sockets, the recorded client frames and the `ts` clock.
//!
//! Locks are `std` mutexes held for a few statements and never across an `.await`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::builder::Config;
use super::frames;
use super::gate::Gate;
use super::ratelimit::{TokenBucket, WindowLimiter};
use super::workspace::{Post, Workspace};
use super::ws::Out;

/// Locks a mutex, ignoring poisoning: the emulator's data stays usable after a panic elsewhere.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything one emulator shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) config: Config,
    pub(super) addr: SocketAddr,
    pub(super) connects: Mutex<ConnectState>,
    pub(super) sockets: Mutex<Sockets>,
    /// Every JSON frame clients sent, in arrival order.
    pub(super) sent: Mutex<Vec<Value>>,
    /// How many of `sent` are not pings; waiters watch it.
    pub(super) sent_non_ping: watch::Sender<usize>,
    /// Open sessions that got `hello`; waiters watch it.
    pub(super) ready: watch::Sender<usize>,
    pub(super) connect_calls: AtomicUsize,
    pub(super) sockets_opened: AtomicUsize,
    pub(super) live_sockets: AtomicUsize,
    pub(super) silent: Arc<AtomicBool>,
    /// Client frames are not read (writes go on) while set.
    pub(super) reading_stopped: Arc<AtomicBool>,
    /// RTM frames go unanswered while the websocket layer stays healthy.
    pub(super) rtm_stalled: AtomicBool,
    /// Set once, when the emulator stops; the listener and HTTP connections watch it.
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) message_limit: Mutex<Option<TokenBucket>>,
    /// Channels, users, messages, the bot's posts, Web API calls and faults.
    pub(super) workspace: Mutex<Workspace>,
    /// How many posts the ledger holds; waiters watch it.
    pub(super) posts_count: watch::Sender<usize>,
    /// Socket Mode: tickets, sockets, acks, redeliveries.
    pub(super) socket_mode: Mutex<super::socket_mode::SocketModeState>,
    /// Socket Mode sockets open and under the cap; waiters watch it.
    pub(super) socket_mode_ready: watch::Sender<usize>,
    /// Acks received; waiters watch it.
    pub(super) acks_count: watch::Sender<usize>,
    pub(super) redelivery: super::socket_mode::Redelivery,
    /// `response_url`s handed out and the POSTs they got.
    pub(super) response_urls: super::response_url::ResponseUrls,
    clock: TsClock,
}

impl Shared {
    pub(super) fn new(config: Config, addr: SocketAddr) -> Self {
        let now = Instant::now();
        let message_limit = config
            .message_rate_limit
            .map(|(per_second, burst)| TokenBucket::new(per_second, burst, now));
        let connects = ConnectState::new(config.max_connects_per_sec);
        let workspace = Workspace::new(&config);
        Self {
            config,
            addr,
            connects: Mutex::new(connects),
            sockets: Mutex::new(Sockets::default()),
            sent: Mutex::new(Vec::new()),
            sent_non_ping: watch::Sender::new(0),
            ready: watch::Sender::new(0),
            connect_calls: AtomicUsize::new(0),
            sockets_opened: AtomicUsize::new(0),
            live_sockets: AtomicUsize::new(0),
            silent: Arc::new(AtomicBool::new(false)),
            reading_stopped: Arc::new(AtomicBool::new(false)),
            rtm_stalled: AtomicBool::new(false),
            shutdown: watch::Sender::new(false),
            message_limit: Mutex::new(message_limit),
            workspace: Mutex::new(workspace),
            posts_count: watch::Sender::new(0),
            socket_mode: Mutex::default(),
            socket_mode_ready: watch::Sender::new(0),
            acks_count: watch::Sender::new(0),
            redelivery: super::socket_mode::Redelivery::default(),
            response_urls: super::response_url::ResponseUrls::default(),
            clock: TsClock::new(),
        }
    }

    pub(super) fn is_silent(&self) -> bool {
        self.silent.load(Ordering::SeqCst)
    }

    /// Whether client RTM frames go unanswered (silence or an RTM-level stall).
    pub(super) fn ignores_rtm(&self) -> bool {
        self.is_silent() || self.rtm_stalled.load(Ordering::SeqCst)
    }

    /// The next message `ts`: unique, strictly increasing, ASCII-sortable.
    pub(super) fn next_ts(&self) -> String {
        self.clock.next()
    }

    /// Records a parsed client frame.
    pub(super) fn record(&self, frame: Value, is_ping: bool) {
        lock(&self.sent).push(frame);
        if !is_ping {
            self.sent_non_ping.send_modify(|n| *n += 1);
        }
    }

    /// Stores a message the bot posted in its channel's history and in the posts ledger.
    pub(super) fn record_post(&self, post: Post, message: Value) {
        {
            let mut workspace = lock(&self.workspace);
            workspace.store(&post.channel, message);
            workspace.posts.push(post);
        }
        self.posts_count.send_modify(|n| *n += 1);
    }

    /// Takes a message token; `true` when there is no limit.
    pub(super) fn allow_message(&self) -> bool {
        lock(&self.message_limit)
            .as_mut()
            .is_none_or(|bucket| bucket.try_take(Instant::now()))
    }

    /// Queues a frame for every session that got `hello` and was not told `goodbye`, in the
    /// same order for all.
    pub(super) fn push(&self, message: &Message) {
        let sockets = lock(&self.sockets);
        for entry in sockets.entries.iter().filter(|e| e.ready && !e.retiring) {
            // A closed receiver means the session is ending; its frames are moot.
            let _ = entry.tx.send(Out::Frame(message.clone()));
        }
    }

    /// Marks every ready session as retiring (told `goodbye`): it gets no more pushes, as a
    /// Slack server about to close a socket delivers new events on the replacement. Runs `f`
    /// on each of them.
    pub(super) fn retire_ready(&self, mut f: impl FnMut(&SocketEntry)) {
        let mut sockets = lock(&self.sockets);
        for entry in sockets.entries.iter_mut().filter(|e| e.ready && !e.retiring) {
            entry.retiring = true;
            f(entry);
        }
    }

    /// Runs `f` on every open session, ready or not.
    pub(super) fn each_socket(&self, mut f: impl FnMut(&SocketEntry)) {
        let sockets = lock(&self.sockets);
        sockets.entries.iter().for_each(&mut f);
    }

    /// Adds a freshly upgraded socket; `None` once the emulator has stopped.
    pub(super) fn register(&self, tx: mpsc::UnboundedSender<Out>, gate: Arc<Gate>) -> Option<u64> {
        let mut sockets = lock(&self.sockets);
        if sockets.closed {
            return None;
        }
        sockets.next_id += 1;
        let id = sockets.next_id;
        sockets.entries.push(SocketEntry {
            id,
            tx,
            gate,
            ready: false,
            retiring: false,
        });
        self.sockets_opened.fetch_add(1, Ordering::SeqCst);
        self.live_sockets.fetch_add(1, Ordering::SeqCst);
        Some(id)
    }

    /// Queues `hello` and makes the session receive pushes, atomically with respect to
    /// [`Shared::push`], so `hello` is always its first frame.
    pub(super) fn mark_ready(&self, id: u64) {
        let mut sockets = lock(&self.sockets);
        if let Some(entry) = sockets.entries.iter_mut().find(|e| e.id == id && !e.ready) {
            entry.ready = true;
            let _ = entry.tx.send(Out::Frame(Message::Text(frames::HELLO.into())));
            self.ready.send_modify(|n| *n += 1);
        }
    }

    /// Forgets a session (idempotent); it gets no more pushes.
    pub(super) fn unregister(&self, id: u64) {
        let removed = {
            let mut sockets = lock(&self.sockets);
            let pos = sockets.entries.iter().position(|e| e.id == id);
            pos.map(|pos| sockets.entries.swap_remove(pos))
        };
        if removed.is_some_and(|entry| entry.ready) {
            self.ready.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    /// Stops the listener and every HTTP connection, and cuts every socket.
    pub(super) fn stop(&self) {
        self.shutdown.send_replace(true);
        let mut sockets = lock(&self.sockets);
        sockets.closed = true;
        for entry in &sockets.entries {
            entry.gate.abort();
        }
    }
}

/// The open websocket sessions.
#[derive(Debug, Default)]
pub(super) struct Sockets {
    next_id: u64,
    entries: Vec<SocketEntry>,
    closed: bool,
}

/// One open websocket session, as seen from outside its tasks.
#[derive(Debug)]
pub(super) struct SocketEntry {
    id: u64,
    /// Frames and commands for the session's writer task.
    pub(super) tx: mpsc::UnboundedSender<Out>,
    pub(super) gate: Arc<Gate>,
    /// Got `hello`: receives pushes and counts as a connection.
    pub(super) ready: bool,
    /// Told `goodbye`: receives no more pushes.
    pub(super) retiring: bool,
}

/// `rtm.connect` state: tickets, the scripted faults and the per-second limit.
#[derive(Debug)]
pub(super) struct ConnectState {
    /// Unused websocket tickets and when each expires.
    tickets: HashMap<String, Instant>,
    pub(super) revoked: bool,
    /// Calls still to answer with 429, and the `Retry-After` to send.
    pub(super) rate_limited: usize,
    pub(super) retry_after_secs: u64,
    /// Error code to answer with, and how many more times (`None`: until cleared).
    pub(super) failure: Option<(String, Option<usize>)>,
    pub(super) window: Option<WindowLimiter>,
}

impl ConnectState {
    fn new(max_per_sec: Option<u32>) -> Self {
        Self {
            tickets: HashMap::new(),
            revoked: false,
            rate_limited: 0,
            retry_after_secs: 0,
            failure: None,
            window: max_per_sec.map(WindowLimiter::new),
        }
    }

    /// Issues a random single-use ticket valid until `expires`.
    pub(super) fn issue_ticket(&mut self, now: Instant, expires: Instant) -> String {
        self.tickets.retain(|_, at| *at > now);
        let ticket: String = std::iter::repeat_with(fastrand::alphanumeric).take(24).collect();
        self.tickets.insert(ticket.clone(), expires);
        ticket
    }

    /// Consumes a ticket; `true` if it was issued, unused and not expired.
    pub(super) fn take_ticket(&mut self, ticket: &str, now: Instant) -> bool {
        self.tickets.remove(ticket).is_some_and(|at| at > now)
    }

    /// Forgets every unused ticket.
    pub(super) fn expire_tickets(&mut self) {
        self.tickets.clear();
    }

    /// The scripted failure code for this call, if any, counting it down.
    pub(super) fn take_failure(&mut self) -> Option<String> {
        let (code, times) = self.failure.as_mut()?;
        let code = code.clone();
        if let Some(left) = times {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.failure = None;
            }
        }
        Some(code)
    }
}

/// Makes message timestamps: `<seconds at start>.<counter>`, rolling into the seconds every
/// million messages so the string stays ten digits, a dot, six digits.
#[derive(Debug)]
struct TsClock {
    base_secs: u64,
    counter: AtomicU64,
}

impl TsClock {
    fn new() -> Self {
        let base_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1_700_000_000, |d| d.as_secs());
        Self {
            base_secs,
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}.{:06}", self.base_secs + n / 1_000_000, n % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ts_is_strictly_increasing_and_sortable() {
        let clock = TsClock {
            base_secs: 1_700_000_000,
            counter: AtomicU64::new(999_998),
        };
        let a = clock.next();
        let b = clock.next();
        let c = clock.next();
        assert_eq!(a, "1700000000.999999");
        assert_eq!(b, "1700000001.000000");
        assert_eq!(c, "1700000001.000001");
        assert!(a < b && b < c);
    }

    #[test]
    fn tickets_are_single_use_and_expire() {
        let mut state = ConnectState::new(None);
        let now = Instant::now();
        let later = now + Duration::from_secs(30);
        let ticket = state.issue_ticket(now, later);
        assert!(state.take_ticket(&ticket, now));
        assert!(!state.take_ticket(&ticket, now), "reuse");
        let ticket = state.issue_ticket(now, later);
        assert!(!state.take_ticket(&ticket, later), "expired");
        let ticket = state.issue_ticket(now, later);
        state.expire_tickets();
        assert!(!state.take_ticket(&ticket, now));
        assert!(!state.take_ticket("unknown", now));
    }

    #[test]
    fn scripted_failure_counts_down() {
        let mut state = ConnectState::new(None);
        state.failure = Some(("fatal_error".to_owned(), Some(2)));
        assert_eq!(state.take_failure().as_deref(), Some("fatal_error"));
        assert_eq!(state.take_failure().as_deref(), Some("fatal_error"));
        assert_eq!(state.take_failure(), None);
        state.failure = Some(("invalid_auth".to_owned(), None));
        for _ in 0..5 {
            assert_eq!(state.take_failure().as_deref(), Some("invalid_auth"));
        }
    }
}
