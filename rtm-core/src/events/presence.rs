//! `presence_change` (§4.7, §5.2): one user or a batch of users became active or away.

string_enum! {
    /// A user's presence.
    pub enum Presence {
        /// `active`: the user is online.
        Active = "active",
        /// `away`: the user is away.
        Away = "away",
    }
}

checked_struct! {
    /// `presence_change`: users became active or away.
    ///
    /// Slack sends two shapes: `{"user":"U1","presence":"away"}`, and, with
    /// `batch_presence_aware=1`, `{"users":["U1","U2"],"presence":"away"}` (even for one
    /// user). Exactly one of `user` and `users` is present; [`PresenceChange::users`] gives
    /// the ids either way.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct PresenceChange via WirePresenceChange = "WirePresenceChange" {
        /// The new presence of every user listed.
        pub presence: Presence,
        /// The user, in the single-user shape.
        pub user: Option<String>,
        /// The users, in the batched shape.
        pub users: Option<Vec<String>>,
        /// When the event happened.
        pub event_ts: Option<String>,
    }
}

impl PresenceChange {
    /// The ids whose presence changed, whichever shape Slack sent.
    pub fn users(&self) -> &[String] {
        match (&self.users, &self.user) {
            (Some(users), _) => users,
            (None, Some(user)) => std::slice::from_ref(user),
            (None, None) => &[],
        }
    }

    /// Exactly one of `user` and `users` (§5.3).
    fn check(&self) -> Result<(), &'static str> {
        match (&self.user, &self.users) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            (None, None) => Err("missing field `user` (or `users`)"),
            (Some(_), Some(_)) => Err("expected exactly one of `user` and `users`, found both"),
        }
    }
}
