//! Typed structs for the RTM events Slack sends, and [`KnownEvent`] over all of them.
//!
//! Every struct derives serde's `Deserialize` and `Serialize`, ignores fields it does not know,
//! makes every field that Slack may leave out an `Option`, and keeps timestamps (`ts`,
//! `event_ts`, `thread_ts`, …) as the strings Slack sends. The fields that are *not* `Option`
//! are the ones the protocol reference lists as always present (§5.3); a frame without one of
//! them fails to parse with a [`ParseError`] that names the event type and the field.
//!
//! Two ways in:
//!
//! - [`Event::parse`] into one struct, when you know what you want:
//!   `event.parse::<events::TeamJoin>()`.
//! - [`KnownEvent::from_event`] (or [`Event::to_known`]) to get an enum over every event this
//!   module knows. It looks at [`Event::kind`] (read when the frame arrived, no JSON tree is
//!   built) and parses only the matching struct; a type it does not know becomes
//!   [`KnownEvent::Unknown`], which keeps the raw frame.
//!
//! The type names are constants in [`types`], for matching on [`Event::kind`] without typos.
//!
//! ```
//! use rtm_core::{Event, events::{self, KnownEvent}};
//!
//! let event = Event::from_json(r#"{"type":"user_typing","channel":"C1","user":"U1"}"#)?;
//! assert_eq!(event.kind(), events::types::USER_TYPING);
//! match event.to_known()? {
//!     KnownEvent::UserTyping(typing) => assert_eq!(typing.user, "U1"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Limits
//!
//! Nothing here panics on hostile input; every failure is a typed error. The bounds are:
//!
//! - **Classification** ([`Event::from_json`], and the connection for every frame) reads only
//!   `type`, `subtype` and `reply_to` and skips every other field without recursion, so any
//!   nesting depth is safe and costs time linear in the frame size.
//! - **Typed parsing** ([`Event::parse`], [`KnownEvent::from_event`]) uses serde_json, whose
//!   recursion limit of 128 nested arrays/objects turns a deeper value into a [`ParseError`]
//!   instead of a stack overflow. Fields a struct does not know are skipped without recursion.
//! - **Frame size**: the connection refuses inbound frames over 16 MiB (`MAX_INBOUND_FRAME` in
//!   `connection/dial.rs`), so no single event can make the client buffer more than that.

use crate::{Event, ParseError};

/// Declares a string-valued enum with an `Other(String)` arm: it deserializes from any string
/// (unknown ones become `Other`) and serializes back to the same string.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $wire:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[doc = $doc])* $variant, )*
            /// A value this version does not know, kept as Slack sent it. Build values with
            /// `From<&str>` so that known strings never end up here.
            Other(String),
        }

        impl $name {
            /// The value as Slack spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )*
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match Self::from(value.as_str()) {
                    Self::Other(_) => Self::Other(value),
                    known => known,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visit;
                impl ::serde::de::Visitor<'_> for Visit {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: ::serde::de::Error>(self, value: &str) -> Result<$name, E> {
                        Ok($name::from(value))
                    }
                    fn visit_string<E: ::serde::de::Error>(self, value: String) -> Result<$name, E> {
                        Ok($name::from(value))
                    }
                }
                deserializer.deserialize_str(Visit)
            }
        }
    };
}

/// Declares a public struct whose `Deserialize` reads a private copy of its fields (`$wire`)
/// and then runs `check(&self) -> Result<(), &'static str>`, for rules that span several
/// fields (e.g. "`user` is required when there is no `subtype`"). The error text becomes
/// serde's message, so a [`ParseError`] still names the field.
macro_rules! checked_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident via $wire:ident = $wire_str:literal {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(::serde::Deserialize, ::serde::Serialize)]
        #[serde(try_from = $wire_str)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        /// The unchecked fields, as read from the wire.
        #[derive(::serde::Deserialize)]
        struct $wire {
            $( $(#[$field_meta])* $field: $ty, )*
        }

        #[doc(hidden)]
        impl TryFrom<$wire> for $name {
            type Error = &'static str;

            fn try_from(wire: $wire) -> Result<Self, Self::Error> {
                let value = $name { $( $field: wire.$field, )* };
                value.check().map(|()| value)
            }
        }
    };
}

mod channel;
mod control;
mod message;
mod misc;
mod presence;
mod reaction;
mod team;

pub use self::{
    channel::{
        Channel, ChannelArchive, ChannelCreated, ChannelDeleted, ChannelRename, MemberJoinedChannel,
        MemberLeftChannel, RenamedChannel,
    },
    control::{ErrorDetail, ErrorEvent, Goodbye, Hello, ReconnectUrl},
    message::{Edited, File, Message, MessageReaction, MessageSubtype, NestedMessage, ThreadReply},
    misc::{DndStatus, DndUpdatedUser, EmojiChangeKind, EmojiChanged, PinAdded, PinnedItem, UserTyping},
    presence::{Presence, PresenceChange},
    reaction::{FileCommentItem, FileItem, MessageItem, ReactionAdded, ReactionItem, ReactionRemoved},
    team::{Profile, TeamJoin, TeamRename, User, UserChange},
};

/// The `type` names of the events in this module, for matching on [`Event::kind`].
pub mod types {
    /// `hello`: the first frame of every session.
    pub const HELLO: &str = "hello";
    /// `goodbye`: the server is about to close the connection.
    pub const GOODBYE: &str = "goodbye";
    /// `error`: a session-level error, such as an expired socket URL.
    pub const ERROR: &str = "error";
    /// `reconnect_url`: an experimental, unsupported reconnect hint.
    pub const RECONNECT_URL: &str = "reconnect_url";
    /// `message`: a message and all its subtypes.
    pub const MESSAGE: &str = "message";
    /// `team_join`: a new member joined the workspace.
    pub const TEAM_JOIN: &str = "team_join";
    /// `team_rename`: the workspace was renamed.
    pub const TEAM_RENAME: &str = "team_rename";
    /// `user_change`: a member's data changed.
    pub const USER_CHANGE: &str = "user_change";
    /// `user_typing`: someone is typing in a channel.
    pub const USER_TYPING: &str = "user_typing";
    /// `reaction_added`: a reaction was added to an item.
    pub const REACTION_ADDED: &str = "reaction_added";
    /// `reaction_removed`: a reaction was removed from an item.
    pub const REACTION_REMOVED: &str = "reaction_removed";
    /// `channel_created`: a channel was created.
    pub const CHANNEL_CREATED: &str = "channel_created";
    /// `channel_deleted`: a channel was deleted.
    pub const CHANNEL_DELETED: &str = "channel_deleted";
    /// `channel_rename`: a channel was renamed.
    pub const CHANNEL_RENAME: &str = "channel_rename";
    /// `channel_archive`: a channel was archived.
    pub const CHANNEL_ARCHIVE: &str = "channel_archive";
    /// `member_joined_channel`: a user joined a channel.
    pub const MEMBER_JOINED_CHANNEL: &str = "member_joined_channel";
    /// `member_left_channel`: a user left a channel.
    pub const MEMBER_LEFT_CHANNEL: &str = "member_left_channel";
    /// `presence_change`: one or more users became active or away.
    pub const PRESENCE_CHANGE: &str = "presence_change";
    /// `pin_added`: an item was pinned in a channel.
    pub const PIN_ADDED: &str = "pin_added";
    /// `emoji_changed`: a custom emoji was added, removed or renamed.
    pub const EMOJI_CHANGED: &str = "emoji_changed";
    /// `dnd_updated_user`: a user's Do Not Disturb settings changed.
    pub const DND_UPDATED_USER: &str = "dnd_updated_user";

    /// Every name above, in the order of [`KnownEvent`](super::KnownEvent)'s variants.
    pub const ALL: &[&str] = &[
        HELLO,
        GOODBYE,
        ERROR,
        RECONNECT_URL,
        MESSAGE,
        TEAM_JOIN,
        TEAM_RENAME,
        USER_CHANGE,
        USER_TYPING,
        REACTION_ADDED,
        REACTION_REMOVED,
        CHANNEL_CREATED,
        CHANNEL_DELETED,
        CHANNEL_RENAME,
        CHANNEL_ARCHIVE,
        MEMBER_JOINED_CHANNEL,
        MEMBER_LEFT_CHANNEL,
        PRESENCE_CHANGE,
        PIN_ADDED,
        EMOJI_CHANGED,
        DND_UPDATED_USER,
    ];
}

/// Any event this module has a struct for, or the raw [`Event`] for the others.
///
/// Build it with [`KnownEvent::from_event`] or [`Event::to_known`]. The largest structs are
/// boxed so that the enum stays small.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KnownEvent {
    /// `hello`.
    Hello(Hello),
    /// `goodbye`.
    Goodbye(Goodbye),
    /// `error`.
    Error(ErrorEvent),
    /// `reconnect_url`.
    ReconnectUrl(ReconnectUrl),
    /// `message`, with any subtype.
    Message(Box<Message>),
    /// `team_join`.
    TeamJoin(Box<TeamJoin>),
    /// `team_rename`.
    TeamRename(TeamRename),
    /// `user_change`.
    UserChange(Box<UserChange>),
    /// `user_typing`.
    UserTyping(UserTyping),
    /// `reaction_added`.
    ReactionAdded(ReactionAdded),
    /// `reaction_removed`.
    ReactionRemoved(ReactionRemoved),
    /// `channel_created`.
    ChannelCreated(Box<ChannelCreated>),
    /// `channel_deleted`.
    ChannelDeleted(ChannelDeleted),
    /// `channel_rename`.
    ChannelRename(ChannelRename),
    /// `channel_archive`.
    ChannelArchive(ChannelArchive),
    /// `member_joined_channel`.
    MemberJoinedChannel(MemberJoinedChannel),
    /// `member_left_channel`.
    MemberLeftChannel(MemberLeftChannel),
    /// `presence_change`.
    PresenceChange(PresenceChange),
    /// `pin_added`.
    PinAdded(Box<PinAdded>),
    /// `emoji_changed`.
    EmojiChanged(EmojiChanged),
    /// `dnd_updated_user`.
    DndUpdatedUser(DndUpdatedUser),
    /// An event type this module has no struct for; the raw frame, unparsed.
    Unknown(Event),
}

impl KnownEvent {
    /// Parses `event` into the struct for its type, or returns [`KnownEvent::Unknown`] for a
    /// type this module does not know.
    ///
    /// Only the `type` read when the frame arrived is looked at to choose; then the one
    /// matching struct is parsed.
    ///
    /// # Errors
    /// A [`ParseError`] naming the event type and the failing field when the event is a known
    /// type but lacks a required field or has one of the wrong JSON type.
    pub fn from_event(event: &Event) -> Result<KnownEvent, ParseError> {
        use self::types::*;

        Ok(match event.kind() {
            HELLO => KnownEvent::Hello(event.parse()?),
            GOODBYE => KnownEvent::Goodbye(event.parse()?),
            ERROR => KnownEvent::Error(event.parse()?),
            RECONNECT_URL => KnownEvent::ReconnectUrl(event.parse()?),
            MESSAGE => KnownEvent::Message(Box::new(event.parse()?)),
            TEAM_JOIN => KnownEvent::TeamJoin(Box::new(event.parse()?)),
            TEAM_RENAME => KnownEvent::TeamRename(event.parse()?),
            USER_CHANGE => KnownEvent::UserChange(Box::new(event.parse()?)),
            USER_TYPING => KnownEvent::UserTyping(event.parse()?),
            REACTION_ADDED => KnownEvent::ReactionAdded(event.parse()?),
            REACTION_REMOVED => KnownEvent::ReactionRemoved(event.parse()?),
            CHANNEL_CREATED => KnownEvent::ChannelCreated(Box::new(event.parse()?)),
            CHANNEL_DELETED => KnownEvent::ChannelDeleted(event.parse()?),
            CHANNEL_RENAME => KnownEvent::ChannelRename(event.parse()?),
            CHANNEL_ARCHIVE => KnownEvent::ChannelArchive(event.parse()?),
            MEMBER_JOINED_CHANNEL => KnownEvent::MemberJoinedChannel(event.parse()?),
            MEMBER_LEFT_CHANNEL => KnownEvent::MemberLeftChannel(event.parse()?),
            PRESENCE_CHANGE => KnownEvent::PresenceChange(event.parse()?),
            PIN_ADDED => KnownEvent::PinAdded(Box::new(event.parse()?)),
            EMOJI_CHANGED => KnownEvent::EmojiChanged(event.parse()?),
            DND_UPDATED_USER => KnownEvent::DndUpdatedUser(event.parse()?),
            _ => KnownEvent::Unknown(event.clone()),
        })
    }

    /// The event's `type`, e.g. `"message"`; for [`KnownEvent::Unknown`], the raw event's type.
    pub fn kind(&self) -> &str {
        use self::types::*;

        match self {
            KnownEvent::Hello(_) => HELLO,
            KnownEvent::Goodbye(_) => GOODBYE,
            KnownEvent::Error(_) => ERROR,
            KnownEvent::ReconnectUrl(_) => RECONNECT_URL,
            KnownEvent::Message(_) => MESSAGE,
            KnownEvent::TeamJoin(_) => TEAM_JOIN,
            KnownEvent::TeamRename(_) => TEAM_RENAME,
            KnownEvent::UserChange(_) => USER_CHANGE,
            KnownEvent::UserTyping(_) => USER_TYPING,
            KnownEvent::ReactionAdded(_) => REACTION_ADDED,
            KnownEvent::ReactionRemoved(_) => REACTION_REMOVED,
            KnownEvent::ChannelCreated(_) => CHANNEL_CREATED,
            KnownEvent::ChannelDeleted(_) => CHANNEL_DELETED,
            KnownEvent::ChannelRename(_) => CHANNEL_RENAME,
            KnownEvent::ChannelArchive(_) => CHANNEL_ARCHIVE,
            KnownEvent::MemberJoinedChannel(_) => MEMBER_JOINED_CHANNEL,
            KnownEvent::MemberLeftChannel(_) => MEMBER_LEFT_CHANNEL,
            KnownEvent::PresenceChange(_) => PRESENCE_CHANGE,
            KnownEvent::PinAdded(_) => PIN_ADDED,
            KnownEvent::EmojiChanged(_) => EMOJI_CHANGED,
            KnownEvent::DndUpdatedUser(_) => DND_UPDATED_USER,
            KnownEvent::Unknown(event) => event.kind(),
        }
    }
}

impl TryFrom<&Event> for KnownEvent {
    type Error = ParseError;

    fn try_from(event: &Event) -> Result<Self, ParseError> {
        KnownEvent::from_event(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        Event::from_json(json).expect("an event")
    }

    #[test]
    fn every_known_name_dispatches_to_its_variant() {
        // A minimal valid frame per type: the dispatcher must pick the variant whose kind()
        // is the frame's type, and never fall through to Unknown.
        let frames = [
            r#"{"type":"hello"}"#,
            r#"{"type":"goodbye"}"#,
            r#"{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}"#,
            r#"{"type":"reconnect_url"}"#,
            r#"{"type":"message","channel":"C1","user":"U1","text":"hi","ts":"1.2"}"#,
            r#"{"type":"team_join","user":{"id":"U1"}}"#,
            r#"{"type":"team_rename","name":"Acme"}"#,
            r#"{"type":"user_change","user":{"id":"U1"}}"#,
            r#"{"type":"user_typing","channel":"C1","user":"U1"}"#,
            r#"{"type":"reaction_added","user":"U1","reaction":"+1","item":{"type":"file","file":"F1"},"event_ts":"1.2"}"#,
            r#"{"type":"reaction_removed","user":"U1","reaction":"+1","item":{"type":"file","file":"F1"},"event_ts":"1.2"}"#,
            r#"{"type":"channel_created","channel":{"id":"C1","name":"x","created":1,"creator":"U1"}}"#,
            r#"{"type":"channel_deleted","channel":"C1"}"#,
            r#"{"type":"channel_rename","channel":{"id":"C1","name":"y"}}"#,
            r#"{"type":"channel_archive","channel":"C1"}"#,
            r#"{"type":"member_joined_channel","user":"U1","channel":"C1","channel_type":"C","team":"T1"}"#,
            r#"{"type":"member_left_channel","user":"U1","channel":"C1","channel_type":"C","team":"T1"}"#,
            r#"{"type":"presence_change","user":"U1","presence":"away"}"#,
            r#"{"type":"pin_added","user":"U1","channel_id":"C1","item":{"type":"message"}}"#,
            r#"{"type":"emoji_changed","subtype":"remove","names":["x"]}"#,
            r#"{"type":"dnd_updated_user","user":"U1","dnd_status":{}}"#,
        ];
        assert_eq!(frames.len(), types::ALL.len());
        for (frame, name) in frames.iter().zip(types::ALL) {
            let known = KnownEvent::from_event(&event(frame)).unwrap_or_else(|e| panic!("{frame}: {e}"));
            assert!(!matches!(known, KnownEvent::Unknown(_)), "{frame}");
            assert_eq!(known.kind(), *name);
        }
    }

    #[test]
    fn unknown_type_keeps_the_raw_frame() {
        let json = r#"{"type":"accounts_changed","x":[1,2]}"#;
        let KnownEvent::Unknown(raw) = KnownEvent::from_event(&event(json)).expect("ok") else {
            panic!("not unknown")
        };
        assert_eq!(raw.json(), json);
        assert_eq!(raw.kind(), "accounts_changed");
    }

    #[test]
    fn string_enums_round_trip_and_keep_unknown_values() {
        assert_eq!(MessageSubtype::from("bot_message"), MessageSubtype::BotMessage);
        assert_eq!(
            MessageSubtype::from("huddle_thread"),
            MessageSubtype::Other("huddle_thread".into())
        );
        assert_eq!(
            MessageSubtype::from(String::from("me_message")),
            MessageSubtype::MeMessage
        );
        let parsed: MessageSubtype = serde_json::from_str(r#""message_changed""#).expect("parses");
        assert_eq!(parsed, MessageSubtype::MessageChanged);
        let other: Presence = serde_json::from_str(r#""\u0061way""#).expect("escaped parses");
        assert_eq!(other, Presence::Away);
        assert_eq!(
            serde_json::to_string(&MessageSubtype::Other("x_y".into())).expect("serializes"),
            r#""x_y""#
        );
        assert_eq!(MessageSubtype::ThreadBroadcast.to_string(), "thread_broadcast");
        assert!(serde_json::from_str::<MessageSubtype>("7").is_err());
    }
}
