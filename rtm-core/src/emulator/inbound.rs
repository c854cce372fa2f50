//! Decides what a client frame asks for, without IO (protocol §4.3–§4.7). The websocket
//! session applies the decision: it needs the shared clock and rate limiter for messages.

use serde_json::Value;

use super::frames;

/// What the emulator must do about one parsed client frame.
#[derive(Debug, PartialEq)]
pub(super) enum Answer<'a> {
    /// Record only (typing, presence, frames without `id` that need no reply, non-objects).
    Nothing,
    /// Send this reply to the client that sent the frame.
    Reply(String),
    /// Post a valid message: reply with a `ts` if it has an `id`, then broadcast it.
    Post(Post<'a>),
}

/// A valid `message` frame, borrowed from the parsed frame.
#[derive(Debug, PartialEq)]
pub(super) struct Post<'a> {
    pub(super) id: Option<&'a Value>,
    pub(super) channel: &'a str,
    pub(super) text: &'a str,
    pub(super) thread_ts: Option<&'a str>,
}

/// Classifies a client frame. Errors get a reply only when the frame has an `id` to answer.
pub(super) fn answer(frame: &Value) -> Answer<'_> {
    let Some(obj) = frame.as_object() else {
        return Answer::Nothing;
    };
    let id = obj.get("id").filter(|id| !id.is_null());
    let error = |code| id.map_or(Answer::Nothing, |id| Answer::Reply(frames::error_reply(id, code)));
    match obj.get("type").and_then(Value::as_str) {
        Some("ping") => Answer::Reply(frames::pong(obj)),
        Some("message") => {
            let text = obj.get("text").and_then(Value::as_str).unwrap_or("");
            if text.is_empty() {
                return error(frames::TEXT_MISSING);
            }
            let channel = obj.get("channel").and_then(Value::as_str).unwrap_or("");
            if !valid_channel(channel) {
                return error(frames::INVALID_CHANNEL);
            }
            Answer::Post(Post {
                id,
                channel,
                text,
                thread_ts: obj.get("thread_ts").and_then(Value::as_str),
            })
        }
        Some("typing" | "presence_sub" | "presence_query") => Answer::Nothing,
        _ => error(frames::UNKNOWN_TYPE),
    }
}

/// Public/private channel, DM or group ids start with C, D or G.
fn valid_channel(channel: &str) -> bool {
    channel.len() > 1 && matches!(channel.as_bytes()[0], b'C' | b'D' | b'G')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reply(frame: Value) -> Value {
        match answer(&frame) {
            Answer::Reply(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn ping_gets_pong() {
        let pong = reply(json!({"type": "ping", "id": 4, "time": 99}));
        assert_eq!(pong, json!({"type": "pong", "reply_to": 4, "time": 99}));
    }

    #[test]
    fn message_validation_codes() {
        let missing = reply(json!({"type": "message", "id": 1, "channel": "C1"}));
        assert_eq!(missing["error"]["code"], 2);
        assert_eq!(missing["reply_to"], 1);
        let empty = reply(json!({"type": "message", "id": 1, "channel": "C1", "text": ""}));
        assert_eq!(empty["error"]["code"], 2);
        let no_channel = reply(json!({"type": "message", "id": 2, "text": "hi"}));
        assert_eq!(
            no_channel["error"],
            json!({"code": 0, "msg": "invalid channel id"})
        );
        let bad_channel = reply(json!({"type": "message", "id": 3, "text": "hi", "channel": "X1"}));
        assert_eq!(bad_channel["error"]["code"], 0);
        assert_eq!(bad_channel["ok"], false);
    }

    #[test]
    fn valid_message_is_posted() {
        let frame = json!({"type": "message", "id": 5, "channel": "D9", "text": "hi",
                           "thread_ts": "1.2"});
        assert_eq!(
            answer(&frame),
            Answer::Post(Post {
                id: Some(&json!(5)),
                channel: "D9",
                text: "hi",
                thread_ts: Some("1.2"),
            })
        );
        let no_id = json!({"type": "message", "channel": "G1", "text": "x"});
        assert!(matches!(answer(&no_id), Answer::Post(Post { id: None, .. })));
    }

    #[test]
    fn errors_without_id_are_silent() {
        assert_eq!(answer(&json!({"type": "message"})), Answer::Nothing);
        assert_eq!(answer(&json!({"type": "bogus"})), Answer::Nothing);
        assert_eq!(answer(&json!({"id": null, "type": "bogus"})), Answer::Nothing);
    }

    #[test]
    fn no_reply_types() {
        for ty in ["typing", "presence_sub", "presence_query"] {
            assert_eq!(answer(&json!({"type": ty, "id": 1})), Answer::Nothing);
        }
        assert_eq!(answer(&json!([1, 2])), Answer::Nothing);
        assert_eq!(answer(&json!("ping")), Answer::Nothing);
    }

    #[test]
    fn unknown_type_with_id_gets_code_3() {
        let unknown = reply(json!({"type": "bogus", "id": 8}));
        assert_eq!(
            unknown,
            json!({"ok": false, "reply_to": 8,
                                   "error": {"code": 3, "msg": "unknown type"}})
        );
        let untyped = reply(json!({"id": 9}));
        assert_eq!(untyped["error"]["code"], 3);
    }
}
