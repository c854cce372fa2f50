//! Robustness of the event path under hostile input (issue 5).
//!
//! Arbitrary bytes, arbitrary strings, JSON-looking strings, mangled real frames and arbitrary
//! JSON objects whose `type` is one of the known names never panic `Event::from_json`,
//! `KnownEvent::from_event` or any typed parser; a parse failure is always a `ParseError`
//! naming the event's type. Case counts are bounded so the file runs in a few seconds.

use proptest::prelude::*;
use rtm_core::{
    Event, ParseError,
    events::{self, KnownEvent},
};
use serde_json::{Map, Value};

/// Runs every typed parser and the dispatcher on `event`; each must return, and every error
/// must name the event's type.
fn parse_everything(event: &Event) -> Result<(), TestCaseError> {
    let kind = event.kind().to_owned();
    let check = |result: Result<(), ParseError>| -> Result<(), TestCaseError> {
        if let Err(err) = result {
            prop_assert_eq!(&err.event_type, &kind);
            let shown = err.to_string();
            prop_assert!(shown.contains(&format!("`{kind}` event")), "{}", shown);
        }
        Ok(())
    };
    macro_rules! parse_as {
        ($($ty:ident),* $(,)?) => {
            $( check(event.parse::<events::$ty>().map(drop))?; )*
        };
    }
    parse_as!(
        Hello,
        Goodbye,
        ErrorEvent,
        ReconnectUrl,
        Message,
        TeamJoin,
        TeamRename,
        UserChange,
        UserTyping,
        ReactionAdded,
        ReactionRemoved,
        ChannelCreated,
        ChannelDeleted,
        ChannelRename,
        ChannelArchive,
        MemberJoinedChannel,
        MemberLeftChannel,
        PresenceChange,
        PinAdded,
        EmojiChanged,
        DndUpdatedUser,
    );
    match KnownEvent::from_event(event) {
        Ok(known) => {
            prop_assert_eq!(known.kind(), kind.as_str());
            let is_unknown = matches!(known, KnownEvent::Unknown(_));
            prop_assert_eq!(is_unknown, !events::types::ALL.contains(&kind.as_str()));
            if let KnownEvent::PresenceChange(presence) = &known {
                prop_assert!(!presence.users().is_empty());
            }
        }
        Err(err) => check(Err(err))?,
    }
    Ok(())
}

/// Classifies `text`; when it is an event, parses it every way.
fn classify_and_parse(text: &str) -> Result<(), TestCaseError> {
    if let Ok(event) = Event::from_json(text) {
        prop_assert_eq!(event.json(), text);
        parse_everything(&event)?;
    }
    Ok(())
}

/// Field names the typed structs read, so generated objects hit real code paths.
const FIELDS: &[&str] = &[
    "user",
    "users",
    "channel",
    "channel_id",
    "channel_type",
    "team",
    "ts",
    "text",
    "subtype",
    "hidden",
    "thread_ts",
    "parent_user_id",
    "edited",
    "bot_id",
    "files",
    "blocks",
    "message",
    "previous_message",
    "deleted_ts",
    "root",
    "reactions",
    "item",
    "item_user",
    "reaction",
    "event_ts",
    "presence",
    "error",
    "code",
    "msg",
    "url",
    "name",
    "names",
    "id",
    "profile",
    "created",
    "creator",
    "inviter",
    "dnd_status",
    "type",
    "replies",
    "reply_count",
    "value",
];

/// Strings that are valid values for some fields (ids, timestamps, enum values, type names).
const STRINGS: &[&str] = &[
    "U024BE7LH",
    "C024BE91L",
    "1355517523.000005",
    "message",
    "file",
    "file_comment",
    "bot_message",
    "message_changed",
    "message_deleted",
    "active",
    "away",
    "add",
    "remove",
    "",
    "\u{e9}\u{1f600}",
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ]
}

/// Arbitrary JSON, up to a few levels deep, with object keys drawn mostly from [`FIELDS`].
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![4 => prop::sample::select(FIELDS).prop_map(str::to_owned), 1 => "[a-z_]{1,8}"];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A JSON object with `type` drawn from the known names (and a few unknown ones) plus arbitrary
/// fields, mostly with names the structs read.
fn event_object() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        9 => prop::sample::select(events::types::ALL),
        1 => prop::sample::select(&["accounts_changed", "im_created", "x"][..]),
    ];
    let field = (prop::sample::select(FIELDS), json_value());
    (kind, prop::collection::vec(field, 0..10)).prop_map(|(kind, fields)| {
        let mut object = Map::new();
        for (key, value) in fields {
            object.insert(key.to_owned(), value);
        }
        // The classifier requires a string (or null) `subtype`, like `type`; keep it one so
        // that every generated object is an event.
        if let Some(subtype) = object
            .get_mut("subtype")
            .filter(|v| !v.is_string() && !v.is_null())
        {
            *subtype = Value::from("bot_message");
        }
        // Last, so that it wins over a generated `type` field.
        object.insert("type".to_owned(), Value::from(kind));
        Value::Object(object).to_string()
    })
}

/// Real frames to mangle.
const FRAMES: &[&str] = &[
    include_str!("../fixtures/message.json"),
    include_str!("../fixtures/message_changed.json"),
    include_str!("../fixtures/team_join.json"),
    include_str!("../fixtures/reaction_added.json"),
    include_str!("../fixtures/presence_change_batch.json"),
    include_str!("../fixtures/pin_added.json"),
    include_str!("../fixtures/dnd_updated_user.json"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        classify_and_parse(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,256}") {
        classify_and_parse(&text)?;
    }

    #[test]
    fn json_looking_strings_never_panic(text in r#"\{("(type|subtype|user|item|ts)":("[a-z_]{0,10}"|[0-9.e-]{1,6}|\[|\{|\}|\]|null|true),?){0,8}\}?"#) {
        classify_and_parse(&text)?;
    }

    #[test]
    fn known_types_with_arbitrary_fields_give_typed_errors(text in event_object()) {
        let event = Event::from_json(text.as_str()).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert!(!event.kind().is_empty());
        parse_everything(&event)?;
    }

    #[test]
    fn mangled_real_frames_never_panic(
        frame in prop::sample::select(FRAMES),
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        // Truncated anywhere.
        let bytes = frame.as_bytes();
        classify_and_parse(&String::from_utf8_lossy(&bytes[..cut.index(bytes.len() + 1)]))?;
        // One byte replaced anywhere.
        let mut changed = bytes.to_vec();
        changed[at.index(bytes.len())] = byte;
        classify_and_parse(&String::from_utf8_lossy(&changed))?;
    }
}

#[test]
fn deep_nesting_is_an_error_or_skipped_never_a_crash() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // In a field the struct reads (`blocks` is JSON): serde_json's recursion limit (128) turns
    // it into a ParseError naming the event.
    let frame = format!(
        r#"{{"type":"message","channel":"C1","user":"U1","text":"x","ts":"1.2","blocks":[{}]}}"#,
        deep(100_000)
    );
    let event = Event::from_json(frame).expect("the classifier skips the deep field");
    let err = event.to_known().expect_err("too deep for typed parsing");
    assert_eq!(err.event_type, "message");
    assert!(err.to_string().contains("recursion limit"), "{err}");
    // In a field the struct does not read: skipped without recursion, so it parses.
    let frame = format!(
        r#"{{"type":"user_typing","channel":"C1","user":"U1","extra":{}}}"#,
        deep(100_000)
    );
    let event = Event::from_json(frame).expect("classified");
    assert!(matches!(event.to_known(), Ok(KnownEvent::UserTyping(_))));
}
