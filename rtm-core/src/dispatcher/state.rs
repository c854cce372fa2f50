//! Application state for handlers: the [`State`] extractor, [`FromRef`] for taking a part of
//! the state, and [`FromContext`], the trait behind every argument that comes before the event.

use super::Context;

/// A handler argument that holds the dispatcher's application state (or the part of it that
/// the handler asks for, through [`FromRef`]).
///
/// Give the dispatcher its state with [`RtmDispatcher::with_state`](crate::RtmDispatcher::with_state);
/// a handler then takes `State<T>` for the whole state or for any `T: FromRef<S>`. Each call
/// gets its own clone, so keep the state cheap to clone (wrap what is shared in an `Arc`).
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
///
/// use rtm_core::{Context, FromRef, State, events::Message, rtm_event};
///
/// #[derive(Clone, Default)]
/// struct AppState {
///     greetings: Arc<AtomicU64>,
///     prefix: Arc<str>,
/// }
///
/// /// A part of the state a handler can ask for on its own.
/// #[derive(Clone)]
/// struct Prefix(Arc<str>);
///
/// impl FromRef<AppState> for Prefix {
///     fn from_ref(state: &AppState) -> Prefix {
///         Prefix(Arc::clone(&state.prefix))
///     }
/// }
///
/// #[rtm_event(type = "message")]
/// async fn count(State(state): State<AppState>, _message: Message) {
///     state.greetings.fetch_add(1, Ordering::Relaxed);
/// }
///
/// #[rtm_event(type = "message")]
/// async fn echo(ctx: Context, State(Prefix(prefix)): State<Prefix>, message: Message)
///     -> Result<(), rtm_core::BoxError>
/// {
///     ctx.reply(&format!("{prefix}{}", message.text.unwrap_or_default())).await?;
///     Ok(())
/// }
///
/// # fn demo(client: rtm_core::RtmClient) -> rtm_core::RtmDispatcher<AppState> {
/// rtm_core::RtmDispatcher::new(client)
///     .with_state(AppState::default())
///     .handler::<count>()
///     .handler::<echo>()
/// # }
/// ```
///
/// A handler that asks for a state the dispatcher does not have (no `FromRef` from the
/// dispatcher's state) does not compile.
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

/// Takes a part of the application state `S` by reference: implement it to let handlers ask
/// for `State<Part>` instead of the whole `State<S>`.
///
/// Every `T: Clone` is `FromRef<T>` (the whole state).
#[diagnostic::on_unimplemented(
    message = "a handler asks for `State<{Self}>`, but the dispatcher's state is `{S}`",
    label = "the dispatcher's state `{S}` cannot give a `{Self}`",
    note = "give the dispatcher its state with `.with_state(state)` before registering the handler (a dispatcher without one has the state `()`)",
    note = "to take a part of the state, implement `FromRef<{S}>` for `{Self}`; or take the whole `State<{S}>`"
)]
pub trait FromRef<S> {
    /// The part, cloned out of `state`.
    fn from_ref(state: &S) -> Self;
}

impl<T: Clone> FromRef<T> for T {
    fn from_ref(state: &T) -> T {
        state.clone()
    }
}

/// An argument that comes before the event in a handler: [`Context`] or [`State`].
///
/// A handler is `async fn(A1, …, An, E)` where each `Ai: FromContext<S>` (with `S` the
/// dispatcher's state) and `E:` [`FromEvent`](crate::FromEvent).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot come before the event argument of a handler",
    label = "only `Context` and `State<_>` can come before the event",
    note = "the event comes last: `async fn greet(ctx: Context, State(db): State<Db>, join: TeamJoin)`"
)]
pub trait FromContext<S>: Sized {
    /// Builds the argument for one call.
    fn from_context(ctx: &Context, state: &S) -> Self;
}

impl<S> FromContext<S> for Context {
    fn from_context(ctx: &Context, _state: &S) -> Context {
        ctx.clone()
    }
}

impl<S, T: FromRef<S>> FromContext<S> for State<T> {
    fn from_context(_ctx: &Context, state: &S) -> State<T> {
        State(T::from_ref(state))
    }
}
