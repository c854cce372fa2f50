//! The `#[rtm_event]` attribute. Use it through `rtm_core::rtm_event`; this crate is an
//! implementation detail and is versioned in lockstep with `rtm-core`.
//!
//! Pipeline: `args` parses each `#[rtm_event(...)]`, `validate` checks the routes and the
//! function's signature (collecting every error), `expand` emits the function unchanged plus
//! a hidden same-named type that registers it.

mod args;
mod catalog;
mod expand;
mod validate;

use proc_macro::TokenStream;

/// Marks an `async fn` as an event handler, registered with
/// `RtmDispatcher::handler::<name>()`.
///
/// ```ignore
/// #[rtm_event(type = "team_join")]
/// async fn greet(ctx: Context, join: TeamJoin) -> Result<(), BoxError> {
///     Ok(())
/// }
///
/// #[rtm_event(type = "message", subtype = "bot_message")] // only bot messages
/// #[rtm_event(type = "*")]                                 // stacked: also every event
/// async fn log(event: Event) {}
/// ```
///
/// Keys: `type` (required; a Slack event type, or `"*"` for every event) and `subtype`
/// (optional; narrows `type` to one subtype), and two flags:
///
/// - `unchecked`: `type` is an event the catalog (`rtm_core::events`) does not list. Without
///   it a `type` missing from the catalog is a compile error (a typo such as `"reaction_add"`
///   would otherwise never fire), with the closest known name suggested.
/// - `own_messages` (only with `type = "message"`): also get the bot's own messages, which
///   `message` routes skip by default.
///
/// The function must be an `async fn` taking the event last, after up to five `Context` or
/// `State<_>` arguments; it stays callable as written. When the event argument is a struct
/// of the catalog, it must be the struct of the route's type (`TeamJoin` for
/// `type = "team_join"`), or the handler would fail on every event: a compile error.
#[proc_macro_attribute]
pub fn rtm_event(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::rtm_event(args.into(), item.into()).into()
}
