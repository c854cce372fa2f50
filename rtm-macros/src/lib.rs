//! The `#[rtm_event]`, `#[slash_command]` and `#[interaction]` attributes. Use them through
//! `rtm_core`; this crate is an implementation detail and is versioned in lockstep with
//! `rtm-core`.
//!
//! The three share one pipeline and can be stacked on one function (the outermost takes the
//! others over): `args` parses each attribute, `validate` checks the routes and the
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

/// Marks an `async fn` as the handler of a Socket Mode slash command, registered with
/// `RtmDispatcher::handler::<name>()` like an `#[rtm_event]` handler.
///
/// ```ignore
/// #[slash_command("/deploy")]
/// async fn deploy(ctx: Context, command: SlashCommand) -> Result<(), BoxError> {
///     ctx.respond(&MessageResponse::ephemeral(format!("deploying {}", command.text))).await?;
///     Ok(())
/// }
/// ```
///
/// The argument is the command with its slash, as Slack's app settings spell it: one
/// lowercase word of at most 32 characters (checked at compile time). The route is
/// `Route::slash_command("/deploy")`: `slash_commands` envelopes whose `payload.command` is
/// exactly this. The event argument is parsed from the envelope's payload; when it is a
/// payload struct of `rtm_core::interactive`, it must be `SlashCommand`. Stack it with
/// other `#[slash_command]`, `#[interaction]` or `#[rtm_event]` attributes for more routes.
#[proc_macro_attribute]
pub fn slash_command(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::slash_command(args.into(), item.into()).into()
}

/// Marks an `async fn` as the handler of Socket Mode interactions, registered with
/// `RtmDispatcher::handler::<name>()` like an `#[rtm_event]` handler.
///
/// ```ignore
/// #[interaction(type = "block_actions", action_id = "approve")]
/// async fn approve(ctx: Context, actions: BlockActions) -> Result<(), BoxError> {
///     ctx.respond(&MessageResponse::in_channel("approved").replace_original()).await?;
///     Ok(())
/// }
///
/// #[interaction(type = "view_submission", callback_id = "survey")]
/// async fn survey(ctx: Context, submission: ViewSubmission) {}
/// ```
///
/// Keys: `type` (required): the payload's type, one of `block_actions`, `block_suggestion`,
/// `view_submission`, `view_closed`, `shortcut` and `message_action` (a misspelt one is a
/// compile error with the closest name suggested); `action_id` (only for `block_actions` and
/// `block_suggestion`): the element's action id; `callback_id` (only for
/// `view_submission`, `view_closed`, `shortcut` and `message_action`): the view's or
/// shortcut's callback id. A payload struct of `rtm_core::interactive` as the event argument
/// must be the one of `type` (`BlockActions` for `block_actions`, …).
#[proc_macro_attribute]
pub fn interaction(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::interaction(args.into(), item.into()).into()
}
