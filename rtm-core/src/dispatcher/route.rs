//! [`Route`]: which events a handler wants; and the map from event type to handlers that the
//! dispatcher consults once per event.

use std::{borrow::Cow, collections::HashMap, fmt};

use crate::{
    Event,
    interactive::{INTERACTIVE, PayloadKey, SLASH_COMMANDS},
};

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
/// # Slash commands and interactions (Socket Mode)
/// [`slash_command`](Self::slash_command) and [`interaction`](Self::interaction) (with
/// [`with_action_id`](Self::with_action_id) / [`with_callback_id`](Self::with_callback_id),
/// or the shortcuts [`block_action`](Self::block_action),
/// [`view_submission`](Self::view_submission), [`shortcut`](Self::shortcut)) narrow the
/// `slash_commands` and `interactive` envelopes by what their payload says. The payload's
/// fields are read once per envelope, whatever the number of routes.
///
/// # Examples
/// ```
/// use rtm_core::Route;
///
/// let deploy = Route::slash_command("/deploy");
/// let approve = Route::block_action("approve");
/// let survey = Route::interaction("view_submission").with_callback_id("survey");
/// assert_eq!(deploy.kind(), "slash_commands");
/// assert_eq!(approve.interaction_type(), Some("block_actions"));
/// assert_eq!(survey.callback_id(), Some("survey"));
/// # let _ = (deploy, approve, survey);
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
    payload: Option<PayloadFilter>,
}

/// What a route wants in a Socket Mode envelope's payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PayloadFilter {
    /// A slash command: `payload.command`.
    Command(Cow<'static, str>),
    /// An interaction: `payload.type`, narrowed by an action or a callback id.
    Interaction {
        kind: Cow<'static, str>,
        action_id: Option<Cow<'static, str>>,
        callback_id: Option<Cow<'static, str>>,
    },
}

impl PayloadFilter {
    fn matches(&self, key: &PayloadKey<'_>) -> bool {
        match self {
            PayloadFilter::Command(command) => key.command == *command,
            PayloadFilter::Interaction {
                kind,
                action_id,
                callback_id,
            } => {
                key.kind == *kind
                    && action_id
                        .as_deref()
                        .is_none_or(|wanted| key.action_ids.iter().any(|id| id == wanted))
                    && callback_id
                        .as_deref()
                        .is_none_or(|wanted| key.callback_id == wanted)
            }
        }
    }
}

impl Route {
    /// Every event of type `kind` (whatever its subtype); `"*"` means every event.
    pub fn new(kind: impl Into<Cow<'static, str>>) -> Route {
        Route {
            kind: kind.into(),
            subtype: None,
            own_messages: false,
            payload: None,
        }
    }

    /// The Socket Mode slash command `command` (with its slash: `"/deploy"`): a
    /// `slash_commands` envelope whose `payload.command` is exactly `command`. The handler's
    /// typed argument is [`SlashCommand`](crate::interactive::SlashCommand).
    /// `#[slash_command("/deploy")]` registers the same route, and checks the name.
    pub fn slash_command(command: impl Into<Cow<'static, str>>) -> Route {
        Route {
            payload: Some(PayloadFilter::Command(command.into())),
            ..Route::new(SLASH_COMMANDS)
        }
    }

    /// Socket Mode interactions of type `kind` (`payload.type`: `"block_actions"`,
    /// `"view_submission"`, `"shortcut"`, …; see
    /// [`INTERACTION_TYPES`](crate::interactive::INTERACTION_TYPES)). Narrow it with
    /// [`with_action_id`](Self::with_action_id) or [`with_callback_id`](Self::with_callback_id).
    pub fn interaction(kind: impl Into<Cow<'static, str>>) -> Route {
        Route {
            payload: Some(PayloadFilter::Interaction {
                kind: kind.into(),
                action_id: None,
                callback_id: None,
            }),
            ..Route::new(INTERACTIVE)
        }
    }

    /// `block_actions` that include the element `action_id` (a button, a menu):
    /// `Route::interaction("block_actions").with_action_id(action_id)`.
    pub fn block_action(action_id: impl Into<Cow<'static, str>>) -> Route {
        Route::interaction("block_actions").with_action_id(action_id)
    }

    /// Submissions of the modal whose view has `callback_id`:
    /// `Route::interaction("view_submission").with_callback_id(callback_id)`.
    pub fn view_submission(callback_id: impl Into<Cow<'static, str>>) -> Route {
        Route::interaction("view_submission").with_callback_id(callback_id)
    }

    /// The global shortcut `callback_id`:
    /// `Route::interaction("shortcut").with_callback_id(callback_id)`.
    pub fn shortcut(callback_id: impl Into<Cow<'static, str>>) -> Route {
        Route::interaction("shortcut").with_callback_id(callback_id)
    }

    /// Narrows an [`interaction`](Self::interaction) route to payloads with an action whose
    /// `action_id` is `action_id` (`block_actions`; for `block_suggestion`, the menu's
    /// `action_id`). No effect on other routes.
    #[must_use]
    pub fn with_action_id(mut self, action_id: impl Into<Cow<'static, str>>) -> Route {
        if let Some(PayloadFilter::Interaction { action_id: slot, .. }) = &mut self.payload {
            *slot = Some(action_id.into());
        }
        self
    }

    /// Narrows an [`interaction`](Self::interaction) route to payloads whose `callback_id`
    /// (a shortcut's) or `view.callback_id` (a modal's) is `callback_id`. No effect on other
    /// routes.
    #[must_use]
    pub fn with_callback_id(mut self, callback_id: impl Into<Cow<'static, str>>) -> Route {
        if let Some(PayloadFilter::Interaction {
            callback_id: slot, ..
        }) = &mut self.payload
        {
            *slot = Some(callback_id.into());
        }
        self
    }

    /// The slash command a [`slash_command`](Self::slash_command) route wants.
    pub fn command(&self) -> Option<&str> {
        match &self.payload {
            Some(PayloadFilter::Command(command)) => Some(command),
            _ => None,
        }
    }

    /// The interaction type an [`interaction`](Self::interaction) route wants.
    pub fn interaction_type(&self) -> Option<&str> {
        match &self.payload {
            Some(PayloadFilter::Interaction { kind, .. }) => Some(kind),
            _ => None,
        }
    }

    /// The `action_id` an interaction route is narrowed to.
    pub fn action_id(&self) -> Option<&str> {
        match &self.payload {
            Some(PayloadFilter::Interaction { action_id, .. }) => action_id.as_deref(),
            _ => None,
        }
    }

    /// The `callback_id` an interaction route is narrowed to.
    pub fn callback_id(&self) -> Option<&str> {
        match &self.payload {
            Some(PayloadFilter::Interaction { callback_id, .. }) => callback_id.as_deref(),
            _ => None,
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
        (self.is_any() || self.kind == event.kind())
            && self.subtype_matches(event)
            && self.payload_matches(&PayloadKey::of(event))
    }

    fn payload_matches(&self, key: &PayloadKey<'_>) -> bool {
        self.payload.as_ref().is_none_or(|filter| filter.matches(key))
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
            Some(subtype) => write!(f, "{}/{subtype}", self.kind)?,
            None => f.write_str(&self.kind)?,
        }
        match &self.payload {
            None => Ok(()),
            Some(PayloadFilter::Command(command)) => write!(f, " {command}"),
            Some(PayloadFilter::Interaction {
                kind,
                action_id,
                callback_id,
            }) => {
                write!(f, " {kind}")?;
                if let Some(action_id) = action_id {
                    write!(f, " action_id={action_id}")?;
                }
                if let Some(callback_id) = callback_id {
                    write!(f, " callback_id={callback_id}")?;
                }
                Ok(())
            }
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
    /// Whether some route reads an envelope's payload (so its key must be read).
    reads_payload: bool,
}

impl<H> Default for RouteMap<H> {
    fn default() -> Self {
        RouteMap {
            by_type: HashMap::new(),
            any: Vec::new(),
            len: 0,
            skips_own: false,
            reads_payload: false,
        }
    }
}

impl<H> RouteMap<H> {
    pub(crate) fn insert(&mut self, route: Route, handler: H) {
        self.skips_own |= route.skips_own_messages();
        self.reads_payload |= route.payload.is_some();
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
            reads_payload: self.reads_payload,
        }
    }

    /// The handlers `event` goes to: those for its type first, then the catch-all ones, each
    /// group in registration order. `own` says the event is one of the bot's own messages,
    /// which the routes that skip them do not get. An envelope's payload is read once, and
    /// only when a route wants something from it.
    pub(crate) fn matching<'a>(&'a self, event: &'a Event, own: bool) -> impl Iterator<Item = &'a H> + 'a {
        let typed = self.by_type.get(event.kind()).map_or(&[][..], Vec::as_slice);
        let key = if self.reads_payload && !typed.is_empty() {
            PayloadKey::of(event)
        } else {
            PayloadKey::default()
        };
        typed
            .iter()
            .chain(&self.any)
            .filter(move |entry| {
                entry.route.subtype_matches(event)
                    && entry.route.payload_matches(&key)
                    && !(own && entry.route.skips_own_messages())
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
    fn slash_and_interaction_routes_match_their_payload_only() {
        let mut map = RouteMap::default();
        map.insert(Route::slash_command("/deploy"), named("deploy"));
        map.insert(Route::slash_command("/echo"), named("echo"));
        map.insert(Route::new("slash_commands"), named("every_command"));
        map.insert(Route::block_action("approve"), named("approve"));
        map.insert(Route::interaction("block_actions"), named("every_action"));
        map.insert(Route::view_submission("survey"), named("survey"));
        map.insert(Route::shortcut("new_ticket"), named("ticket"));
        map.insert(
            Route::interaction("block_suggestion").with_action_id("pick"),
            named("suggest"),
        );
        assert_eq!(
            names(
                &map,
                r#"{"envelope_id":"1","type":"slash_commands","payload":{"command":"/deploy","text":"x"}}"#
            ),
            ["deploy", "every_command"]
        );
        assert_eq!(
            names(
                &map,
                r#"{"envelope_id":"2","type":"interactive","payload":{"type":"block_actions","actions":[{"action_id":"deny"},{"action_id":"approve"}]}}"#
            ),
            ["approve", "every_action"]
        );
        assert_eq!(
            names(
                &map,
                r#"{"envelope_id":"3","type":"interactive","payload":{"type":"block_actions","actions":[{"action_id":"deny"}]}}"#
            ),
            ["every_action"]
        );
        assert_eq!(
            names(
                &map,
                r#"{"envelope_id":"4","type":"interactive","payload":{"type":"view_submission","view":{"callback_id":"survey"}}}"#
            ),
            ["survey"]
        );
        assert_eq!(
            names(
                &map,
                r#"{"envelope_id":"5","type":"interactive","payload":{"type":"shortcut","callback_id":"new_ticket"}}"#
            ),
            ["ticket"]
        );
        assert_eq!(
            names(
                &map,
                r#"{"envelope_id":"6","type":"interactive","payload":{"type":"block_suggestion","action_id":"pick","value":"st"}}"#
            ),
            ["suggest"]
        );
        // Escaped strings are compared unescaped.
        assert_eq!(
            names(
                &map,
                r#"{"envelope_id":"7","type":"slash_commands","payload":{"command":"\/echo"}}"#
            ),
            ["echo", "every_command"]
        );
        assert!(names(&map, r#"{"type":"message","text":"/deploy"}"#).is_empty());
    }

    #[test]
    fn payload_route_accessors_and_display() {
        let route = Route::slash_command("/deploy");
        assert_eq!(
            (route.kind(), route.command()),
            ("slash_commands", Some("/deploy"))
        );
        assert_eq!(route.to_string(), "slash_commands /deploy");
        let route = Route::block_action("approve");
        assert_eq!(
            (
                route.kind(),
                route.interaction_type(),
                route.action_id(),
                route.callback_id()
            ),
            ("interactive", Some("block_actions"), Some("approve"), None)
        );
        assert_eq!(route.to_string(), "interactive block_actions action_id=approve");
        assert_eq!(Route::new("message").with_callback_id("x"), Route::new("message"));
        let event = Event::from_json(
            r#"{"envelope_id":"1","type":"interactive","payload":{"type":"shortcut","callback_id":"a"}}"#,
        )
        .unwrap();
        assert!(Route::shortcut("a").matches(&event));
        assert!(!Route::shortcut("b").matches(&event));
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
