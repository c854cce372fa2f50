//! Workspace and member events: `team_join`, `team_rename`, `user_change`, and the user
//! object they carry (§5.2).

use serde::{Deserialize, Serialize};

/// `team_join`: a new member joined the workspace. Carries the full user object.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TeamJoin {
    /// The new member.
    pub user: User,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// `user_change`: a member's data (profile, flags, time zone, …) changed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct UserChange {
    /// The member, as it is now.
    pub user: User,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// `team_rename`: the workspace got a new name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TeamRename {
    /// The new name.
    pub name: String,
    /// When the event happened.
    pub event_ts: Option<String>,
}

/// A Slack user (member) object. Only `id` is always present.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct User {
    /// The user id, e.g. `U024BE7LH` or `W123` (Enterprise Grid).
    pub id: String,
    /// The user's home workspace.
    pub team_id: Option<String>,
    /// The legacy username.
    pub name: Option<String>,
    /// Whether the account is deactivated.
    pub deleted: Option<bool>,
    /// The colour used for the name in some clients, e.g. `9f69e7`.
    pub color: Option<String>,
    /// The full name.
    pub real_name: Option<String>,
    /// The time zone, e.g. `Europe/Paris`.
    pub tz: Option<String>,
    /// A label for the time zone, e.g. `Central European Time`.
    pub tz_label: Option<String>,
    /// The time zone's offset from UTC, in seconds.
    pub tz_offset: Option<i64>,
    /// Whether the user is a workspace admin.
    pub is_admin: Option<bool>,
    /// Whether the user is a workspace owner.
    pub is_owner: Option<bool>,
    /// Whether the user is the primary owner.
    pub is_primary_owner: Option<bool>,
    /// Whether the user is a multi-channel guest.
    pub is_restricted: Option<bool>,
    /// Whether the user is a single-channel guest.
    pub is_ultra_restricted: Option<bool>,
    /// Whether the user is a bot.
    pub is_bot: Option<bool>,
    /// Whether the user is an app user.
    pub is_app_user: Option<bool>,
    /// When the user object last changed (Unix seconds).
    pub updated: Option<i64>,
    /// The profile: names, e-mail, title, status, avatars.
    pub profile: Option<Profile>,
}

/// A user's profile. Every field is optional; which ones arrive depends on the workspace and
/// the token's scopes (e.g. `email` needs `users:read.email`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Profile {
    /// The full name.
    pub real_name: Option<String>,
    /// The full name, with non-Latin characters replaced.
    pub real_name_normalized: Option<String>,
    /// The display name the user chose (may be empty).
    pub display_name: Option<String>,
    /// The display name, with non-Latin characters replaced.
    pub display_name_normalized: Option<String>,
    /// The first name.
    pub first_name: Option<String>,
    /// The last name.
    pub last_name: Option<String>,
    /// The job title.
    pub title: Option<String>,
    /// The phone number, as typed.
    pub phone: Option<String>,
    /// The e-mail address.
    pub email: Option<String>,
    /// The status text.
    pub status_text: Option<String>,
    /// The status emoji, e.g. `:palm_tree:`.
    pub status_emoji: Option<String>,
    /// When the status expires (Unix seconds, `0` = never).
    pub status_expiration: Option<i64>,
    /// The workspace the profile belongs to.
    pub team: Option<String>,
    /// A hash of the avatar, which changes when it changes.
    pub avatar_hash: Option<String>,
    /// The avatar, 24×24.
    pub image_24: Option<String>,
    /// The avatar, 32×32.
    pub image_32: Option<String>,
    /// The avatar, 48×48.
    pub image_48: Option<String>,
    /// The avatar, 72×72.
    pub image_72: Option<String>,
    /// The avatar, 192×192.
    pub image_192: Option<String>,
    /// The avatar, 512×512.
    pub image_512: Option<String>,
    /// The avatar as uploaded.
    pub image_original: Option<String>,
}
