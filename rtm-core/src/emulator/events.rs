//! Builders for the catalog's common events, so a bot test pushes a realistic `team_join` or
//! `reaction_added` in one line, and a one-line connected client. Each builder pushes the event
//! to every connected client and returns it, so the test can compare what its bot saw.

use serde_json::{Value, json};

use super::Emulator;
use crate::{ClientConfig, DispatcherProbe, Error, RtmClient};

impl Emulator {
    /// A client connected to this emulator (its URL and token), with the default
    /// configuration: the one line a bot test needs. Its first event is `hello`.
    ///
    /// # Errors
    /// As for [`RtmClient::connect`].
    pub async fn client(&self) -> Result<RtmClient, Error> {
        RtmClient::connect(
            ClientConfig::builder(self.token())
                .api_url(self.api_url())
                .build()?,
        )
        .await
    }

    /// Waits until a dispatcher watched by `probe` has handled everything pushed so far (it
    /// pushes the probe's marker and awaits [`DispatcherProbe::settled`]), bounded by
    /// `timeout`. Returns the handler failures since the last call (empty when none failed),
    /// or `None` when `timeout` passed first. Negative assertions ("the bot did not answer")
    /// need no sleep after it.
    pub async fn settle(&self, probe: &DispatcherProbe, timeout: std::time::Duration) -> Option<Vec<String>> {
        self.push(probe.sync_event());
        tokio::time::timeout(timeout, probe.settled()).await.ok()
    }

    /// Pushes a reply by `user` in the thread under `thread_ts` in `channel`, stored in the
    /// channel's history, and returns it.
    pub fn thread_reply(&self, channel: &str, thread_ts: &str, user: &str, text: &str) -> Value {
        self.person_message(channel, user, text, Some(thread_ts), None)
    }

    /// Pushes `reaction_added`: `user` reacted with `reaction` (no colons) to the message `ts`
    /// in `channel`.
    pub fn reaction_added(&self, channel: &str, ts: &str, user: &str, reaction: &str) -> Value {
        self.reaction("reaction_added", channel, ts, user, reaction)
    }

    /// Pushes `reaction_removed`, the counterpart of [`reaction_added`](Self::reaction_added).
    pub fn reaction_removed(&self, channel: &str, ts: &str, user: &str, reaction: &str) -> Value {
        self.reaction("reaction_removed", channel, ts, user, reaction)
    }

    fn reaction(&self, kind: &str, channel: &str, ts: &str, user: &str, reaction: &str) -> Value {
        let event_ts = self.shared().next_ts();
        self.pushed(json!({
            "type": kind,
            "user": user,
            "reaction": reaction,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": event_ts,
        }))
    }

    /// Pushes `team_join` for a new member `user_id` called `name`.
    pub fn team_join(&self, user_id: &str, name: &str) -> Value {
        let event_ts = self.shared().next_ts();
        let team = self.team_id().to_owned();
        self.pushed(json!({
            "type": "team_join",
            "user": {
                "id": user_id,
                "team_id": team,
                "name": name,
                "deleted": false,
                "real_name": name,
                "is_bot": false,
                "profile": {"real_name": name, "display_name": name, "team": team},
            },
            "event_ts": event_ts,
        }))
    }

    /// Pushes `channel_created`: `creator` created the channel `id` named `name`.
    pub fn channel_created(&self, id: &str, name: &str, creator: &str) -> Value {
        let event_ts = self.shared().next_ts();
        let created = event_ts
            .split('.')
            .next()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        self.pushed(json!({
            "type": "channel_created",
            "channel": {"id": id, "name": name, "name_normalized": name, "created": created, "creator": creator, "is_channel": true},
            "event_ts": event_ts,
        }))
    }

    /// Pushes `member_joined_channel`: `user` joined `channel`.
    pub fn member_joined_channel(&self, channel: &str, user: &str) -> Value {
        let event_ts = self.shared().next_ts();
        let team = self.team_id().to_owned();
        self.pushed(json!({
            "type": "member_joined_channel",
            "user": user,
            "channel": channel,
            "channel_type": "C",
            "team": team,
            "event_ts": event_ts,
        }))
    }

    fn pushed(&self, event: Value) -> Value {
        self.push_text(event.to_string());
        event
    }
}
