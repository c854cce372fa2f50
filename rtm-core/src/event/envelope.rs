//! Classifying a frame: event, reply to one of our sends, or pong. This runs for every frame,
//! so it peeks the few fields it needs with a borrowed struct and never builds a
//! `serde_json::Value` tree.

use std::{borrow::Cow, fmt, marker::PhantomData};

use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor},
};
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::{Event, Loc};
use crate::reply::{RawReply, ReplyFields};

/// What a text frame from Slack is.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A frame with a string `type` (other than `pong`).
    Event(Event),
    /// A reply to one of our frames: `reply_to` and no `type` (or `reply_to` with `ok`).
    Reply(RawReply),
    /// A `pong` answering one of our pings; with the ping's id when given.
    Pong(Option<RawReply>),
    /// Not JSON, not an object, or neither `type` nor `reply_to`.
    Malformed(&'static str),
}

/// The fields we peek. Strings are borrowed from the frame when they contain no escapes.
#[derive(Default)]
struct Peek<'a> {
    kind: Option<MaybeBorrowed<'a>>,
    subtype: Option<MaybeBorrowed<'a>>,
    reply_to: Option<u64>,
    ok: Option<bool>,
    channel: ChannelHint<'a>,
    /// A reply's own fields, located here so that a reply is scanned once. Raw values cost
    /// what skipping them would: no allocation, no unescaping.
    reply: ReplyPeek<'a>,
    /// A reply field came after `type` in what looked like an event, so it was skipped;
    /// should the frame turn out to be a reply after all, [`Peek::reply_fields`] scans it again.
    skipped_reply_field: bool,
}

/// Where a reply's `ts`, `text` and `error` are.
#[derive(Default, Deserialize)]
struct ReplyPeek<'a> {
    #[serde(borrow, default)]
    ts: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

/// A key of a frame, as far as the peek cares.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    Type,
    Subtype,
    ReplyTo,
    Ok,
    Channel,
    Ts,
    Text,
    Error,
    Other,
}

impl Key {
    /// The names of the keys the peek reads, in declaration order.
    const NAMES: [&'static str; 8] = [
        "type", "subtype", "reply_to", "ok", "channel", "ts", "text", "error",
    ];

    fn of(name: &str) -> Key {
        match name {
            "type" => Key::Type,
            "subtype" => Key::Subtype,
            "reply_to" => Key::ReplyTo,
            "ok" => Key::Ok,
            "channel" => Key::Channel,
            "ts" => Key::Ts,
            "text" => Key::Text,
            "error" => Key::Error,
            _ => Key::Other,
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    // Inlined into the peek's loop: it runs for every key of every frame.
    #[inline]
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl Visitor<'_> for Visit {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            #[inline]
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Key, E> {
                Ok(Key::of(name))
            }
        }
        deserializer.deserialize_identifier(Visit)
    }
}

impl<'a> Peek<'a> {
    /// Whether the frame read so far is an event (a `type` other than `pong`, no `ok`, no
    /// `reply_to`). Events carry `ts` and `text` too, and every event would pay for locating
    /// them; Slack writes `type` first, so with this check events skip them.
    fn looks_like_event(&self) -> bool {
        self.reply_to.is_none()
            && self.ok.is_none()
            && self.kind.as_ref().is_some_and(|kind| kind.0 != "pong")
    }

    /// The reply's fields, located in `frame` (which was peeked into `self`).
    fn reply_fields(&self, frame: &'a str, reply_to: u64) -> ReplyFields {
        let rescanned;
        let reply = if self.skipped_reply_field {
            // The frame is valid JSON (the peek read it) and raw values accept any value.
            rescanned = serde_json::from_str::<ReplyPeek<'_>>(frame).unwrap_or_default();
            &rescanned
        } else {
            &self.reply
        };
        let at = |raw: Option<&RawValue>| raw.and_then(|raw| locate(frame, raw.get()));
        ReplyFields {
            reply_to,
            ok: self.ok,
            ts: at(reply.ts),
            text: at(reply.text),
            error: at(reply.error),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Peek<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(PhantomData<&'a str>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Peek<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Peek<'a>, A::Error> {
                let mut peek = Peek::default();
                let mut seen = 0u8;
                while let Some(key) = map.next_key::<Key>()? {
                    if key != Key::Other {
                        let bit = 1u8 << key as u8;
                        if seen & bit != 0 {
                            return Err(serde::de::Error::duplicate_field(Key::NAMES[key as usize]));
                        }
                        seen |= bit;
                    }
                    match key {
                        Key::Type => peek.kind = map.next_value()?,
                        Key::Subtype => peek.subtype = map.next_value()?,
                        Key::ReplyTo => peek.reply_to = map.next_value()?,
                        Key::Ok => peek.ok = map.next_value()?,
                        Key::Channel => peek.channel = map.next_value()?,
                        Key::Ts | Key::Text | Key::Error if peek.looks_like_event() => {
                            peek.skipped_reply_field = true;
                            map.next_value::<IgnoredAny>()?;
                        }
                        Key::Ts => peek.reply.ts = map.next_value()?,
                        Key::Text => peek.reply.text = map.next_value()?,
                        Key::Error => peek.reply.error = map.next_value()?,
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(peek)
            }
        }
        deserializer.deserialize_map(Visit(PhantomData))
    }
}

/// `channel` when it is a plain string id, located so that handlers find it without parsing
/// the event again; `None` for any other shape (a channel object, escapes), which the
/// context's own parse handles. Accepts every JSON value, so it never rejects a frame.
#[derive(Default)]
struct ChannelHint<'a>(Option<&'a str>);

impl<'de: 'a, 'a> Deserialize<'de> for ChannelHint<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(PhantomData<&'a str>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = ChannelHint<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ChannelHint(Some(v)))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(ChannelHint(None))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ChannelHint(None))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ChannelHint(None))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ChannelHint(None))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ChannelHint(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(ChannelHint(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ChannelHint(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ChannelHint(None))
            }
        }
        deserializer.deserialize_any(Visit(PhantomData))
    }
}

/// A string borrowed from the frame when it has no escapes, owned otherwise.
///
/// Not `Option<Cow<'a, str>>`: serde's `borrow` attribute only borrows a bare `Cow<'a, str>`
/// field, and `Cow`'s own `Deserialize` always returns `Cow::Owned`. With that type every
/// event took the slow [`rebuilt`] path (two small allocations plus a copy of the whole
/// frame). This visitor takes the borrowed string whenever serde_json offers one.
struct MaybeBorrowed<'a>(Cow<'a, str>);

impl<'a> MaybeBorrowed<'a> {
    /// The string when it is a slice of the frame.
    fn borrowed(&self) -> Option<&'a str> {
        match self.0 {
            Cow::Borrowed(s) => Some(s),
            Cow::Owned(_) => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for MaybeBorrowed<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(PhantomData<&'a str>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = MaybeBorrowed<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeBorrowed(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeBorrowed(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MaybeBorrowed(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visit(PhantomData))
    }
}

/// What the peek found, owning nothing borrowed from the frame.
enum Peeked {
    Event {
        kind: Loc,
        subtype: Option<Loc>,
        channel: Option<Loc>,
    },
    /// `type` or `subtype` contained escapes, so they cannot be located in the text.
    Escaped {
        kind: String,
        subtype: Option<String>,
    },
    Reply(ReplyFields),
    Pong(Option<ReplyFields>),
    Malformed(&'static str),
}

fn peek(text: &str) -> Peeked {
    let mut peek: Peek<'_> = match serde_json::from_str(text) {
        Ok(peek) => peek,
        Err(e) if e.is_data() => {
            return Peeked::Malformed("a field has an unexpected type, or the frame is not an object");
        }
        Err(_) => return Peeked::Malformed("not valid JSON"),
    };
    let Some(kind) = peek.kind.take() else {
        return match peek.reply_to {
            Some(reply_to) => Peeked::Reply(peek.reply_fields(text, reply_to)),
            None => Peeked::Malformed("no `type` and no `reply_to`"),
        };
    };
    if kind.0 == "pong" {
        return Peeked::Pong(peek.reply_to.map(|reply_to| peek.reply_fields(text, reply_to)));
    }
    // Slack's replies have no `type`, but a server that adds one to a reply (`ok` plus
    // `reply_to`) still answers our send: events never carry `ok`.
    if let (Some(reply_to), Some(_)) = (peek.reply_to, peek.ok) {
        return Peeked::Reply(peek.reply_fields(text, reply_to));
    }
    let kind_range = kind.borrowed().and_then(|k| locate(text, k));
    let subtype_range = peek
        .subtype
        .as_ref()
        .map(|s| s.borrowed().and_then(|s| locate(text, s)));
    let channel = peek.channel.0.and_then(|c| locate(text, c));
    match (kind_range, subtype_range) {
        (Some(kind), None) => Peeked::Event {
            kind,
            subtype: None,
            channel,
        },
        (Some(kind), Some(Some(subtype))) => Peeked::Event {
            kind,
            subtype: Some(subtype),
            channel,
        },
        _ => Peeked::Escaped {
            kind: kind.0.into_owned(),
            subtype: peek.subtype.map(|s| s.0.into_owned()),
        },
    }
}

/// Classifies one text frame. Never panics, whatever the input.
pub(crate) fn classify(text: Utf8Bytes) -> Frame {
    match peek(&text) {
        Peeked::Event {
            kind,
            subtype,
            channel,
        } => match u32::try_from(text.len()) {
            Ok(_) => Frame::Event(Event {
                text,
                kind,
                subtype,
                channel,
                envelope: None,
            }),
            Err(_) => Frame::Malformed("frame larger than 4 GiB"),
        },
        Peeked::Escaped { kind, subtype } => rebuilt(&kind, subtype.as_deref(), text),
        Peeked::Reply(fields) => Frame::Reply(RawReply::new(text, fields)),
        Peeked::Pong(fields) => Frame::Pong(fields.map(|fields| RawReply::new(text, fields))),
        Peeked::Malformed(reason) => Frame::Malformed(reason),
    }
}

/// Where `part` is inside `text` when `part` is a slice of it.
fn locate(text: &str, part: &str) -> Option<Loc> {
    let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start + part.len();
    if end > text.len() {
        return None;
    }
    Loc::new(start, end)
}

/// Slow path for escaped `type`/`subtype`: the event's buffer holds the unescaped names, each
/// followed by a NUL, then the original JSON; a `type` at 0 tells `json()` to skip them.
fn rebuilt(kind: &str, subtype: Option<&str>, original: Utf8Bytes) -> Frame {
    let mut text = String::with_capacity(original.len() + kind.len() + subtype.map_or(0, str::len) + 2);
    let mut push_name = |name: &str| {
        let start = text.len();
        text.push_str(name);
        let at = Loc::new(start, text.len());
        text.push('\0');
        at
    };
    let kind = push_name(kind);
    let subtype = match subtype {
        Some(name) => push_name(name).map(Some),
        None => Some(None),
    };
    let (Some(kind), Some(subtype)) = (kind, subtype) else {
        return Frame::Malformed("frame larger than 4 GiB");
    };
    text.push_str(&original);
    Frame::Event(Event {
        text: Utf8Bytes::from(text),
        kind,
        subtype,
        // Rare (escaped names): the context finds the channel by parsing.
        channel: None,
        envelope: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        match classify(Utf8Bytes::from(json.to_owned())) {
            Frame::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    /// `Key::NAMES` and `Key::of` name the same keys in the same order (duplicate-field
    /// errors name the key from the first).
    #[test]
    fn key_names_match_their_keys() {
        for (index, name) in Key::NAMES.iter().enumerate() {
            assert_eq!(Key::of(name) as usize, index, "{name}");
        }
        assert!(Key::of("user") == Key::Other);
    }
    #[test]
    fn peeks_type_and_subtype() {
        let e = event(r#"{"type":"message","subtype":"bot_message","text":"hi","nested":{"type":"x"}}"#);
        assert_eq!(e.kind(), "message");
        assert_eq!(e.subtype(), Some("bot_message"));
        let e = event(r#"{"type": "team_join", "user": {"id": "W1"}}"#);
        assert_eq!(e.kind(), "team_join");
        assert_eq!(e.subtype(), None);
    }

    #[test]
    fn a_plain_channel_id_is_located_and_any_other_shape_left_to_the_context() {
        let e = event(r#"{"type":"message","channel":"C024BE91L","text":"hi"}"#);
        assert_eq!(e.channel_id(), Some("C024BE91L"));
        for other in [
            r#"{"type":"channel_created","channel":{"id":"C2","name":"x"}}"#,
            r#"{"type":"x","channel":["C1"]}"#,
            r#"{"type":"x","channel":7}"#,
            r#"{"type":"x","channel":null}"#,
            r#"{"type":"x","channel":"C\u0031"}"#,
            r#"{"type":"team_join","user":{"id":"U1"}}"#,
        ] {
            assert_eq!(event(other).channel_id(), None, "{other}");
        }
        // A channel of any shape never makes a frame malformed.
        assert_eq!(
            event(r#"{"type":"x","channel":{"id":"C2","nested":[1,{"a":null}]}}"#).kind(),
            "x"
        );
    }

    #[test]
    fn plain_names_are_borrowed_not_copied() {
        // The fast path: `type`/`subtype` without escapes are located in the received buffer,
        // which the event keeps as is (same allocation, nothing appended).
        let text = Utf8Bytes::from(r#"{"type":"message","subtype":"bot_message","text":"hi"}"#.to_owned());
        let ptr = text.as_ptr();
        let Frame::Event(e) = classify(text) else {
            panic!("not an event")
        };
        assert_eq!(e.text.as_ptr(), ptr);
        assert_eq!(e.json().as_ptr(), ptr);
        assert_eq!(e.json().len(), e.text.len());
        assert_eq!((e.kind(), e.subtype()), ("message", Some("bot_message")));
        // An escaped name takes the slow path and still reads back unescaped, in front of the
        // JSON, which reads back exactly as sent.
        let frame = r#"{"type":"hell\u006f","subtype":"b\u006ft","channel":"C1"}"#;
        let Frame::Event(e) = classify(Utf8Bytes::from_static(frame)) else {
            panic!()
        };
        assert!(e.json().len() < e.text.len());
        assert_eq!((e.kind(), e.subtype(), e.json()), ("hello", Some("bot"), frame));
        // Only the type escaped, with an empty subtype: still told apart from the JSON.
        let frame = r#"{"type":"\u0078","subtype":""}"#;
        let Frame::Event(e) = classify(Utf8Bytes::from_static(frame)) else {
            panic!()
        };
        assert_eq!((e.kind(), e.subtype(), e.json()), ("x", Some(""), frame));
    }

    #[test]
    fn replies_pongs_and_garbage() {
        assert!(matches!(
            classify(Utf8Bytes::from_static(r#"{"ok":true,"reply_to":7,"ts":"1.2"}"#)),
            Frame::Reply(r) if r.reply_to() == 7
        ));
        assert!(matches!(
            classify(Utf8Bytes::from_static(r#"{"type":"pong","reply_to":3,"time":1}"#)),
            Frame::Pong(Some(r)) if r.reply_to() == 3
        ));
        assert!(matches!(
            classify(Utf8Bytes::from_static(r#"{"type":"pong"}"#)),
            Frame::Pong(None)
        ));
        assert!(matches!(
            classify(Utf8Bytes::from_static(
                r#"{"type":"message","ok":false,"reply_to":9}"#
            )),
            Frame::Reply(r) if r.reply_to() == 9
        ));
        for bad in [
            "",
            "nope",
            "[]",
            // An array is not an object, even one whose first element could be a `type`.
            r#"["message"]"#,
            // A field the peek reads, given twice.
            r#"{"type":"message","type":"hello"}"#,
            r#"{"reply_to":1,"ok":true,"reply_to":2}"#,
            "42",
            r#"{"type":1}"#,
            r#"{"text":"no type"}"#,
            r#"{"type":"message""#,
        ] {
            assert!(
                matches!(classify(Utf8Bytes::from(bad.to_owned())), Frame::Malformed(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn escaped_type_still_works() {
        let e = event(r#"{"type":"mess\u0061ge","subtype":"a\"b"}"#);
        assert_eq!(e.kind(), "message");
        assert_eq!(e.subtype(), Some("a\"b"));
        assert_eq!(e.json(), r#"{"type":"mess\u0061ge","subtype":"a\"b"}"#);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            "{{\"type\":\"x\",\"a\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        // The peek skips the deep field without recursing; a full parse hits serde_json's
        // recursion limit (128) and reports an error instead of overflowing the stack.
        let Frame::Event(event) = classify(Utf8Bytes::from(deep)) else {
            panic!("not an event")
        };
        assert_eq!(event.kind(), "x");
        assert!(event.parse::<serde_json::Value>().is_err());
        let deep_type = format!("{}\"type\":\"x\"{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        assert!(matches!(
            classify(Utf8Bytes::from(deep_type)),
            Frame::Malformed(_)
        ));
    }

    #[test]
    fn parse_can_borrow_from_the_frame() {
        #[derive(serde::Deserialize)]
        struct Borrowed<'a> {
            channel: &'a str,
            #[serde(borrow)]
            text: std::borrow::Cow<'a, str>,
        }
        let e = event(r#"{"type":"message","channel":"C1","text":"hi"}"#);
        let b: Borrowed<'_> = e.parse().unwrap();
        let frame = e.json().as_bytes().as_ptr_range();
        assert!(frame.contains(&b.channel.as_ptr()));
        assert!(matches!(b.text, std::borrow::Cow::Borrowed(t) if frame.contains(&t.as_ptr())));
    }
}
