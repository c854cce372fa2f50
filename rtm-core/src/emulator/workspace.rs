//! The workspace behind the emulator's Web API: channels, users, stored messages, the ledger
//! of the bot's posts, every Web API call received, and the injected Web API faults. Also the
//! public handle methods that read and script them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};

use super::Emulator;
use super::state::lock;

/// The bot id reported on messages the bot posts through `chat.postMessage` and by
/// `auth.test`.
pub const DEFAULT_BOT_ID: &str = "B0BOT";
/// The public channels every emulator starts with, as `(id, name)`.
pub const DEFAULT_CHANNELS: [(&str, &str); 2] = [("C0GENERAL", "general"), ("C0RANDOM", "random")];
/// The human users every emulator starts with (besides the bot), as `(id, name)`.
pub const DEFAULT_USERS: [(&str, &str); 2] = [("U0ALICE", "alice"), ("U0BOB", "bob")];

/// One message the bot posted, over RTM (`send_message`) or the Web API
/// (`chat.postMessage`), as the emulator stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Post {
    /// The channel id it was posted to.
    pub channel: String,
    /// The `ts` the emulator gave it.
    pub ts: String,
    /// Its text.
    pub text: String,
    /// The thread parent, for thread replies.
    pub thread_ts: Option<String>,
    /// How it was posted.
    pub via: PostVia,
}

/// How a [`Post`] reached the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PostVia {
    /// An RTM `message` frame.
    Rtm,
    /// A `chat.postMessage` Web API call.
    WebApi,
}

/// One Web API call the emulator received, whatever its answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WebCall {
    /// The method, e.g. `chat.postMessage`.
    pub method: String,
    /// How the arguments were sent: `"json"`, `"form"`, `"query"` (no body) or `"other"`.
    pub encoding: &'static str,
    /// The arguments as sent: a JSON object (form and query values are strings). The token
    /// is left out.
    pub args: Value,
}

/// A failure [`Emulator::inject_web_fault`] makes a Web API method answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebFault {
    /// HTTP 429 with `Retry-After` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited {
        /// The `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// This HTTP status with an HTML body, as a proxy in front of Slack answers (e.g. 502);
    /// the call has no effect.
    Status(u16),
    /// HTTP 200 with `{"ok":false,"error":code}`.
    Error(String),
    /// `missing_scope` with the `needed` and `provided` scope lists.
    MissingScope {
        /// The scopes the method needs.
        needed: String,
        /// The scopes the token has.
        provided: String,
    },
}

/// The workspace state; one mutex, held for a few statements.
#[derive(Debug)]
pub(super) struct Workspace {
    /// Channel objects by id (channels, DMs, group DMs).
    pub(super) channels: BTreeMap<String, Value>,
    /// User objects by id.
    pub(super) users: BTreeMap<String, Value>,
    /// Messages per channel, oldest first (ts order).
    pub(super) messages: HashMap<String, Vec<Value>>,
    pub(super) posts: Vec<Post>,
    pub(super) calls: Vec<WebCall>,
    pub(super) faults: HashMap<String, VecDeque<WebFault>>,
    pub(super) views: u64,
}

impl Workspace {
    pub(super) fn new(config: &super::builder::Config) -> Self {
        let mut workspace = Self {
            channels: BTreeMap::new(),
            users: BTreeMap::new(),
            messages: HashMap::new(),
            posts: Vec::new(),
            calls: Vec::new(),
            faults: HashMap::new(),
            views: 0,
        };
        for (id, name) in DEFAULT_CHANNELS {
            workspace.add_channel(id, name);
        }
        let bot = user(&config.self_id, &config.self_name, &config.team_id, true);
        workspace.users.insert(config.self_id.clone(), bot);
        for (id, name) in DEFAULT_USERS {
            workspace
                .users
                .insert(id.to_owned(), user(id, name, &config.team_id, false));
        }
        workspace
    }

    pub(super) fn add_channel(&mut self, id: &str, name: &str) {
        let channel = json!({
            "id": id, "name": name, "is_channel": true, "is_private": id.starts_with('G'),
            "is_im": false, "is_member": true, "is_archived": false,
        });
        self.channels.insert(id.to_owned(), channel);
    }

    /// Whether a channel exists: registered, or known from messages posted over RTM.
    pub(super) fn has_channel(&self, id: &str) -> bool {
        self.channels.contains_key(id) || self.messages.contains_key(id)
    }

    /// Stores a message in its channel (ts order is arrival order: `ts` only grows).
    pub(super) fn store(&mut self, channel: &str, message: Value) {
        self.messages.entry(channel.to_owned()).or_default().push(message);
    }

    /// The next scripted fault for `method`, if any.
    pub(super) fn take_fault(&mut self, method: &str) -> Option<WebFault> {
        let queue = self.faults.get_mut(method)?;
        let fault = queue.pop_front();
        if queue.is_empty() {
            self.faults.remove(method);
        }
        fault
    }
}

fn user(id: &str, name: &str, team: &str, is_bot: bool) -> Value {
    json!({
        "id": id, "team_id": team, "name": name, "real_name": name, "deleted": false,
        "is_bot": is_bot, "profile": {"display_name": name, "real_name": name},
    })
}

impl Emulator {
    /// Adds a public channel (or, with a `G…` id, a private one) that the Web API knows, so
    /// `chat.postMessage` and `conversations.*` accept it. The emulator starts with
    /// [`DEFAULT_CHANNELS`]; channels that RTM messages were posted to are known too.
    pub fn add_channel(&self, id: &str, name: &str) {
        lock(&self.shared().workspace).add_channel(id, name);
    }

    /// Adds a user that `users.info`, `users.list` and `conversations.open` know. The
    /// emulator starts with the bot and [`DEFAULT_USERS`].
    pub fn add_user(&self, id: &str, name: &str) {
        let team = self.shared().config.team_id.clone();
        lock(&self.shared().workspace)
            .users
            .insert(id.to_owned(), user(id, name, &team, false));
    }

    /// Every message the bot posted (RTM `message` frames that were posted and
    /// `chat.postMessage` calls that succeeded), in order.
    #[must_use]
    pub fn posts(&self) -> Vec<Post> {
        lock(&self.shared().workspace).posts.clone()
    }

    /// The bot's posts in one channel, in order.
    #[must_use]
    pub fn posts_in(&self, channel: &str) -> Vec<Post> {
        lock(&self.shared().workspace)
            .posts
            .iter()
            .filter(|post| post.channel == channel)
            .cloned()
            .collect()
    }

    /// Waits until the bot has posted at least `n` messages in all, then returns every post;
    /// `None` if `timeout` passes first. Waiting for `posts().len() + 1` waits for the next
    /// post.
    pub async fn wait_for_posts(&self, n: usize, timeout: Duration) -> Option<Vec<Post>> {
        let mut count = self.shared().posts_count.subscribe();
        let reached = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n))
            .await
            .is_ok_and(|result| result.is_ok());
        reached.then(|| self.posts())
    }

    /// Every Web API call received (`rtm.connect` included), in arrival order, with how its
    /// arguments were encoded, so tests can assert on exactly what went over the wire.
    #[must_use]
    pub fn web_calls(&self) -> Vec<WebCall> {
        lock(&self.shared().workspace).calls.clone()
    }

    /// Makes the next `times` calls to the Web API `method` fail with `fault`, before the
    /// token is checked and without effect (faults for a method queue up in order). Other
    /// methods are unaffected. `rtm.connect` has its own faults
    /// ([`Emulator::rate_limit_connects`], [`Emulator::fail_connects`]).
    pub fn inject_web_fault(&self, method: &str, fault: WebFault, times: usize) {
        let mut workspace = lock(&self.shared().workspace);
        let queue = workspace.faults.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }
}
