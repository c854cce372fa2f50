//! Where an event is stored (its subject) and under which id (JetStream's duplicate key).

use std::fmt::Write as _;

use rtm_core::Event;
use serde::Deserialize;

use crate::JetStreamConfig;

/// The fields of an event that place it and name it.
#[derive(Deserialize, Default)]
struct Place<'a> {
    #[serde(borrow, default)]
    channel: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    ts: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    event_ts: Option<std::borrow::Cow<'a, str>>,
}

/// An event's subject and message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) subject: String,
    pub(crate) id: String,
}

/// The key of `event` from workspace `team`. `event_id` is Slack's id of the delivery
/// (Socket Mode's `payload.event_id`), the same on every retry and on every socket; without
/// it (RTM) the id is built from what identifies the event itself: channel and `ts` for
/// messages, `event_ts` for the rest, and a hash of the whole event as the last resort.
pub(crate) fn key(config: &JetStreamConfig, team: &str, event: &Event, event_id: Option<&str>) -> Key {
    let place: Place<'_> = serde_json::from_str(event.json()).unwrap_or_default();
    let channel = place.channel.as_deref().unwrap_or("");
    let lane = lane_of(channel, config.lanes);
    let mut subject = String::with_capacity(64);
    let _ = write!(subject, "{}.", config.subject_prefix);
    push_token(&mut subject, team);
    subject.push('.');
    push_token(&mut subject, event.kind());
    let _ = write!(subject, ".{lane}");
    let id = match event_id {
        Some(id) => format!("ev:{id}"),
        None => {
            let stamp = place.ts.as_deref().or(place.event_ts.as_deref());
            match stamp {
                Some(stamp) => format!(
                    "rtm:{team}:{}:{}:{channel}:{stamp}",
                    event.kind(),
                    event.subtype().unwrap_or("")
                ),
                None => format!(
                    "rtm:{team}:{}:{:016x}",
                    event.kind(),
                    fnv1a(event.json().as_bytes())
                ),
            }
        }
    };
    Key { subject, id }
}

/// The ordered lane a channel's events go to (stable across processes and versions).
pub(crate) fn lane_of(channel: &str, lanes: u16) -> u16 {
    (fnv1a(channel.as_bytes()) % u64::from(lanes.max(1))) as u16
}

/// Appends `text` as one subject token: characters NATS gives a meaning (`.`, `*`, `>`,
/// whitespace) and anything unusual become `_`.
fn push_token(subject: &mut String, text: &str) {
    if text.is_empty() {
        subject.push('_');
        return;
    }
    subject.extend(text.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '_'
        }
    }));
}

/// FNV-1a: small, stable across builds (unlike `std`'s randomly seeded hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        Event::from_json(json).unwrap()
    }

    #[test]
    fn socket_mode_events_are_keyed_by_event_id_and_messages_by_channel_and_ts() {
        let config = JetStreamConfig::default();
        let message = event(r#"{"type":"message","channel":"C1","ts":"1.000100","text":"hi"}"#);
        let k = key(&config, "T1", &message, Some("Ev42"));
        assert_eq!(k.id, "ev:Ev42");
        assert_eq!(k.subject, format!("slack.T1.message.{}", lane_of("C1", 16)));
        let rtm = key(&config, "T1", &message, None);
        assert_eq!(rtm.id, "rtm:T1:message::C1:1.000100");
        // The same event seen again (another gateway, a reconnect) gets the same id.
        assert_eq!(rtm, key(&config, "T1", &message, None));
        let join = event(r#"{"type":"team_join","user":{"id":"U9"}}"#);
        let a = key(&config, "T1", &join, None);
        assert!(a.id.starts_with("rtm:T1:team_join:"), "{}", a.id);
        assert_ne!(
            a.id,
            key(
                &config,
                "T1",
                &event(r#"{"type":"team_join","user":{"id":"U8"}}"#),
                None
            )
            .id
        );
    }

    #[test]
    fn subject_tokens_never_carry_nats_wildcards_or_separators() {
        let config = JetStreamConfig::default();
        let odd = event(r#"{"type":"a.b*c>d e"}"#);
        let k = key(&config, "T.1", &odd, None);
        assert_eq!(k.subject, format!("slack.T_1.a_b_c_d_e.{}", lane_of("", 16)));
        assert!(lane_of("C123", 16) < 16);
        assert_eq!(lane_of("C123", 1), 0);
    }
}
