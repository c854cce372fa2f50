//! The `#[rtm_event]` attribute. Use it through `rtm_core::rtm_event`; this crate is an
//! implementation detail and is versioned in lockstep with `rtm-core`.
//!
//! Pipeline: `args` parses each `#[rtm_event(...)]`, `validate` checks the routes and the
//! function's signature (collecting every error), `expand` emits the function unchanged plus
//! a hidden same-named type that registers it.

mod args;
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
/// (optional; narrows `type` to one subtype). The function must be an `async fn` taking the
/// event, or a `Context` and the event; it stays callable as written.
#[proc_macro_attribute]
pub fn rtm_event(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::rtm_event(args.into(), item.into()).into()
}
