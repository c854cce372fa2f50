//! The [`Handler`] trait that turns plain `async fn`s into event handlers, what a handler may
//! return ([`IntoHandlerResult`]), the errors the dispatcher reports ([`HandlerError`]), and
//! the type-erased form the route map stores.
//!
//! The shape follows axum's `Handler`: blanket impls over `Fn(Args…) -> Future`, with the
//! argument tuple as an otherwise unused type parameter so the impls do not overlap.

use std::{fmt, future::Future, sync::Arc};

use futures::future::{self, BoxFuture, FutureExt};

use crate::{Event, ParseError};

use super::{Context, FromEvent};

/// The error type a handler may fail with: anything that converts into it, such as
/// [`SendError`](crate::SendError), `std::io::Error`, `String` or `&str`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A handler call that did not succeed, as logged by the dispatcher and passed to its
/// [`on_error`](crate::RtmDispatcher::on_error) hook. The dispatcher keeps running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The event could not be turned into the handler's argument (a typed parse failed).
    #[error("handler `{handler}` could not take a `{event_type}` event: {source}")]
    Extract {
        /// The handler, as `std::any::type_name` names it (e.g. `my_bot::greet`).
        handler: &'static str,
        /// The event's `type`.
        event_type: String,
        /// Which field failed, and why.
        #[source]
        source: ParseError,
    },
    /// The handler returned an error.
    #[error("handler `{handler}` failed on a `{event_type}` event: {source}")]
    Failed {
        /// The handler, as `std::any::type_name` names it.
        handler: &'static str,
        /// The event's `type`.
        event_type: String,
        /// The handler's error.
        #[source]
        source: BoxError,
    },
    /// The handler panicked; the panic was caught and other handlers kept running.
    #[error("handler `{handler}` panicked on a `{event_type}` event: {message}")]
    Panicked {
        /// The handler, as `std::any::type_name` names it.
        handler: &'static str,
        /// The event's `type`.
        event_type: String,
        /// The panic message (`<non-string panic payload>` when it was not a string).
        message: String,
    },
}

impl HandlerError {
    /// The handler that failed, e.g. `my_bot::greet`.
    pub fn handler(&self) -> &'static str {
        match self {
            HandlerError::Extract { handler, .. }
            | HandlerError::Failed { handler, .. }
            | HandlerError::Panicked { handler, .. } => handler,
        }
    }

    /// The `type` of the event it failed on.
    pub fn event_type(&self) -> &str {
        match self {
            HandlerError::Extract { event_type, .. }
            | HandlerError::Failed { event_type, .. }
            | HandlerError::Panicked { event_type, .. } => event_type,
        }
    }
}

/// What a handler may return: `()` or `Result<(), E>` with `E: Into<BoxError>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid RTM handler return type",
    label = "handlers return `()` or `Result<(), E>` where `E: Into<BoxError>`",
    note = "return `()`, or a `Result<(), E>` whose error converts into `rtm_core::BoxError` (most error types, `String` and `&str` do)"
)]
pub trait IntoHandlerResult {
    /// Converts the handler's output into the dispatcher's result.
    ///
    /// # Errors
    /// The handler's own error, boxed.
    fn into_handler_result(self) -> Result<(), BoxError>;
}

impl IntoHandlerResult for () {
    fn into_handler_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> IntoHandlerResult for Result<(), E> {
    fn into_handler_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// An event handler: an `async fn` (or closure returning a future) that takes the event, or a
/// [`Context`] and the event.
///
/// You never implement this trait: it is implemented for every function of one of these
/// shapes, with `E:` [`FromEvent`] (your `serde::Deserialize` struct, a catalog type, or the
/// raw [`Event`]):
///
/// ```text
/// async fn name(event: E) -> R
/// async fn name(ctx: Context, event: E) -> R
/// ```
///
/// where `R` is `()` or `Result<(), impl Into<BoxError>>` (see [`IntoHandlerResult`]), and the
/// returned future is `Send + 'static` (it runs on a tokio task: do not hold a
/// `std::sync::MutexGuard` or an `Rc` across an `.await`, and take arguments by value).
///
/// # About type parameter `Args`
/// `Args` is the handler's argument tuple, `(E,)` or `(Context, E)`. It exists only so the
/// two blanket impls do not overlap; the compiler infers it, so you never write it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as an RTM handler",
    label = "not an RTM event handler",
    note = "a handler is `async fn(E)` or `async fn(Context, E)` with `E: FromEvent` (a `serde::Deserialize` type or `rtm_core::Event`), returning `()` or `Result<(), impl Into<BoxError>>`",
    note = "its future must be `Send + 'static`: do not hold a non-`Send` value (`Rc`, `RefCell` borrow, `std::sync::MutexGuard`) across an `.await`"
)]
pub trait Handler<Args>: Clone + Send + Sync + 'static {
    /// Runs the handler for one event: extracts the argument, calls the function, and turns
    /// its outcome into a [`HandlerError`] naming the handler and the event type.
    fn call(&self, ctx: Context, event: Event) -> BoxFuture<'static, Result<(), HandlerError>>;
}

#[diagnostic::do_not_recommend]
impl<F, Fut, E, R> Handler<(E,)> for F
where
    F: Fn(E) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    E: FromEvent + Send + 'static,
    R: IntoHandlerResult,
{
    fn call(&self, _ctx: Context, event: Event) -> BoxFuture<'static, Result<(), HandlerError>> {
        match E::from_event(&event) {
            Ok(arg) => finish::<F, _>(self(arg), event),
            Err(source) => extract_failed::<F>(&event, source),
        }
    }
}

#[diagnostic::do_not_recommend]
impl<F, Fut, E, R> Handler<(Context, E)> for F
where
    F: Fn(Context, E) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    E: FromEvent + Send + 'static,
    R: IntoHandlerResult,
{
    fn call(&self, ctx: Context, event: Event) -> BoxFuture<'static, Result<(), HandlerError>> {
        match E::from_event(&event) {
            Ok(arg) => finish::<F, _>(self(ctx, arg), event),
            Err(source) => extract_failed::<F>(&event, source),
        }
    }
}

/// Awaits the handler's future and names the handler and event in its error.
fn finish<F, Fut>(fut: Fut, event: Event) -> BoxFuture<'static, Result<(), HandlerError>>
where
    Fut: Future<Output: IntoHandlerResult> + Send + 'static,
{
    Box::pin(async move {
        fut.await
            .into_handler_result()
            .map_err(|source| HandlerError::Failed {
                handler: std::any::type_name::<F>(),
                event_type: event.kind().to_owned(),
                source,
            })
    })
}

fn extract_failed<F>(event: &Event, source: ParseError) -> BoxFuture<'static, Result<(), HandlerError>> {
    future::ready(Err(HandlerError::Extract {
        handler: std::any::type_name::<F>(),
        event_type: event.kind().to_owned(),
        source,
    }))
    .boxed()
}

/// A handler call: the future of one invocation.
type CallFuture = BoxFuture<'static, Result<(), HandlerError>>;

/// A registered handler with its type erased, as the route map stores it.
#[derive(Clone)]
pub(crate) struct ErasedHandler {
    /// `std::any::type_name` of the handler, for logs and errors.
    pub(crate) name: &'static str,
    call: Arc<dyn Fn(Context, Event) -> CallFuture + Send + Sync>,
}

impl ErasedHandler {
    pub(crate) fn new<H: Handler<A>, A>(handler: H) -> Self {
        ErasedHandler {
            name: std::any::type_name::<H>(),
            call: Arc::new(move |ctx, event| handler.call(ctx, event)),
        }
    }

    pub(crate) fn call(&self, ctx: Context, event: Event) -> CallFuture {
        (self.call)(ctx, event)
    }
}

impl fmt::Debug for ErasedHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error() -> ParseError {
        Event::from_json(r#"{"type":"team_join","user":1}"#)
            .unwrap()
            .parse::<Join>()
            .unwrap_err()
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Join {
        user: String,
    }

    #[test]
    fn display_strings_are_pinned() {
        let e = HandlerError::Failed {
            handler: "bot::greet",
            event_type: "team_join".into(),
            source: "boom".into(),
        };
        assert_eq!(
            e.to_string(),
            "handler `bot::greet` failed on a `team_join` event: boom"
        );
        let e = HandlerError::Panicked {
            handler: "bot::greet",
            event_type: "message".into(),
            message: "oops".into(),
        };
        assert_eq!(
            e.to_string(),
            "handler `bot::greet` panicked on a `message` event: oops"
        );
        let e = HandlerError::Extract {
            handler: "bot::greet",
            event_type: "team_join".into(),
            source: parse_error(),
        };
        assert!(
            e.to_string().starts_with(
                "handler `bot::greet` could not take a `team_join` event: cannot parse `team_join` event as"
            ),
            "{e}"
        );
        assert_eq!(e.handler(), "bot::greet");
        assert_eq!(e.event_type(), "team_join");
    }

    #[test]
    fn handler_error_is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<HandlerError>();
    }

    #[test]
    fn return_types_convert() {
        assert!(().into_handler_result().is_ok());
        assert!(Ok::<(), std::io::Error>(()).into_handler_result().is_ok());
        let err = Err::<(), _>("nope").into_handler_result().unwrap_err();
        assert_eq!(err.to_string(), "nope");
    }
}
