//! Client-side rate limiting, in three layers, all keyed by method name:
//!
//! - **Retry-After gates.** After a 429, Slack blocks *that method* (per workspace and app)
//!   for `Retry-After` seconds; other methods keep working. The client therefore records a
//!   "blocked until" instant per method and makes only calls to that method wait, exactly
//!   that long, without jitter.
//! - **Tier pacing** (optional, off by default): a token bucket per method sized from its
//!   published tier (§11.3 of the protocol notes), so a loop of calls is spread out instead of
//!   answered with 429s. Off by default because Slack counts per workspace and app across every
//!   process, which one client cannot see; turn it on when one process owns the app.
//! - **Per-channel pacing for `chat.postMessage`** (on by default): Slack allows about one
//!   message per second per channel with short bursts, so a bucket per channel holds
//!   [`Pacing::DEFAULT_CHANNEL_BURST`] posts and refills at
//!   [`Pacing::DEFAULT_CHANNEL_PER_SECOND`].
//!
//! Buckets hand out *reservations*: a caller takes its token at once (the count may go
//! negative) and sleeps until it would have existed, so concurrent callers are served in
//! arrival order without a queue.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

/// How a [`WebClient`](crate::WebClient) paces its own calls before Slack has to refuse them.
///
/// The default paces `chat.postMessage` per channel (1 per second, bursts of 3) and leaves
/// tier pacing off. A 429's `Retry-After` is always honoured, whatever this says.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacing {
    pub(crate) tiers: bool,
    pub(crate) channel: Option<(f64, u32)>,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            tiers: false,
            channel: Some((Self::DEFAULT_CHANNEL_PER_SECOND, Self::DEFAULT_CHANNEL_BURST)),
        }
    }
}

impl Pacing {
    /// Default refill rate of the per-channel `chat.postMessage` bucket: Slack's "about one
    /// message per second per channel".
    pub const DEFAULT_CHANNEL_PER_SECOND: f64 = 1.0;
    /// Default burst of the per-channel bucket: a short reply of a few messages goes out at
    /// once, a loop is held to the refill rate.
    pub const DEFAULT_CHANNEL_BURST: u32 = 3;

    /// No client-side pacing at all (429s are still honoured), e.g. for a proxy that paces
    /// by itself.
    pub fn none() -> Self {
        Self {
            tiers: false,
            channel: None,
        }
    }

    /// Paces every method by its published tier (default off): tier 1 one call a minute
    /// (bursts of 3), tier 2 20 a minute (bursts of 5), tier 3 50 a minute (bursts of 10),
    /// tier 4 100 a minute (bursts of 20). Methods of unknown or special tier are not paced.
    pub fn tiers(mut self, on: bool) -> Self {
        self.tiers = on;
        self
    }

    /// Paces `chat.postMessage` per channel at `per_second` with bursts of `burst` (at least
    /// 1); `None` turns it off. Default `Some((1.0, 3))`.
    pub fn per_channel(mut self, limit: Option<(f64, u32)>) -> Self {
        self.channel = limit
            .filter(|(rate, _)| *rate > 0.0)
            .map(|(rate, burst)| (rate, burst.max(1)));
        self
    }
}

/// The published tier of the methods a bot uses most, as `(calls per minute, burst)`.
fn tier_budget(method: &str) -> Option<(f64, u32)> {
    let tier = match method {
        "apps.connections.open" | "rtm.connect" => 1,
        "conversations.list" | "users.list" | "users.conversations" | "reactions.remove" => 2,
        "chat.update"
        | "chat.delete"
        | "reactions.add"
        | "conversations.history"
        | "conversations.replies"
        | "conversations.info"
        | "conversations.open" => 3,
        "chat.postEphemeral"
        | "users.info"
        | "conversations.members"
        | "views.open"
        | "views.publish"
        | "views.update"
        | "views.push" => 4,
        _ => return None,
    };
    Some(match tier {
        1 => (1.0, 3),
        2 => (20.0, 5),
        3 => (50.0, 10),
        _ => (100.0, 20),
    })
}

/// A token bucket that hands out reservations.
#[derive(Debug)]
struct Bucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_second: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_second,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token and returns how long to wait for it.
    fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }

    /// Full and unused: safe to forget.
    fn idle(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.burst
    }
}

/// Buckets beyond this many channels are pruned of idle ones.
const PRUNE_AT: usize = 1024;

/// The limiter one client (and its clones) shares.
#[derive(Debug)]
pub(crate) struct Limiter {
    pacing: Pacing,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    blocked: HashMap<String, Instant>,
    methods: HashMap<String, Bucket>,
    channels: HashMap<String, Bucket>,
    /// Size at which `channels` is next scanned for idle buckets (at least [`PRUNE_AT`]).
    prune_at: usize,
    /// How many times `channels` was scanned.
    #[cfg(test)]
    scans: usize,
}

impl Limiter {
    pub(crate) fn new(pacing: Pacing) -> Self {
        Self {
            pacing,
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn pacing(&self) -> &Pacing {
        &self.pacing
    }

    /// Waits until `method` may be called: past its Retry-After gate, then for its tier and
    /// (for `chat.postMessage`) its channel.
    pub(crate) async fn acquire(&self, method: &str, channel: Option<&str>) {
        // A gate can be pushed back by another 429 while we wait: look again after each wait.
        loop {
            let gate = {
                let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                state.blocked.get(method).copied()
            };
            match gate {
                Some(until) if until > Instant::now() => sleep_until(until).await,
                _ => break,
            }
        }
        let wait = self.reserve(method, channel, Instant::now());
        if !wait.is_zero() {
            sleep_until(Instant::now() + wait).await;
        }
    }

    fn reserve(&self, method: &str, channel: Option<&str>, now: Instant) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        if self.pacing.tiers
            && let Some((per_minute, burst)) = tier_budget(method)
        {
            let bucket = state
                .methods
                .entry(method.to_owned())
                .or_insert_with(|| Bucket::new(per_minute / 60.0, burst, now));
            wait = wait.max(bucket.reserve(now));
        }
        if method == "chat.postMessage"
            && let (Some((per_second, burst)), Some(channel)) = (self.pacing.channel, channel)
        {
            let state = &mut *state;
            let bucket = match state.channels.get_mut(channel) {
                Some(bucket) => bucket,
                None => {
                    if state.channels.len() >= state.prune_at.max(PRUNE_AT) {
                        state.channels.retain(|_, bucket| !bucket.idle(now));
                        #[cfg(test)]
                        {
                            state.scans += 1;
                        }
                        // The next scan waits until the map has doubled: a burst over many
                        // busy channels (none idle, nothing to prune) costs O(1) per post,
                        // not a scan of every bucket.
                        state.prune_at = state.channels.len() * 2;
                    }
                    state
                        .channels
                        .entry(channel.to_owned())
                        .or_insert_with(|| Bucket::new(per_second, burst, now))
                }
            };
            wait = wait.max(bucket.reserve(now));
        }
        wait
    }

    /// Blocks `method` until `until` (a later gate wins).
    pub(crate) fn block(&self, method: &str, until: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let gate = state.blocked.entry(method.to_owned()).or_insert(until);
        if *gate < until {
            *gate = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retry_after_blocks_only_that_method_for_exactly_that_long() {
        let limiter = Limiter::new(Pacing::none());
        let t0 = Instant::now();
        limiter.block("users.info", t0 + Duration::from_secs(7));
        limiter.acquire("auth.test", None).await;
        assert_eq!(Instant::now(), t0, "another method is not delayed");
        limiter.acquire("users.info", None).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(7));
        limiter.acquire("users.info", None).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(7), "the gate opened");
    }

    #[tokio::test(start_paused = true)]
    async fn posts_are_paced_per_channel_with_a_burst() {
        let limiter = Limiter::new(Pacing::default());
        let t0 = Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            limiter.acquire("chat.postMessage", Some("C1")).await;
            at.push((Instant::now() - t0).as_millis());
        }
        assert_eq!(at, [0, 0, 0, 1000, 2000]);
        // Another channel has its own bucket, and other methods are not paced.
        limiter.acquire("chat.postMessage", Some("C2")).await;
        limiter.acquire("chat.update", Some("C1")).await;
        assert_eq!((Instant::now() - t0).as_millis(), 2000);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_posts_are_served_in_order() {
        let limiter = std::sync::Arc::new(Limiter::new(Pacing::default().per_channel(Some((2.0, 1)))));
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let limiter = std::sync::Arc::clone(&limiter);
                tokio::spawn(async move {
                    limiter.acquire("chat.postMessage", Some("C1")).await;
                    (Instant::now() - t0).as_millis()
                })
            })
            .collect();
        let mut at = Vec::new();
        for task in tasks {
            at.push(task.await.unwrap());
        }
        at.sort_unstable();
        assert_eq!(at, [0, 500, 1000]);
    }

    #[tokio::test(start_paused = true)]
    async fn tier_pacing_when_enabled() {
        let limiter = Limiter::new(Pacing::none().tiers(true));
        let t0 = Instant::now();
        for _ in 0..6 {
            limiter.acquire("users.list", None).await;
        }
        // Tier 2: bursts of 5, then one call every 3 seconds.
        assert_eq!(Instant::now() - t0, Duration::from_secs(3));
        limiter.acquire("auth.test", None).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(3));
    }

    #[test]
    fn idle_channels_are_pruned() {
        let limiter = Limiter::new(Pacing::default());
        let now = Instant::now();
        for i in 0..PRUNE_AT {
            let _ = limiter.reserve("chat.postMessage", Some(&format!("C{i}")), now);
        }
        let later = now + Duration::from_secs(10);
        let _ = limiter.reserve("chat.postMessage", Some("Cnew"), later);
        assert_eq!(limiter.state.lock().unwrap().channels.len(), 1);
    }

    #[test]
    fn busy_channels_are_not_scanned_on_every_new_post() {
        let limiter = Limiter::new(Pacing::default());
        let now = Instant::now();
        // Four times the prune size, all busy at once: nothing can be pruned.
        for i in 0..4 * PRUNE_AT {
            let _ = limiter.reserve("chat.postMessage", Some(&format!("C{i}")), now);
        }
        // Scans at 1 and 2 times the prune size (the next would be at 4), not at every post
        // past the first.
        assert_eq!(limiter.state.lock().unwrap().scans, 2);
        // Once they are idle, the next scan (at twice the size) frees them.
        let later = now + Duration::from_secs(10);
        for i in 0..4 * PRUNE_AT {
            let _ = limiter.reserve("chat.postMessage", Some(&format!("D{i}")), later);
        }
        assert!(limiter.state.lock().unwrap().channels.len() <= 4 * PRUNE_AT + 1);
    }
}
