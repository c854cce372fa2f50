//! Builders for Socket Mode's `slash_commands` and `interactive` envelopes, so a test or a demo
//! pushes a realistic slash command or button click in one line. Both go through
//! [`Emulator::push_envelope`] (delivered once, with `accepts_response_payload` set); their
//! `response_url` points at this emulator's address, never at Slack.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::{DEFAULT_APP_ID, Emulator};

/// Numbers each built payload's `trigger_id` and `response_url`.
static NEXT: AtomicU64 = AtomicU64::new(1);

impl Emulator {
    /// Socket Mode: pushes a `slash_commands` envelope for `command` (`"/echo"`) with `text`,
    /// typed by `user` in `channel`, shaped like Slack's (protocol §7.2). Returns its
    /// `envelope_id`.
    pub fn push_slash_command(&self, command: &str, text: &str, user: &str, channel: &str) -> String {
        let payload = self.slash_command_payload(command, text, user, channel);
        self.push_envelope("slash_commands", payload)
    }

    fn slash_command_payload(&self, command: &str, text: &str, user: &str, channel: &str) -> Value {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let payload = json!({
            "token": "verification-token", "team_id": self.team_id(), "team_domain": "emulator",
            "channel_id": channel, "channel_name": channel.to_lowercase(), "user_id": user,
            "user_name": user.to_lowercase(), "command": command, "text": text,
            "api_app_id": DEFAULT_APP_ID, "is_enterprise_install": "false",
            "response_url": self.response_url("commands", n), "trigger_id": trigger_id(n),
        });
        payload
    }

    /// Socket Mode: pushes an `interactive` `block_actions` envelope: `user` clicked the
    /// button `action_id` (with `value`) on the message `message_ts` in `channel`. Returns its
    /// `envelope_id`.
    pub fn push_button_click(
        &self,
        action_id: &str,
        value: &str,
        user: &str,
        channel: &str,
        message_ts: &str,
    ) -> String {
        let payload = self.button_click_payload(action_id, value, user, channel, message_ts);
        self.push_envelope("interactive", payload)
    }

    fn button_click_payload(
        &self,
        action_id: &str,
        value: &str,
        user: &str,
        channel: &str,
        message_ts: &str,
    ) -> Value {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let team = self.team_id();
        let payload = json!({
            "type": "block_actions", "api_app_id": DEFAULT_APP_ID, "token": "verification-token",
            "user": {"id": user, "username": user.to_lowercase(), "team_id": team},
            "team": {"id": team, "domain": "emulator"},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": false},
            "channel": {"id": channel, "name": channel.to_lowercase()},
            "message": {"type": "message", "ts": message_ts, "user": self.self_id(), "text": "", "blocks": []},
            "trigger_id": trigger_id(n), "response_url": self.response_url("actions", n),
            "actions": [{"action_id": action_id, "block_id": "emulator", "type": "button", "value": value,
                         "text": {"type": "plain_text", "text": value}, "action_ts": "1700000000.000001"}],
            "state": {"values": {}},
        });
        payload
    }

    /// A placeholder `response_url` on this emulator's address, so a payload built here
    /// parses on its own; [`Emulator::push_envelope`] replaces it with a working
    /// `/response_url/` endpoint (see `response_url.rs`).
    fn response_url(&self, kind: &str, n: u64) -> String {
        let base = self.api_url();
        let base = base.trim_end_matches("api/");
        format!("{base}hooks/{kind}/{}/{n}/emulator", self.team_id())
    }
}

fn trigger_id(n: u64) -> String {
    format!("{n}.1700000000.emulator")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn built_payloads_parse_into_the_payload_structs_and_stay_local() {
        let emulator = Emulator::start().await.unwrap();
        let url = emulator.response_url("commands", 7);
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let envelope = |kind: &str, payload: Value| {
            crate::Event::from_json(json!({"envelope_id": "e", "type": kind, "payload": payload}).to_string())
                .unwrap()
        };
        use crate::{
            FromEvent,
            interactive::{BlockActions, SlashCommand},
        };
        let command = SlashCommand::from_event(&envelope(
            "slash_commands",
            emulator.slash_command_payload("/echo", "hi", "U1", "C1"),
        ))
        .unwrap();
        assert_eq!((command.command.as_str(), command.text.as_str()), ("/echo", "hi"));
        assert!(command.response_url.starts_with("http://127.0.0.1:"));
        let click = BlockActions::from_event(&envelope(
            "interactive",
            emulator.button_click_payload("approve", "yes", "U1", "C1", "1.0"),
        ))
        .unwrap();
        assert_eq!(
            click.action("approve").and_then(|a| a.value.as_deref()),
            Some("yes")
        );
        assert_eq!(click.channel.map(|c| c.id).as_deref(), Some("C1"));
    }
}
