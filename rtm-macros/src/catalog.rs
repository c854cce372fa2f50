//! The event types of `rtm_core::events` (`rtm_core::events::types::ALL`), so that a misspelt
//! `type` is a compile error with a suggestion. The list is kept equal to the catalog by the
//! UI test `pass/every_catalog_type.rs` (a name missing here is refused there) and by the
//! expansion itself, which names `rtm_core::__private::event_catalog::<type>` (a name missing
//! there does not compile).

/// Every event type the catalog has a struct for.
pub(crate) const EVENT_TYPES: &[&str] = &[
    "hello",
    "goodbye",
    "error",
    "reconnect_url",
    "message",
    "team_join",
    "team_rename",
    "user_change",
    "user_typing",
    "reaction_added",
    "reaction_removed",
    "channel_created",
    "channel_deleted",
    "channel_rename",
    "channel_archive",
    "member_joined_channel",
    "member_left_channel",
    "presence_change",
    "pin_added",
    "emoji_changed",
    "dnd_updated_user",
];

/// The interaction types `#[interaction]` knows (`rtm_core::interactive::INTERACTION_TYPES`,
/// each with an item in `rtm_core::__private::interaction_catalog`).
pub(crate) const INTERACTION_TYPES: &[&str] = &[
    "block_actions",
    "block_suggestion",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
];

/// Interaction types whose payloads carry an `action_id` to route on.
pub(crate) const WITH_ACTION_ID: &[&str] = &["block_actions", "block_suggestion"];

/// Interaction types whose payloads carry a `callback_id` to route on.
pub(crate) const WITH_CALLBACK_ID: &[&str] =
    &["view_submission", "view_closed", "shortcut", "message_action"];

/// Whether `name` is in the catalog.
pub(crate) fn is_known(name: &str) -> bool {
    EVENT_TYPES.contains(&name)
}

/// The catalog name closest to `name`, when it is close enough to be a likely typo.
pub(crate) fn suggestion(name: &str) -> Option<&'static str> {
    closest(name, EVENT_TYPES)
}

/// The name of `known` closest to `name`, when it is close enough to be a likely typo.
pub(crate) fn closest(name: &str, known: &[&'static str]) -> Option<&'static str> {
    let limit = (name.len() / 3).max(1);
    known
        .iter()
        .map(|known| (distance(name, known), *known))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known)
}

/// Levenshtein distance over bytes (event names are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, &y) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(x != y);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(suggestion("reaction_add"), Some("reaction_added"));
        assert_eq!(suggestion("team_joined"), Some("team_join"));
        assert_eq!(suggestion("mesage"), Some("message"));
        assert_eq!(suggestion("app_mention"), None);
        assert!(is_known("dnd_updated_user") && !is_known("app_mention"));
        assert_eq!(closest("block_action", INTERACTION_TYPES), Some("block_actions"));
        assert_eq!(
            closest("view_submision", INTERACTION_TYPES),
            Some("view_submission")
        );
        assert_eq!(closest("modal", INTERACTION_TYPES), None);
    }
}
