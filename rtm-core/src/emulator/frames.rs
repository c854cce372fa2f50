//! The JSON frames the emulator sends, built in one place so their shapes match the protocol
//! reference (§4 and §5.1) and are easy to check.

use serde_json::{Map, Value, json};

/// `{"type":"hello"}`: the first frame of every good session.
pub(super) const HELLO: &str = r#"{"type":"hello"}"#;
/// `{"type":"goodbye"}`: the server is about to close the socket.
pub(super) const GOODBYE: &str = r#"{"type":"goodbye"}"#;
/// The frame sent on an expired, reused or unknown websocket URL, before closing.
pub(super) const URL_EXPIRED: &str = r#"{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}"#;

/// Error code and text for a `message` frame without text.
pub(super) const TEXT_MISSING: (i64, &str) = (2, "message text is missing");
/// Error code and text for a `message` frame with a missing or malformed channel.
pub(super) const INVALID_CHANNEL: (i64, &str) = (0, "invalid channel id");
/// Error code and text for a frame whose `type` the emulator does not know.
pub(super) const UNKNOWN_TYPE: (i64, &str) = (3, "unknown type");
/// Error code and text for a `message` over the configured rate limit.
pub(super) const SLOW_DOWN: (i64, &str) = (-1, "slow down, too many messages...");

/// `{"type":"pong","reply_to":id, ...}` echoing the ping's scalar fields other than `type`/`id`.
pub(super) fn pong(ping: &Map<String, Value>) -> String {
    let mut pong = Map::with_capacity(ping.len() + 1);
    pong.insert("type".to_owned(), Value::from("pong"));
    if let Some(id) = ping.get("id").filter(|id| !id.is_null()) {
        pong.insert("reply_to".to_owned(), id.clone());
    }
    for (key, value) in ping {
        let scalar = !matches!(value, Value::Array(_) | Value::Object(_));
        if scalar && !matches!(key.as_str(), "type" | "id" | "reply_to") {
            pong.insert(key.clone(), value.clone());
        }
    }
    Value::Object(pong).to_string()
}

/// `{"ok":false,"reply_to":id,"error":{"code":..,"msg":..}}`.
pub(super) fn error_reply(id: &Value, (code, msg): (i64, &str)) -> String {
    json!({"ok": false, "reply_to": id, "error": {"code": code, "msg": msg}}).to_string()
}

/// `{"ok":true,"reply_to":id,"ts":..,"text":..}`: a message was posted.
pub(super) fn message_ok(id: &Value, ts: &str, text: &str) -> String {
    json!({"ok": true, "reply_to": id, "ts": ts, "text": text}).to_string()
}

/// `{"type":"error","error":{"code":..,"msg":..}}`: a session-level error event.
pub(super) fn error_event(code: i64, msg: &str) -> String {
    json!({"type": "error", "error": {"code": code, "msg": msg}}).to_string()
}

/// Fields of a `message` event, borrowed from wherever they come from.
#[derive(Debug, Clone, Copy)]
pub(super) struct MessageEvent<'a> {
    pub(super) channel: &'a str,
    pub(super) user: &'a str,
    pub(super) text: &'a str,
    pub(super) ts: &'a str,
    pub(super) team: &'a str,
    pub(super) thread_ts: Option<&'a str>,
    pub(super) client_msg_id: Option<&'a str>,
}

impl MessageEvent<'_> {
    /// The event as Slack delivers it over RTM (§5.1, captured traffic).
    pub(super) fn to_value(self) -> Value {
        let mut event = json!({
            "type": "message",
            "channel": self.channel,
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "suppress_notification": false,
            "team": self.team,
            "user_team": self.team,
            "source_team": self.team,
            "event_ts": self.ts,
        });
        if let Some(map) = event.as_object_mut() {
            if let Some(id) = self.client_msg_id {
                map.insert("client_msg_id".to_owned(), Value::from(id));
            }
            if let Some(thread_ts) = self.thread_ts {
                map.insert("thread_ts".to_owned(), Value::from(thread_ts));
            }
        }
        event
    }
}

/// A random v4-style UUID, the shape of Slack's `client_msg_id`.
pub(super) fn client_msg_id() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_echoes_scalars_only() {
        let ping = json!({"type": "ping", "id": 7, "time": 1403299273342_u64, "s": "x",
                          "nested": {"a": 1}, "list": [1]});
        let pong: Value = serde_json::from_str(&pong(ping.as_object().unwrap())).unwrap();
        assert_eq!(
            pong,
            json!({"type": "pong", "reply_to": 7, "time": 1403299273342_u64, "s": "x"})
        );
    }

    #[test]
    fn pong_without_id_has_no_reply_to() {
        let ping = json!({"type": "ping"});
        assert_eq!(pong(ping.as_object().unwrap()), r#"{"type":"pong"}"#);
    }

    #[test]
    fn constant_frames_are_valid_json() {
        for frame in [HELLO, GOODBYE, URL_EXPIRED] {
            let value: Value = serde_json::from_str(frame).unwrap();
            assert!(value["type"].is_string());
        }
    }

    #[test]
    fn client_msg_id_looks_like_a_uuid() {
        let id = client_msg_id();
        let parts: Vec<_> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(client_msg_id(), id);
    }

    #[test]
    fn message_event_has_realistic_fields() {
        let event = MessageEvent {
            channel: "C1",
            user: "U1",
            text: "hi",
            ts: "1.000001",
            team: "T1",
            thread_ts: Some("0.5"),
            client_msg_id: None,
        }
        .to_value();
        assert_eq!(event["event_ts"], "1.000001");
        assert_eq!(event["thread_ts"], "0.5");
        assert!(event.get("client_msg_id").is_none());
    }
}
