//! [`Route`]: which events a handler wants; and the map from event type to handlers that the
//! dispatcher consults once per event.

use std::{borrow::Cow, collections::HashMap, fmt};

use crate::Event;

use super::handler::ErasedHandler;

/// The event type that matches every event.
const ANY: &str = "*";

/// Which events a handler receives: an event `type` (`"team_join"`), optionally narrowed to
/// one `subtype` (`"bot_message"`), or `"*"` for every event.
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
}

impl Route {
    /// Every event of type `kind` (whatever its subtype); `"*"` means every event.
    pub fn new(kind: impl Into<Cow<'static, str>>) -> Route {
        Route {
            kind: kind.into(),
            subtype: None,
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
struct Entry {
    route: Route,
    handler: ErasedHandler,
}

/// Handlers by event type, plus the catch-all ones. Finding an event's handlers is one hash
/// lookup plus a scan of the handlers registered *for that type* (subtype filters), never a
/// scan of every handler.
#[derive(Debug, Default)]
pub(crate) struct RouteMap {
    by_type: HashMap<Box<str>, Vec<Entry>>,
    any: Vec<Entry>,
    len: usize,
}

impl RouteMap {
    pub(crate) fn insert(&mut self, route: Route, handler: ErasedHandler) {
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

    /// The handlers `event` goes to: those for its type first, then the catch-all ones, each
    /// group in registration order.
    pub(crate) fn matching<'a>(&'a self, event: &'a Event) -> impl Iterator<Item = &'a ErasedHandler> + 'a {
        let typed = self.by_type.get(event.kind()).map_or(&[][..], Vec::as_slice);
        typed
            .iter()
            .chain(&self.any)
            .filter(move |entry| entry.route.subtype_matches(event))
            .map(|entry| &entry.handler)
    }

    /// The registered routes with their handler names, for `Debug`.
    pub(crate) fn routes(&self) -> impl Iterator<Item = (&Route, &'static str)> {
        self.by_type
            .values()
            .flatten()
            .chain(&self.any)
            .map(|entry| (&entry.route, entry.handler.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn noop(_: Event) {}

    fn names(map: &RouteMap, json: &str) -> Vec<&'static str> {
        let event = Event::from_json(json).unwrap();
        map.matching(&event).map(|h| h.name).collect::<Vec<_>>()
    }

    fn named(name: &'static str) -> ErasedHandler {
        let mut handler = ErasedHandler::new(noop);
        handler.name = name;
        handler
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
}
