//! [`Route`]: which events a handler wants; and the map from event type to handlers that the
//! dispatcher consults once per event.

use std::{borrow::Cow, collections::HashMap, fmt};

use crate::Event;

/// The event type that matches every event.
const ANY: &str = "*";

/// The event type whose routes skip the bot's own messages by default.
const MESSAGE: &str = "message";

/// Which events a handler receives: an event `type` (`"team_join"`), optionally narrowed to
/// one `subtype` (`"bot_message"`), or `"*"` for every event.
///
/// # The bot's own messages
/// A `message` route does not see the messages the bot itself posted (those whose `user` is
/// the bot's own user id), so a bot that answers messages never answers itself. Ask for them
/// with [`with_own_messages`](Self::with_own_messages) (or `own_messages` in
/// `#[rtm_event(type = "message", own_messages)]`). Other routes, including the catch-all,
/// see every event.
///
/// # Examples
/// ```
/// use rtm_core::Route;
///
/// let joins = Route::new("team_join");
/// let bot_messages = Route::new("message").with_subtype("bot_message");
/// let everything = Route::any();
/// assert_eq!(bot_messages.subtype(), Some("bot_message"));
/// assert!(everything.is_any());
/// # let _ = joins;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    kind: Cow<'static, str>,
    subtype: Option<Cow<'static, str>>,
    own_messages: bool,
}

impl Route {
    /// Every event of type `kind` (whatever its subtype); `"*"` means every event.
    pub fn new(kind: impl Into<Cow<'static, str>>) -> Route {
        Route {
            kind: kind.into(),
            subtype: None,
            own_messages: false,
        }
    }

    /// Every event, whatever its type: the catch-all, same as `Route::new("*")`.
    pub fn any() -> Route {
        Route::new(ANY)
    }

    /// Narrows the route to events whose `subtype` is exactly `subtype`. On the catch-all it
    /// means "every event with this subtype".
    #[must_use]
    pub fn with_subtype(mut self, subtype: impl Into<Cow<'static, str>>) -> Route {
        self.subtype = Some(subtype.into());
        self
    }

    /// Lets a `message` route see the bot's own messages too (by default it does not; see
    /// [the bot's own messages](Self#the-bots-own-messages)). No effect on other routes.
    #[must_use]
    pub fn with_own_messages(mut self) -> Route {
        self.own_messages = true;
        self
    }

    /// Whether the route skips the bot's own messages: a `message` route that did not ask
    /// for them with [`with_own_messages`](Self::with_own_messages).
    pub fn skips_own_messages(&self) -> bool {
        !self.own_messages && self.kind == MESSAGE
    }

    /// The event type, or `"*"`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The subtype the route is narrowed to, if any.
    pub fn subtype(&self) -> Option<&str> {
        self.subtype.as_deref()
    }

    /// Whether this is the catch-all route.
    pub fn is_any(&self) -> bool {
        self.kind == ANY
    }

    /// Whether `event` is one this route wants.
    pub fn matches(&self, event: &Event) -> bool {
        (self.is_any() || self.kind == event.kind()) && self.subtype_matches(event)
    }

    fn subtype_matches(&self, event: &Event) -> bool {
        self.subtype
            .as_deref()
            .is_none_or(|wanted| event.subtype() == Some(wanted))
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subtype {
            Some(subtype) => write!(f, "{}/{subtype}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

/// One registration: a route and its handler.
#[derive(Debug)]
struct Entry<H> {
    route: Route,
    handler: H,
}

/// Handlers by event type, plus the catch-all ones. Finding an event's handlers is one hash
/// lookup plus a scan of the handlers registered *for that type* (subtype filters), never a
/// scan of every handler.
#[derive(Debug)]
pub(crate) struct RouteMap<H> {
    by_type: HashMap<Box<str>, Vec<Entry<H>>>,
    any: Vec<Entry<H>>,
    len: usize,
    /// Whether some route skips the bot's own messages (so they must be recognised).
    skips_own: bool,
}

impl<H> Default for RouteMap<H> {
    fn default() -> Self {
        RouteMap {
            by_type: HashMap::new(),
            any: Vec::new(),
            len: 0,
            skips_own: false,
        }
    }
}

impl<H> RouteMap<H> {
    pub(crate) fn insert(&mut self, route: Route, handler: H) {
        self.skips_own |= route.skips_own_messages();
        let list = if route.is_any() {
            &mut self.any
        } else {
            self.by_type.entry(route.kind().into()).or_default()
        };
        list.push(Entry { route, handler });
        self.len += 1;
    }

    /// How many registrations there are.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether some route skips the bot's own messages.
    pub(crate) fn skips_own_messages(&self) -> bool {
        self.skips_own
    }

    /// The same routes with each handler converted by `f`.
    pub(crate) fn map<T>(self, mut f: impl FnMut(H) -> T) -> RouteMap<T> {
        let mut convert = |list: Vec<Entry<H>>| -> Vec<Entry<T>> {
            list.into_iter()
                .map(|entry| Entry {
                    route: entry.route,
                    handler: f(entry.handler),
                })
                .collect()
        };
        let by_type = self
            .by_type
            .into_iter()
            .map(|(kind, list)| (kind, convert(list)))
            .collect();
        let any = convert(self.any);
        RouteMap {
            by_type,
            any,
            len: self.len,
            skips_own: self.skips_own,
        }
    }

    /// The handlers `event` goes to: those for its type first, then the catch-all ones, each
    /// group in registration order. `own` says the event is one of the bot's own messages,
    /// which the routes that skip them do not get.
    pub(crate) fn matching<'a>(&'a self, event: &'a Event, own: bool) -> impl Iterator<Item = &'a H> + 'a {
        let typed = self.by_type.get(event.kind()).map_or(&[][..], Vec::as_slice);
        typed
            .iter()
            .chain(&self.any)
            .filter(move |entry| {
                entry.route.subtype_matches(event) && !(own && entry.route.skips_own_messages())
            })
            .map(|entry| &entry.handler)
    }

    /// The registered routes with their handlers, for `Debug`.
    pub(crate) fn routes(&self) -> impl Iterator<Item = (&Route, &H)> {
        self.by_type
            .values()
            .flatten()
            .chain(&self.any)
            .map(|entry| (&entry.route, &entry.handler))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(map: &RouteMap<&'static str>, json: &str) -> Vec<&'static str> {
        let event = Event::from_json(json).unwrap();
        map.matching(&event, false).copied().collect::<Vec<_>>()
    }

    fn named(name: &'static str) -> &'static str {
        name
    }

    #[test]
    fn routes_by_type_subtype_and_catch_all() {
        let mut map = RouteMap::default();
        map.insert(Route::any(), named("any"));
        map.insert(Route::new("message"), named("message"));
        map.insert(Route::new("message").with_subtype("bot_message"), named("bot"));
        map.insert(Route::new("team_join"), named("join"));
        map.insert(Route::any().with_subtype("bot_message"), named("any_bot"));
        assert_eq!(map.len(), 5);

        assert_eq!(
            names(&map, r#"{"type":"message","text":"hi"}"#),
            ["message", "any"]
        );
        assert_eq!(
            names(&map, r#"{"type":"message","subtype":"bot_message"}"#),
            ["message", "bot", "any", "any_bot"]
        );
        assert_eq!(names(&map, r#"{"type":"team_join"}"#), ["join", "any"]);
        assert_eq!(names(&map, r#"{"type":"user_typing"}"#), ["any"]);
    }

    #[test]
    fn route_accessors_and_display() {
        let route = Route::new("message").with_subtype("bot_message");
        assert_eq!(
            (route.kind(), route.subtype(), route.is_any()),
            ("message", Some("bot_message"), false)
        );
        assert_eq!(route.to_string(), "message/bot_message");
        assert_eq!(Route::new("*"), Route::any());
        let event = Event::from_json(r#"{"type":"message","subtype":"bot_message"}"#).unwrap();
        assert!(route.matches(&event));
        assert!(!Route::new("message").with_subtype("me_message").matches(&event));
        assert!(Route::any().matches(&event));
    }

    #[test]
    fn own_messages_skip_only_message_routes_that_did_not_ask() {
        assert!(Route::new("message").skips_own_messages());
        assert!(!Route::new("message").with_own_messages().skips_own_messages());
        assert!(!Route::new("team_join").skips_own_messages());
        assert!(!Route::any().skips_own_messages());

        let mut map = RouteMap::default();
        map.insert(Route::new("message"), "plain");
        map.insert(Route::new("message").with_own_messages(), "own");
        map.insert(Route::any(), "any");
        assert!(map.skips_own_messages());
        let event = Event::from_json(r#"{"type":"message","user":"UBOT"}"#).unwrap();
        assert_eq!(
            map.matching(&event, true).copied().collect::<Vec<_>>(),
            ["own", "any"]
        );
        assert_eq!(
            map.matching(&event, false).copied().collect::<Vec<_>>(),
            ["plain", "own", "any"]
        );
    }
}
