//! Outgoing frames: serialised once by the caller with room reserved at the front, so the
//! connection task can write the `id` in place without copying the frame.

use serde::Serialize;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::SendError;

/// Slack disconnects a client that sends a frame over 16 KB (the whole JSON).
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// Bytes reserved before the JSON object for `{"id":<u64>,` (at most 27 bytes).
const RESERVED: usize = 28;

/// A serialised outgoing frame waiting for its id.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// `RESERVED` spaces, then a JSON object (UTF-8: serde_json writes nothing else). Kept
    /// as bytes so the id is written in place and the text checked once, when it is final.
    buf: Vec<u8>,
}

/// A `message` frame. Borrowed, so serialising it copies nothing twice.
#[derive(Serialize)]
pub(crate) struct MessageFrame<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) channel: &'a str,
    pub(crate) text: &'a str,
}

impl Outgoing {
    /// Serialises `frame`, which must be a JSON object, and checks Slack's size limit.
    /// `size_hint` is the expected JSON length, to allocate once.
    pub(crate) fn new<T: Serialize + ?Sized>(frame: &T, size_hint: usize) -> Result<Outgoing, SendError> {
        let mut bytes = Vec::with_capacity(RESERVED + size_hint.min(MAX_FRAME_BYTES));
        bytes.resize(RESERVED, b' ');
        serde_json::to_writer(&mut bytes, frame).map_err(|e| SendError::InvalidFrame(e.to_string()))?;
        if bytes.get(RESERVED) != Some(&b'{') {
            return Err(SendError::InvalidFrame(
                "an RTM frame must serialise to a JSON object".into(),
            ));
        }
        let len = bytes.len() - RESERVED + 20; // worst-case id digits
        if len > MAX_FRAME_BYTES {
            return Err(SendError::TooLarge {
                len: len - 20,
                max: MAX_FRAME_BYTES,
            });
        }
        Ok(Outgoing { buf: bytes })
    }

    /// Writes `"id":<id>` into the reserved room and returns the frame text. Leading spaces
    /// are valid JSON whitespace, so the frame is never copied.
    pub(crate) fn with_id(mut self, id: u64) -> Utf8Bytes {
        use std::io::Write;
        let empty_object = self.buf.get(RESERVED + 1) == Some(&b'}');
        // `{"id":` + 20 digits + `,` is at most RESERVED + 1 bytes: the reserved room plus
        // the object's own `{`, which the prefix replaces.
        let mut prefix = [b' '; RESERVED + 1];
        let mut cursor = std::io::Cursor::new(&mut prefix[..]);
        let _ = write!(cursor, "{{\"id\":{id}");
        if !empty_object {
            let _ = cursor.write_all(b",");
        }
        let len = cursor.position() as usize;
        // Right-align the prefix so that it ends where the object's first member begins.
        prefix.copy_within(..len, RESERVED + 1 - len);
        prefix[..RESERVED + 1 - len].fill(b' ');
        // Same length, ASCII over ASCII (spaces and `{`): written in place.
        if let Some(head) = self.buf.get_mut(..=RESERVED) {
            head.copy_from_slice(&prefix);
        }
        // serde_json writes only UTF-8, and the prefix is ASCII: the check always passes (the
        // lossy branch exists only so that nothing here can panic).
        let text = String::from_utf8(self.buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Utf8Bytes::from(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_written_in_place() {
        let out = Outgoing::new(
            &MessageFrame {
                kind: "message",
                channel: "C1",
                text: "hi \"there\"",
            },
            0,
        )
        .unwrap();
        let text = out.with_id(42);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id":42,"type":"message","channel":"C1","text":"hi \"there\""})
        );
        let text = Outgoing::new(&serde_json::json!({}), 2)
            .unwrap()
            .with_id(u64::MAX);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, serde_json::json!({"id": u64::MAX}));
    }

    #[test]
    fn non_objects_and_oversized_frames_are_refused() {
        assert!(matches!(
            Outgoing::new(&"text", 4),
            Err(SendError::InvalidFrame(_))
        ));
        let big = "x".repeat(MAX_FRAME_BYTES);
        let err = Outgoing::new(
            &MessageFrame {
                kind: "message",
                channel: "C1",
                text: &big,
            },
            big.len(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                SendError::TooLarge {
                    max: MAX_FRAME_BYTES,
                    ..
                }
            ),
            "{err}"
        );
    }
}
