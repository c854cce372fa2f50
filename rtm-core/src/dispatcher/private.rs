//! Items only `#[rtm_event]` expansions use (re-exported as `rtm_core::__private`). Not part of
//! the public API: they may change in any release.
//!
//! Each function is a compile-time assertion about one part of a handler's signature, so a
//! mistake is reported at that part (an argument's type, the return type) with its own
//! message, in addition to the [`Handler`](crate::Handler) bound that registration needs.

use super::{Context, FromEvent, IntoHandlerResult};

/// Only [`Context`] can come first in a two-argument handler.
#[diagnostic::on_unimplemented(
    message = "the first argument of a two-argument handler must be `rtm_core::Context`, not `{Self}`",
    label = "expected `Context`",
    note = "write `async fn greet(ctx: Context, join: TeamJoin)`, or take only the event: `async fn greet(join: TeamJoin)`"
)]
pub trait IsContext {}

impl IsContext for Context {}

/// Asserts that `T` is [`Context`].
pub const fn context_argument<T: IsContext>() {}

/// Asserts that `T` can be the event argument.
pub const fn event_argument<T: FromEvent>() {}

/// Asserts that `R` is a valid return type.
pub const fn return_type<R: IntoHandlerResult>() {}

/// A value of any type, for calling a handler in a closure that is never run (so that its
/// future's type can be checked).
pub fn never<T>() -> T {
    unreachable!("only called in checks that are never run")
}

/// Asserts that a handler's future is `Send`; the compiler then names the value held across
/// an `.await` that is not.
pub fn future_must_be_send<F: Future + Send>(_: F) {}
