//! Items only `#[rtm_event]` expansions use (re-exported as `rtm_core::__private`). Not part of
//! the public API: they may change in any release.
//!
//! Each function is a compile-time assertion about one part of a handler's signature, so a
//! mistake is reported at that part (an argument's type, the return type) with its own
//! message, in addition to the [`Handler`](crate::Handler) bound that registration needs.

use std::{future::Future, marker::PhantomData, sync::Arc};

use super::{
    BoxError, Context, IntoHandlerResult, Route, RtmDispatcher, State,
    handler::{self, CallFuture, ErasedHandler},
};
use crate::{Event, ParseError, events, interactive};

/// Registers a handler the attribute has already adapted to the dispatcher's calling
/// convention (`call` extracts the arguments and calls the function). Going through this
/// instead of [`RtmDispatcher::on`] means no `Handler` bound: each mistake in the function is
/// reported once, at the part of the signature that is wrong.
pub fn register<S, C>(
    dispatcher: RtmDispatcher<S>,
    route: Route,
    name: &'static str,
    call: C,
) -> RtmDispatcher<S>
where
    S: Send + Sync + 'static,
    C: Fn(Context, Event, &S) -> CallFuture + Send + Sync + 'static,
{
    dispatcher.insert(route, ErasedHandler::from_parts(name, Arc::new(call)))
}

/// The call of handler `name` whose event could not become its argument.
pub fn extract_failed(name: &'static str, event: &Event, source: ParseError) -> CallFuture {
    handler::extract_failed_named(name, event, source)
}

/// Boxes one call of handler `name`: its future must be `Send + 'static` (it runs on a
/// task), and `convert` turns what it returns into the call's result.
pub fn call<Fut, C>(name: &'static str, event: Event, future: Fut, convert: C) -> CallFuture
where
    Fut: Future + Send + 'static,
    C: FnOnce(Fut::Output) -> Result<(), BoxError> + Send + 'static,
{
    handler::finish_named(name, async move { convert(future.await) }, event)
}

/// Converts what the handler returned; `R` must be a valid return type.
pub fn into_result<R: IntoHandlerResult>(output: R) -> Result<(), BoxError> {
    output.into_handler_result()
}

/// Only [`Context`] and [`State`] can come before the event.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot come before the event argument: only `Context` and `State<_>` can",
    label = "expected `Context` or `State<_>`",
    note = "the event comes last: `async fn greet(ctx: Context, join: TeamJoin)`, or take only the event: `async fn greet(join: TeamJoin)`"
)]
pub trait IsContextArgument {}

impl IsContextArgument for Context {}
impl<T> IsContextArgument for State<T> {}

/// Asserts that `T` can come before the event.
pub const fn context_argument<T: IsContextArgument>() {}

/// Declares one item per event type of the catalog in [`event_catalog`] (for the typo check:
/// rustc suggests the similar name of a misspelt one), and which catalog struct each
/// accepts (for the route/argument check).
macro_rules! catalog {
    ($($name:ident => $ty:ident,)*) => {
        /// One unit type per event type of the catalog ([`events::types::ALL`]). `#[rtm_event]`
        /// names the one for its `type`, so a misspelt type is a compile error with a "similar
        /// name" hint.
        #[allow(non_camel_case_types)]
        pub mod event_catalog {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                #[derive(Debug)]
                pub struct $name;
            )*
        }

        /// Every name in [`event_catalog`], for the test that keeps it equal to the catalog.
        #[cfg(test)]
        const NAMES: &[&str] = &[$(stringify!($name),)*];

        /// Each catalog event type with the `type_name` of its struct.
        pub(crate) fn catalog_structs() -> [(&'static str, &'static str); NAMES_LEN] {
            [$((stringify!($name), std::any::type_name::<events::$ty>()),)*]
        }

        const NAMES_LEN: usize = [$(stringify!($name),)*].len();

        $(impl IsCatalogEvent for events::$ty {})*
    };
}

catalog! {
    hello => Hello,
    goodbye => Goodbye,
    error => ErrorEvent,
    reconnect_url => ReconnectUrl,
    message => Message,
    team_join => TeamJoin,
    team_rename => TeamRename,
    user_change => UserChange,
    user_typing => UserTyping,
    reaction_added => ReactionAdded,
    reaction_removed => ReactionRemoved,
    channel_created => ChannelCreated,
    channel_deleted => ChannelDeleted,
    channel_rename => ChannelRename,
    channel_archive => ChannelArchive,
    member_joined_channel => MemberJoinedChannel,
    member_left_channel => MemberLeftChannel,
    presence_change => PresenceChange,
    pin_added => PinAdded,
    emoji_changed => EmojiChanged,
    dnd_updated_user => DndUpdatedUser,
}

// Written out rather than generated, so that a mismatch's "but `Accepts<...>` is implemented"
// hint points at one plain line. `IsCatalogEvent` and `event_catalog` come from the same list
// above; the test `every_catalog_struct_accepts_its_own_type` keeps the two lists together.
impl Accepts<event_catalog::hello> for events::Hello {}
impl Accepts<event_catalog::goodbye> for events::Goodbye {}
impl Accepts<event_catalog::error> for events::ErrorEvent {}
impl Accepts<event_catalog::reconnect_url> for events::ReconnectUrl {}
impl Accepts<event_catalog::message> for events::Message {}
impl Accepts<event_catalog::team_join> for events::TeamJoin {}
impl Accepts<event_catalog::team_rename> for events::TeamRename {}
impl Accepts<event_catalog::user_change> for events::UserChange {}
impl Accepts<event_catalog::user_typing> for events::UserTyping {}
impl Accepts<event_catalog::reaction_added> for events::ReactionAdded {}
impl Accepts<event_catalog::reaction_removed> for events::ReactionRemoved {}
impl Accepts<event_catalog::channel_created> for events::ChannelCreated {}
impl Accepts<event_catalog::channel_deleted> for events::ChannelDeleted {}
impl Accepts<event_catalog::channel_rename> for events::ChannelRename {}
impl Accepts<event_catalog::channel_archive> for events::ChannelArchive {}
impl Accepts<event_catalog::member_joined_channel> for events::MemberJoinedChannel {}
impl Accepts<event_catalog::member_left_channel> for events::MemberLeftChannel {}
impl Accepts<event_catalog::presence_change> for events::PresenceChange {}
impl Accepts<event_catalog::pin_added> for events::PinAdded {}
impl Accepts<event_catalog::emoji_changed> for events::EmojiChanged {}
impl Accepts<event_catalog::dnd_updated_user> for events::DndUpdatedUser {}

/// One unit type per route kind of `#[slash_command]` and `#[interaction]`: the envelope
/// kind `slash_commands` and each interaction type of
/// [`interactive::INTERACTION_TYPES`]. The attributes name the one for their route, so that
/// the payload struct taken as the argument is checked against it.
#[allow(non_camel_case_types)]
pub mod interaction_catalog {
    /// `slash_commands`
    #[derive(Debug)]
    pub struct slash_commands;
    /// `block_actions`
    #[derive(Debug)]
    pub struct block_actions;
    /// `block_suggestion`
    #[derive(Debug)]
    pub struct block_suggestion;
    /// `view_submission`
    #[derive(Debug)]
    pub struct view_submission;
    /// `view_closed`
    #[derive(Debug)]
    pub struct view_closed;
    /// `shortcut`
    #[derive(Debug)]
    pub struct shortcut;
    /// `message_action`
    #[derive(Debug)]
    pub struct message_action;
}

impl Accepts<interaction_catalog::slash_commands> for interactive::SlashCommand {}
impl Accepts<interaction_catalog::block_actions> for interactive::BlockActions {}
impl Accepts<interaction_catalog::block_suggestion> for interactive::BlockSuggestion {}
impl Accepts<interaction_catalog::view_submission> for interactive::ViewSubmission {}
impl Accepts<interaction_catalog::view_closed> for interactive::ViewClosed {}
impl Accepts<interaction_catalog::shortcut> for interactive::Shortcut {}
impl Accepts<interaction_catalog::message_action> for interactive::MessageShortcut {}

impl IsCatalogEvent for interactive::SlashCommand {}
impl IsCatalogEvent for interactive::BlockActions {}
impl IsCatalogEvent for interactive::BlockSuggestion {}
impl IsCatalogEvent for interactive::ViewSubmission {}
impl IsCatalogEvent for interactive::ViewClosed {}
impl IsCatalogEvent for interactive::Shortcut {}
impl IsCatalogEvent for interactive::MessageShortcut {}

/// A struct of the event catalog ([`crate::events`]) or a payload struct of
/// [`crate::interactive`]: a typed argument that belongs to one route kind.
pub trait IsCatalogEvent {}

/// The catalog struct `Self` is the struct of the event type `N`.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` argument never matches this route: `{Self}` is the struct of another event type",
    label = "this handler would fail on every event of its route",
    note = "take the struct of the route's event type (e.g. `TeamJoin` for `type = \"team_join\"`, `SlashCommand` for `#[slash_command]`, `BlockActions` for `type = \"block_actions\"`), or the raw `rtm_core::Event`"
)]
pub trait Accepts<N> {}

/// Probes, at compile time, whether a handler's event argument `E` can match the route's
/// event type `N`: catalog structs must be the route's own struct, any other type (the raw
/// event, your own serde struct) may match anything. Autoref picks [`ViaCatalog`] for
/// catalog structs and [`ViaOther`] for the rest.
#[derive(Debug)]
pub struct RouteProbe<E, N>(PhantomData<fn() -> (E, N)>);

impl<E, N> RouteProbe<E, N> {
    /// The probe.
    pub const fn new() -> Self {
        RouteProbe(PhantomData)
    }
}

impl<E, N> Default for RouteProbe<E, N> {
    fn default() -> Self {
        RouteProbe::new()
    }
}

/// The outcome of a [`RouteProbe`] for a catalog struct: its route must be its own type.
#[derive(Debug)]
pub struct CatalogArgument;

impl CatalogArgument {
    /// Asserts that `E` is `N`'s struct.
    pub fn check<E: Accepts<N>, N>(self) {}
}

/// The outcome of a [`RouteProbe`] for any other type: nothing to check.
#[derive(Debug)]
pub struct OtherArgument;

impl OtherArgument {
    /// Nothing to check.
    pub fn check<E, N>(self) {}
}

/// Chosen for catalog structs (method on the probe itself).
pub trait ViaCatalog {
    /// The kind of argument.
    fn kind(&self) -> CatalogArgument {
        CatalogArgument
    }
}

impl<E: IsCatalogEvent, N> ViaCatalog for RouteProbe<E, N> {}

/// Chosen for every other type (method on a reference to the probe: one autoref later).
pub trait ViaOther {
    /// The kind of argument.
    fn kind(&self) -> OtherArgument {
        OtherArgument
    }
}

impl<E, N> ViaOther for &RouteProbe<E, N> {}

/// When a handler registered by hand for `route` takes a catalog struct (its argument tuple
/// is `args`, a `type_name`) that is not the route's own, it fails on every event: says so,
/// or `None`. The attribute catches this at compile time; `.on(..)` can only log it.
pub(crate) fn argument_mismatch(route: &str, args: &str) -> Option<&'static str> {
    let payloads = payload_structs();
    let structs: Vec<(&str, &str)> = catalog_structs().into_iter().chain(payloads).collect();
    let own = structs.iter().find(|(name, _)| *name == route)?.1;
    let last = args.trim_end_matches(')').trim_end_matches(',');
    if last.ends_with(own) {
        return None;
    }
    structs.iter().map(|(_, ty)| *ty).find(|ty| last.ends_with(ty))
}

/// Each route kind of `#[slash_command]`/`#[interaction]` with the `type_name` of its payload
/// struct, for [`argument_mismatch`].
fn payload_structs() -> [(&'static str, &'static str); 7] {
    use std::any::type_name;
    [
        ("slash_commands", type_name::<interactive::SlashCommand>()),
        ("block_actions", type_name::<interactive::BlockActions>()),
        ("block_suggestion", type_name::<interactive::BlockSuggestion>()),
        ("view_submission", type_name::<interactive::ViewSubmission>()),
        ("view_closed", type_name::<interactive::ViewClosed>()),
        ("shortcut", type_name::<interactive::Shortcut>()),
        ("message_action", type_name::<interactive::MessageShortcut>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_struct_accepts_its_own_type() {
        macro_rules! accepts {
            ($($name:ident => $ty:ident),* $(,)?) => {{
                fn check<E: Accepts<N>, N>() {}
                $(check::<events::$ty, event_catalog::$name>();)*
                [$(stringify!($name)),*].len()
            }};
        }
        let checked = accepts! {
            hello => Hello, goodbye => Goodbye, error => ErrorEvent, reconnect_url => ReconnectUrl,
            message => Message, team_join => TeamJoin, team_rename => TeamRename,
            user_change => UserChange, user_typing => UserTyping, reaction_added => ReactionAdded,
            reaction_removed => ReactionRemoved, channel_created => ChannelCreated,
            channel_deleted => ChannelDeleted, channel_rename => ChannelRename,
            channel_archive => ChannelArchive, member_joined_channel => MemberJoinedChannel,
            member_left_channel => MemberLeftChannel, presence_change => PresenceChange,
            pin_added => PinAdded, emoji_changed => EmojiChanged, dnd_updated_user => DndUpdatedUser,
        };
        assert_eq!(checked, NAMES.len());
    }

    #[test]
    fn hand_registered_mismatches_are_recognised() {
        let args = std::any::type_name::<(Context, events::Message)>();
        assert_eq!(argument_mismatch("message", args), None);
        assert_eq!(
            argument_mismatch("team_join", args),
            Some(std::any::type_name::<events::Message>())
        );
        assert_eq!(
            argument_mismatch("team_join", std::any::type_name::<(Event,)>()),
            None
        );
        assert_eq!(argument_mismatch("app_mention", args), None);
        let click = std::any::type_name::<(Context, interactive::BlockActions)>();
        assert_eq!(argument_mismatch("block_actions", click), None);
        assert_eq!(
            argument_mismatch("view_submission", click),
            Some(std::any::type_name::<interactive::BlockActions>())
        );
        assert_eq!(
            argument_mismatch("slash_commands", click),
            Some(std::any::type_name::<interactive::BlockActions>())
        );
    }

    #[test]
    fn every_payload_struct_accepts_its_own_kind() {
        fn check<E: Accepts<N> + IsCatalogEvent, N>() {}
        check::<interactive::SlashCommand, interaction_catalog::slash_commands>();
        check::<interactive::BlockActions, interaction_catalog::block_actions>();
        check::<interactive::BlockSuggestion, interaction_catalog::block_suggestion>();
        check::<interactive::ViewSubmission, interaction_catalog::view_submission>();
        check::<interactive::ViewClosed, interaction_catalog::view_closed>();
        check::<interactive::Shortcut, interaction_catalog::shortcut>();
        check::<interactive::MessageShortcut, interaction_catalog::message_action>();
        assert_eq!(interactive::INTERACTION_TYPES.len(), 6);
    }

    #[test]
    fn event_types_are_the_catalog() {
        assert_eq!(NAMES, events::types::ALL);
    }

    #[test]
    #[allow(clippy::needless_borrow)] // the `&` selects the check (autoref)
    fn probe_chooses_by_argument() {
        #[allow(unused_imports)]
        use super::{ViaCatalog as _, ViaOther as _};
        (&RouteProbe::<events::Message, event_catalog::message>::new())
            .kind()
            .check::<events::Message, event_catalog::message>();
        (&RouteProbe::<crate::Event, event_catalog::team_join>::new())
            .kind()
            .check::<crate::Event, event_catalog::team_join>();
    }
}
