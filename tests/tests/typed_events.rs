//! Typed events (issue 5): every fixture in `tests/fixtures/` parses into its struct, both with
//! `Event::parse::<T>()` and through `KnownEvent`, with real field values checked; frames that
//! lack a required field fail with a `ParseError` naming the event type and the field.

use std::{collections::BTreeSet, error::Error};

use rtm_core::{
    Event, ParseError,
    events::{
        self, ChannelArchive, ChannelCreated, ChannelDeleted, ChannelRename, DndUpdatedUser, EmojiChangeKind,
        EmojiChanged, ErrorEvent, Goodbye, Hello, KnownEvent, MemberJoinedChannel, MemberLeftChannel,
        Message, MessageSubtype, PinAdded, Presence, PresenceChange, ReactionAdded, ReactionItem,
        ReactionRemoved, ReconnectUrl, TeamJoin, TeamRename, UserChange, UserTyping,
    },
};
use serde::{Serialize, de::DeserializeOwned};

type TestResult = Result<(), Box<dyn Error>>;

/// The text of `tests/fixtures/<name>.json`, compiled in.
macro_rules! fixture {
    ($name:literal) => {
        ($name, include_str!(concat!("../fixtures/", $name, ".json")))
    };
}

/// Every fixture, with the event type it holds.
const FIXTURES: &[((&str, &str), &str)] = &[
    (fixture!("hello"), "hello"),
    (fixture!("goodbye"), "goodbye"),
    (fixture!("error"), "error"),
    (fixture!("reconnect_url"), "reconnect_url"),
    (fixture!("message"), "message"),
    (fixture!("message_thread_reply"), "message"),
    (fixture!("message_bot_message"), "message"),
    (fixture!("message_me_message"), "message"),
    (fixture!("message_changed"), "message"),
    (fixture!("message_deleted"), "message"),
    (fixture!("message_replied"), "message"),
    (fixture!("message_thread_broadcast"), "message"),
    (fixture!("message_file_share"), "message"),
    (fixture!("message_unknown_subtype"), "message"),
    (fixture!("team_join"), "team_join"),
    (fixture!("team_rename"), "team_rename"),
    (fixture!("user_change"), "user_change"),
    (fixture!("user_typing"), "user_typing"),
    (fixture!("reaction_added"), "reaction_added"),
    (fixture!("reaction_added_file_comment"), "reaction_added"),
    (fixture!("reaction_added_unknown_item"), "reaction_added"),
    (fixture!("reaction_removed"), "reaction_removed"),
    (fixture!("channel_created"), "channel_created"),
    (fixture!("channel_deleted"), "channel_deleted"),
    (fixture!("channel_rename"), "channel_rename"),
    (fixture!("channel_archive"), "channel_archive"),
    (fixture!("member_joined_channel"), "member_joined_channel"),
    (fixture!("member_left_channel"), "member_left_channel"),
    (fixture!("presence_change"), "presence_change"),
    (fixture!("presence_change_batch"), "presence_change"),
    (fixture!("pin_added"), "pin_added"),
    (fixture!("emoji_changed"), "emoji_changed"),
    (fixture!("emoji_changed_remove"), "emoji_changed"),
    (fixture!("dnd_updated_user"), "dnd_updated_user"),
    (fixture!("unknown_event"), "accounts_changed"),
];

/// Parses a fixture with `Event::parse::<T>()`, checks that `KnownEvent` yields the same value
/// through `pick`, and that serializing and parsing again gives it back.
fn parse<T>(json: &str, pick: impl FnOnce(KnownEvent) -> Option<T>) -> Result<T, Box<dyn Error>>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let event = Event::from_json(json)?;
    let typed: T = event.parse()?;
    let known = KnownEvent::from_event(&event)?;
    let kind = known.kind().to_owned();
    let via_known = pick(known).ok_or_else(|| format!("KnownEvent picked the wrong variant ({kind})"))?;
    assert_eq!(via_known, typed, "KnownEvent and parse::<T>() disagree");
    let again: T = serde_json::from_str(&serde_json::to_string(&typed)?)?;
    assert_eq!(again, typed, "serialize then parse changed the value");
    Ok(typed)
}

#[test]
fn every_fixture_is_listed_and_classified() -> TestResult {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)?
        .map(|entry| {
            Ok(entry?
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".json")
                .to_owned())
        })
        .collect::<Result<_, std::io::Error>>()?;
    let listed: BTreeSet<String> = FIXTURES.iter().map(|((name, _), _)| (*name).to_owned()).collect();
    assert_eq!(
        on_disk, listed,
        "a fixture file is not in FIXTURES (or the other way round)"
    );

    for ((name, json), kind) in FIXTURES {
        let event = Event::from_json(*json)?;
        assert_eq!(event.kind(), *kind, "{name}");
        let known = event.to_known().map_err(|e| format!("{name}: {e}"))?;
        assert_eq!(known.kind(), *kind, "{name}");
        let is_unknown = matches!(known, KnownEvent::Unknown(_));
        assert_eq!(is_unknown, !events::types::ALL.contains(kind), "{name}");
    }
    Ok(())
}

#[test]
fn hello_goodbye_error_reconnect_url() -> TestResult {
    parse::<Hello>(fixture!("hello").1, |k| match k {
        KnownEvent::Hello(v) => Some(v),
        _ => None,
    })?;
    parse::<Goodbye>(fixture!("goodbye").1, |k| match k {
        KnownEvent::Goodbye(v) => Some(v),
        _ => None,
    })?;

    let error = parse::<ErrorEvent>(fixture!("error").1, |k| match k {
        KnownEvent::Error(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(error.code(), 1);
    assert_eq!(error.msg(), "Socket URL has expired");
    assert_eq!(error.error.code, 1);

    let reconnect = parse::<ReconnectUrl>(fixture!("reconnect_url").1, |k| match k {
        KnownEvent::ReconnectUrl(v) => Some(v),
        _ => None,
    })?;
    let url = reconnect.url.as_deref().ok_or("url")?;
    assert!(url.starts_with("wss://wss-primary.slack.com/websocket/"));
    // The URL carries a ticket: Debug must not show it.
    assert!(!format!("{reconnect:?}").contains("secret-ticket"));
    Ok(())
}

fn message(json: &str) -> Result<Message, Box<dyn Error>> {
    parse::<Message>(json, |k| match k {
        KnownEvent::Message(v) => Some(*v),
        _ => None,
    })
}

#[test]
fn plain_message_and_thread_reply() -> TestResult {
    let m = message(fixture!("message").1)?;
    assert_eq!(m.subtype, None);
    assert_eq!(m.channel, "C05ABCD1234");
    assert_eq!(m.user.as_deref(), Some("U04QWERTY12"));
    assert_eq!(
        m.text.as_deref(),
        Some("Morning all, the release branch is cut :rocket:")
    );
    assert_eq!(m.ts, "1712563200.001200");
    assert_eq!(m.event_ts.as_deref(), Some("1712563200.001200"));
    assert_eq!(
        m.client_msg_id.as_deref(),
        Some("0b7d3c1e-9a2f-4d6b-8e11-5f3c2a9d7e40")
    );
    assert_eq!(m.team.as_deref(), Some("T01ACME0001"));
    assert_eq!(m.blocks.as_ref().map(Vec::len), Some(1));
    assert!(!m.is_thread_reply());
    assert!(!m.is_hidden());

    let reply = message(fixture!("message_thread_reply").1)?;
    assert_eq!(reply.subtype, None);
    assert!(reply.is_thread_reply());
    assert_eq!(reply.thread_ts.as_deref(), Some("1712563200.001200"));
    assert_eq!(reply.parent_user_id.as_deref(), Some("U04QWERTY12"));
    assert_eq!(reply.ts, "1712563321.004500");
    Ok(())
}

#[test]
fn bot_and_me_messages() -> TestResult {
    let bot = message(fixture!("message_bot_message").1)?;
    assert_eq!(bot.subtype, Some(MessageSubtype::BotMessage));
    assert_eq!(bot.user, None);
    assert_eq!(bot.bot_id.as_deref(), Some("B02CIBOT001"));
    assert_eq!(bot.username.as_deref(), Some("ci-bot"));
    assert_eq!(bot.text.as_deref(), Some("Build #4821 passed on main"));
    assert_eq!(
        bot.icons.as_ref().and_then(|i| i["emoji"].as_str()),
        Some(":white_check_mark:")
    );
    assert_eq!(bot.attachments.as_ref().map(Vec::len), Some(1));

    let me = message(fixture!("message_me_message").1)?;
    assert_eq!(me.subtype, Some(MessageSubtype::MeMessage));
    assert_eq!(me.user.as_deref(), Some("U04QWERTY12"));
    assert_eq!(me.text.as_deref(), Some("is grabbing coffee"));
    Ok(())
}

#[test]
fn message_changed_has_both_versions() -> TestResult {
    let m = message(fixture!("message_changed").1)?;
    assert_eq!(m.subtype, Some(MessageSubtype::MessageChanged));
    assert!(m.is_hidden());
    assert_eq!(m.user, None);
    assert_eq!(m.ts, "1712563600.000900");
    let new = m.message.as_deref().ok_or("message")?;
    let old = m.previous_message.as_deref().ok_or("previous_message")?;
    assert_eq!(new.ts, old.ts);
    assert_eq!(new.ts, "1712563200.001200");
    assert_eq!(
        new.text.as_deref(),
        Some("Morning all, the release branch is cut (v2.3) :rocket:")
    );
    assert_eq!(
        old.text.as_deref(),
        Some("Morning all, the release branch is cut :rocket:")
    );
    let edited = new.edited.as_ref().ok_or("edited")?;
    assert_eq!(
        (edited.user.as_str(), edited.ts.as_str()),
        ("U04QWERTY12", "1712563600.000000")
    );
    assert_eq!(old.edited, None);
    Ok(())
}

#[test]
fn message_deleted_and_replied() -> TestResult {
    let deleted = message(fixture!("message_deleted").1)?;
    assert_eq!(deleted.subtype, Some(MessageSubtype::MessageDeleted));
    assert_eq!(deleted.deleted_ts.as_deref(), Some("1712563400.000300"));
    let previous = deleted.previous_message.as_deref().ok_or("previous_message")?;
    assert_eq!(previous.subtype, Some(MessageSubtype::BotMessage));
    assert_eq!(previous.bot_id.as_deref(), Some("B02CIBOT001"));

    let replied = message(fixture!("message_replied").1)?;
    assert_eq!(replied.subtype, Some(MessageSubtype::MessageReplied));
    let parent = replied.message.as_deref().ok_or("message")?;
    assert_eq!(parent.thread_ts.as_deref(), Some(parent.ts.as_str()));
    assert_eq!(parent.reply_count, Some(2));
    assert_eq!(parent.latest_reply.as_deref(), Some("1712563321.004500"));
    let replies = parent.replies.as_deref().ok_or("replies")?;
    assert_eq!(replies.len(), 2);
    assert_eq!(
        (replies[1].user.as_str(), replies[1].ts.as_str()),
        ("U07ZXCVB789", "1712563321.004500")
    );
    Ok(())
}

#[test]
fn thread_broadcast_file_share_and_unknown_subtype() -> TestResult {
    let broadcast = message(fixture!("message_thread_broadcast").1)?;
    assert_eq!(broadcast.subtype, Some(MessageSubtype::ThreadBroadcast));
    assert_eq!(broadcast.thread_ts.as_deref(), Some("1712563200.001200"));
    assert!(broadcast.is_thread_reply());
    let root = broadcast.root.as_deref().ok_or("root")?;
    assert_eq!(root.ts, "1712563200.001200");
    assert_eq!(root.reply_count, Some(3));

    let share = message(fixture!("message_file_share").1)?;
    assert_eq!(share.subtype, Some(MessageSubtype::FileShare));
    let files = share.files.as_deref().ok_or("files")?;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].id, "F06LATENCY1");
    assert_eq!(files[0].name.as_deref(), Some("p99-latency.png"));
    assert_eq!(files[0].mimetype.as_deref(), Some("image/png"));
    assert_eq!(files[0].size, Some(48_213));
    assert_eq!(files[0].created, Some(1_712_563_898));

    let unknown = message(fixture!("message_unknown_subtype").1)?;
    assert_eq!(
        unknown.subtype,
        Some(MessageSubtype::Other("huddle_thread".into()))
    );
    assert_eq!(
        unknown.subtype.as_ref().map(MessageSubtype::as_str),
        Some("huddle_thread")
    );
    assert_eq!(unknown.text.as_deref(), Some("A huddle happened here"));
    Ok(())
}

#[test]
fn team_join_user_change_team_rename() -> TestResult {
    let join = parse::<TeamJoin>(fixture!("team_join").1, |k| match k {
        KnownEvent::TeamJoin(v) => Some(*v),
        _ => None,
    })?;
    let user = &join.user;
    assert_eq!(user.id, "W07NEWHIRE1");
    assert_eq!(user.team_id.as_deref(), Some("T01ACME0001"));
    assert_eq!(user.name.as_deref(), Some("maria.lopez"));
    assert_eq!(user.real_name.as_deref(), Some("María López"));
    assert_eq!(user.tz.as_deref(), Some("Europe/Madrid"));
    assert_eq!(user.tz_offset, Some(7200));
    assert_eq!(
        (user.deleted, user.is_admin, user.is_bot),
        (Some(false), Some(false), Some(false))
    );
    assert_eq!(user.updated, Some(1_712_564_100));
    let profile = user.profile.as_ref().ok_or("profile")?;
    assert_eq!(profile.display_name.as_deref(), Some("maria"));
    assert_eq!(profile.real_name_normalized.as_deref(), Some("Maria Lopez"));
    assert_eq!(profile.email.as_deref(), Some("maria.lopez@acme.example"));
    assert_eq!(profile.title.as_deref(), Some("Backend Engineer"));
    assert_eq!(profile.status_expiration, Some(0));
    assert_eq!(
        profile.image_72.as_deref(),
        Some("https://avatars.slack-edge.com/2024-04-08/W07NEWHIRE1_72.png")
    );
    assert_eq!(join.event_ts.as_deref(), Some("1712564100.002000"));

    let change = parse::<UserChange>(fixture!("user_change").1, |k| match k {
        KnownEvent::UserChange(v) => Some(*v),
        _ => None,
    })?;
    assert_eq!(change.user.id, "W07NEWHIRE1");
    let profile = change.user.profile.as_ref().ok_or("profile")?;
    assert_eq!(profile.status_text.as_deref(), Some("Onboarding"));
    assert_eq!(profile.status_emoji.as_deref(), Some(":books:"));
    assert_eq!(profile.title.as_deref(), Some("Senior Backend Engineer"));

    let rename = parse::<TeamRename>(fixture!("team_rename").1, |k| match k {
        KnownEvent::TeamRename(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(rename.name, "Acme Robotics");
    Ok(())
}

#[test]
fn user_typing() -> TestResult {
    let typing = parse::<UserTyping>(fixture!("user_typing").1, |k| match k {
        KnownEvent::UserTyping(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(
        (typing.channel.as_str(), typing.user.as_str()),
        ("C05ABCD1234", "U07ZXCVB789")
    );
    Ok(())
}

fn reaction_added(json: &str) -> Result<ReactionAdded, Box<dyn Error>> {
    parse::<ReactionAdded>(json, |k| match k {
        KnownEvent::ReactionAdded(v) => Some(v),
        _ => None,
    })
}

#[test]
fn reactions_on_every_item_kind() -> TestResult {
    let added = reaction_added(fixture!("reaction_added").1)?;
    assert_eq!(added.user, "U07ZXCVB789");
    assert_eq!(added.reaction, "tada");
    assert_eq!(added.item_user.as_deref(), Some("U04QWERTY12"));
    assert_eq!(added.event_ts, "1712570200.000500");
    let ReactionItem::Message(item) = &added.item else {
        panic!("not a message item: {:?}", added.item)
    };
    assert_eq!(
        (item.channel.as_str(), item.ts.as_str()),
        ("C05ABCD1234", "1712563200.001200")
    );

    let removed = parse::<ReactionRemoved>(fixture!("reaction_removed").1, |k| match k {
        KnownEvent::ReactionRemoved(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(removed.reaction, "eyes");
    assert_eq!(removed.item_user, None);
    let ReactionItem::File(file) = &removed.item else {
        panic!("not a file item: {:?}", removed.item)
    };
    assert_eq!(file.file, "F06LATENCY1");

    let comment = reaction_added(fixture!("reaction_added_file_comment").1)?;
    assert_eq!(comment.reaction, "+1::skin-tone-3");
    let ReactionItem::FileComment(item) = &comment.item else {
        panic!("not a comment: {:?}", comment.item)
    };
    assert_eq!(
        (item.file_comment.as_str(), item.file.as_str()),
        ("Fc06COMMENT1", "F06LATENCY1")
    );

    // An item type Slack added later does not fail the event.
    let unknown = reaction_added(fixture!("reaction_added_unknown_item").1)?;
    assert_eq!(unknown.item, ReactionItem::Other);
    assert_eq!(unknown.reaction, "white_check_mark");
    Ok(())
}

#[test]
fn channel_events() -> TestResult {
    let created = parse::<ChannelCreated>(fixture!("channel_created").1, |k| match k {
        KnownEvent::ChannelCreated(v) => Some(*v),
        _ => None,
    })?;
    let channel = &created.channel;
    assert_eq!(channel.id, "C06INCIDENT");
    assert_eq!(channel.name, "inc-2024-04-08-db");
    assert_eq!(channel.created, 1_712_570_600);
    assert_eq!(channel.creator, "U04QWERTY12");
    assert_eq!(
        (channel.is_channel, channel.is_private),
        (Some(true), Some(false))
    );

    let deleted = parse::<ChannelDeleted>(fixture!("channel_deleted").1, |k| match k {
        KnownEvent::ChannelDeleted(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(deleted.channel, "C06OLDSTUFF");

    let rename = parse::<ChannelRename>(fixture!("channel_rename").1, |k| match k {
        KnownEvent::ChannelRename(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(rename.channel.id, "C06INCIDENT");
    assert_eq!(rename.channel.name, "inc-2024-04-08-db-resolved");
    assert_eq!(rename.channel.created, Some(1_712_570_600));

    let archive = parse::<ChannelArchive>(fixture!("channel_archive").1, |k| match k {
        KnownEvent::ChannelArchive(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(archive.channel, "C06INCIDENT");
    assert_eq!(archive.user.as_deref(), Some("U04QWERTY12"));

    let joined = parse::<MemberJoinedChannel>(fixture!("member_joined_channel").1, |k| match k {
        KnownEvent::MemberJoinedChannel(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(joined.user, "W07NEWHIRE1");
    assert_eq!(joined.channel, "C05ABCD1234");
    assert_eq!(joined.channel_type, "C");
    assert_eq!(joined.team, "T01ACME0001");
    assert_eq!(joined.inviter.as_deref(), Some("U04QWERTY12"));

    let left = parse::<MemberLeftChannel>(fixture!("member_left_channel").1, |k| match k {
        KnownEvent::MemberLeftChannel(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(
        (left.user.as_str(), left.channel.as_str()),
        ("U09ASDFG456", "G05PRIVATE1")
    );
    assert_eq!(left.channel_type, "G");
    Ok(())
}

#[test]
fn presence_change_both_shapes() -> TestResult {
    let pick = |k| match k {
        KnownEvent::PresenceChange(v) => Some(v),
        _ => None,
    };
    let single = parse::<PresenceChange>(fixture!("presence_change").1, pick)?;
    assert_eq!(single.presence, Presence::Away);
    assert_eq!(single.users(), ["U07ZXCVB789"]);
    assert_eq!(single.user.as_deref(), Some("U07ZXCVB789"));

    let batch = parse::<PresenceChange>(fixture!("presence_change_batch").1, pick)?;
    assert_eq!(batch.presence, Presence::Active);
    assert_eq!(batch.users(), ["U04QWERTY12", "U09ASDFG456", "W07NEWHIRE1"]);
    assert_eq!(batch.user, None);
    Ok(())
}

#[test]
fn pins_emoji_and_dnd() -> TestResult {
    let pin = parse::<PinAdded>(fixture!("pin_added").1, |k| match k {
        KnownEvent::PinAdded(v) => Some(*v),
        _ => None,
    })?;
    assert_eq!(pin.user, "U04QWERTY12");
    assert_eq!(pin.channel_id, "C05ABCD1234");
    assert_eq!(pin.item.kind, "message");
    assert_eq!(pin.item.created_by.as_deref(), Some("U04QWERTY12"));
    let pinned = pin.item.message.as_deref().ok_or("pinned message")?;
    assert_eq!(pinned.ts, "1712563950.001800");
    assert_eq!(pinned.user.as_deref(), Some("U07ZXCVB789"));

    let pick = |k| match k {
        KnownEvent::EmojiChanged(v) => Some(v),
        _ => None,
    };
    let add = parse::<EmojiChanged>(fixture!("emoji_changed").1, pick)?;
    assert_eq!(add.subtype, Some(EmojiChangeKind::Add));
    assert_eq!(add.name.as_deref(), Some("shipit"));
    assert!(add.value.as_deref().is_some_and(|v| v.ends_with(".png")));
    let remove = parse::<EmojiChanged>(fixture!("emoji_changed_remove").1, pick)?;
    assert_eq!(remove.subtype, Some(EmojiChangeKind::Remove));
    assert_eq!(
        remove.names.as_deref(),
        Some(&["oldlogo".to_owned(), "oldlogo2".to_owned()][..])
    );

    let dnd = parse::<DndUpdatedUser>(fixture!("dnd_updated_user").1, |k| match k {
        KnownEvent::DndUpdatedUser(v) => Some(v),
        _ => None,
    })?;
    assert_eq!(dnd.user, "U09ASDFG456");
    assert_eq!(dnd.dnd_status.dnd_enabled, Some(true));
    assert_eq!(dnd.dnd_status.next_dnd_start_ts, Some(1_712_608_200));
    assert_eq!(dnd.dnd_status.next_dnd_end_ts, Some(1_712_640_600));
    Ok(())
}

#[test]
fn unknown_type_keeps_the_raw_frame() -> TestResult {
    let json = fixture!("unknown_event").1;
    let event = Event::from_json(json)?;
    let KnownEvent::Unknown(raw) = event.to_known()? else {
        panic!("accounts_changed is not known")
    };
    assert_eq!(raw.kind(), "accounts_changed");
    assert_eq!(raw.json(), json);
    Ok(())
}

/// Parses `json` as `T` and via `KnownEvent`; both must fail, naming `kind` and `field`.
fn assert_fails<T: DeserializeOwned + std::fmt::Debug>(json: &str, kind: &str, field: &str) -> TestResult {
    let event = Event::from_json(json)?;
    let direct: ParseError = event.parse::<T>().expect_err("must not parse");
    let known: ParseError = KnownEvent::from_event(&event).expect_err("must not parse");
    for err in [direct, known] {
        assert_eq!(err.event_type, kind);
        let shown = err.to_string();
        assert!(shown.contains(&format!("`{kind}` event")), "{shown}");
        assert!(shown.contains(&format!("`{field}`")), "{shown}");
        assert!(
            std::error::Error::source(&err).is_some(),
            "serde's error is the source"
        );
    }
    Ok(())
}

#[test]
fn team_join_without_user_names_type_and_field() -> TestResult {
    let json = r#"{"type":"team_join","event_ts":"1712564100.002000"}"#;
    assert_fails::<TeamJoin>(json, "team_join", "user")?;
    let err = Event::from_json(json)?.parse::<TeamJoin>().expect_err("no user");
    assert!(
        err.to_string().starts_with("cannot parse `team_join` event as "),
        "{err}"
    );
    assert!(err.to_string().contains("missing field `user`"), "{err}");
    // A user object without its id fails too.
    assert_fails::<TeamJoin>(r#"{"type":"team_join","user":{"name":"x"}}"#, "team_join", "id")
}

#[test]
fn missing_required_fields_are_typed_errors() -> TestResult {
    // A plain message needs user and text; subtypes need their own fields (§5.3).
    assert_fails::<Message>(
        r#"{"type":"message","channel":"C1","ts":"1.2","text":"hi"}"#,
        "message",
        "user",
    )?;
    assert_fails::<Message>(
        r#"{"type":"message","channel":"C1","ts":"1.2","user":"U1"}"#,
        "message",
        "text",
    )?;
    assert_fails::<Message>(
        r#"{"type":"message","user":"U1","text":"hi","ts":"1.2"}"#,
        "message",
        "channel",
    )?;
    assert_fails::<Message>(
        r#"{"type":"message","subtype":"message_changed","channel":"C1","ts":"1.2"}"#,
        "message",
        "message",
    )?;
    assert_fails::<Message>(
        r#"{"type":"message","subtype":"message_deleted","channel":"C1","ts":"1.2"}"#,
        "message",
        "deleted_ts",
    )?;
    assert_fails::<ReactionAdded>(
        r#"{"type":"reaction_added","user":"U1","reaction":"x","item":{"type":"message","channel":"C1"},"event_ts":"1.2"}"#,
        "reaction_added",
        "ts",
    )?;
    assert_fails::<PresenceChange>(
        r#"{"type":"presence_change","presence":"away"}"#,
        "presence_change",
        "user",
    )?;
    assert_fails::<ErrorEvent>(r#"{"type":"error","error":{"msg":"boom"}}"#, "error", "code")?;
    // A field of the wrong JSON type: serde names the type it expected, we name the event.
    let wrong = Event::from_json(r#"{"type":"user_typing","channel":"C1","user":42}"#)?;
    let err = wrong.to_known().expect_err("user is a number");
    assert_eq!(err.event_type, "user_typing");
    assert!(
        err.to_string()
            .contains("invalid type: integer `42`, expected a string"),
        "{err}"
    );
    // A subtype without user/text is fine: only plain messages require them.
    let bot = Event::from_json(r#"{"type":"message","subtype":"bot_message","channel":"C1","ts":"1.2"}"#)?;
    assert!(bot.parse::<Message>().is_ok());
    // Both presence shapes at once is ambiguous, so it is refused.
    let both =
        Event::from_json(r#"{"type":"presence_change","user":"U1","users":["U2"],"presence":"away"}"#)?;
    let err = both.parse::<PresenceChange>().expect_err("both shapes");
    assert!(
        err.to_string().contains("exactly one of `user` and `users`"),
        "{err}"
    );
    Ok(())
}
