//! The [`Handler`] trait that turns plain `async fn`s into event handlers, what a handler may
//! return ([`IntoHandlerResult`]), the errors the dispatcher reports ([`HandlerError`]), and
//! the type-erased form the route map stores.
//!
//! The shape follows axum's `Handler`: blanket impls over `Fn(Args…) -> Future`, with the
//! argument tuple as an otherwise unused type parameter so the impls do not overlap.

use std::{fmt, future::Future, sync::Arc};

use futures::future::{self, BoxFuture, FutureExt};

use crate::{Event, ParseError};

use super::{Context, FromContext, FromEvent};

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

/// An event handler: an `async fn` (or closure returning a future) that takes the event last,
/// after any number (up to five) of [`Context`] and [`State`](crate::State) arguments.
///
/// You never implement this trait: it is implemented for every function of these shapes,
/// with `E:` [`FromEvent`] (your `serde::Deserialize` struct, a catalog type, or the raw
/// [`Event`]) and each `Ai:` [`FromContext<S>`](crate::FromContext):
///
/// ```text
/// async fn name(event: E) -> R
/// async fn name(ctx: Context, event: E) -> R
/// async fn name(ctx: Context, State(db): State<Db>, event: E) -> R
/// async fn name(A1, …, An, event: E) -> R
/// ```
///
/// where `R` is `()` or `Result<(), impl Into<BoxError>>` (see [`IntoHandlerResult`]), and the
/// returned future is `Send + 'static` (it runs on a tokio task: do not hold a
/// `std::sync::MutexGuard` or an `Rc` across an `.await`, and take arguments by value).
///
/// # About the type parameters
/// `Args` is the handler's argument tuple, e.g. `(E,)` or `(Context, E)`. It exists only so
/// the blanket impls for each number of arguments do not overlap; the compiler infers it, so
/// you never write it. `S` is the dispatcher's application state (`()` when it has none).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as an RTM handler",
    label = "not an RTM event handler",
    note = "a handler is `async fn(E)`, `async fn(Context, E)` or `async fn(Context, State<T>, E)` with `E: FromEvent` (a `serde::Deserialize` type or `rtm_core::Event`), returning `()` or `Result<(), impl Into<BoxError>>`",
    note = "its future must be `Send + 'static`: do not hold a non-`Send` value (`Rc`, `RefCell` borrow, `std::sync::MutexGuard`) across an `.await`",
    note = "an async closure (`async |event: E| ...`) is not a handler, because its future borrows the closure: write a closure returning an async block, `|event: E| async move {{ ... }}`, or an `async fn`"
)]
pub trait Handler<Args, S = ()>: Clone + Send + Sync + 'static {
    /// Runs the handler for one event: extracts the arguments, calls the function, and turns
    /// its outcome into a [`HandlerError`] naming the handler and the event type.
    fn call(&self, ctx: Context, event: Event, state: &S) -> BoxFuture<'static, Result<(), HandlerError>>;
}

/// One blanket impl per number of arguments before the event.
macro_rules! impl_handler {
    ($($arg:ident),*) => {
        #[diagnostic::do_not_recommend]
        impl<F, Fut, R, S, $($arg,)* E> Handler<($($arg,)* E,), S> for F
        where
            F: Fn($($arg,)* E) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoHandlerResult,
            $($arg: FromContext<S>,)*
            E: FromEvent + Send + 'static,
        {
            #[allow(non_snake_case, unused_variables)]
            fn call(&self, ctx: Context, event: Event, state: &S) -> BoxFuture<'static, Result<(), HandlerError>> {
                match E::from_event(&event) {
                    Ok(arg) => {
                        $(let $arg = <$arg as FromContext<S>>::from_context(&ctx, state);)*
                        finish::<F, _>(self($($arg,)* arg), event)
                    }
                    Err(source) => extract_failed::<F>(&event, source),
                }
            }
        }
    };
}

impl_handler!();
impl_handler!(A1);
impl_handler!(A1, A2);
impl_handler!(A1, A2, A3);
impl_handler!(A1, A2, A3, A4);
impl_handler!(A1, A2, A3, A4, A5);

/// Awaits the handler's future and names the handler and event in its error.
fn finish<F, Fut>(fut: Fut, event: Event) -> BoxFuture<'static, Result<(), HandlerError>>
where
    Fut: Future<Output: IntoHandlerResult> + Send + 'static,
{
    finish_named(
        std::any::type_name::<F>(),
        async move { fut.await.into_handler_result() },
        event,
    )
}

/// [`finish`] for a handler known by name (the attribute's adapted handlers).
pub(crate) fn finish_named<Fut>(name: &'static str, fut: Fut, event: Event) -> CallFuture
where
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    Box::pin(async move {
        fut.await.map_err(|source| HandlerError::Failed {
            handler: name,
            event_type: event.kind().to_owned(),
            source,
        })
    })
}

fn extract_failed<F>(event: &Event, source: ParseError) -> BoxFuture<'static, Result<(), HandlerError>> {
    extract_failed_named(std::any::type_name::<F>(), event, source)
}

/// [`extract_failed`] for a handler known by name.
pub(crate) fn extract_failed_named(name: &'static str, event: &Event, source: ParseError) -> CallFuture {
    future::ready(Err(HandlerError::Extract {
        handler: name,
        event_type: event.kind().to_owned(),
        source,
    }))
    .boxed()
}

/// A handler call: the future of one invocation.
pub(crate) type CallFuture = BoxFuture<'static, Result<(), HandlerError>>;

/// A registered handler with its type erased, as the route map stores it while the
/// dispatcher is built; it still needs the state.
pub(crate) struct ErasedHandler<S> {
    /// `std::any::type_name` of the handler, for logs and errors.
    pub(crate) name: &'static str,
    call: ErasedCall<S>,
}

impl<S> Clone for ErasedHandler<S> {
    fn clone(&self) -> Self {
        ErasedHandler {
            name: self.name,
            call: Arc::clone(&self.call),
        }
    }
}

/// The erased form of a handler call.
pub(crate) type ErasedCall<S> = Arc<dyn Fn(Context, Event, &S) -> CallFuture + Send + Sync>;

impl<S: 'static> ErasedHandler<S> {
    /// A handler already erased (by the attribute's adapter), with its name.
    pub(crate) fn from_parts(name: &'static str, call: ErasedCall<S>) -> Self {
        ErasedHandler { name, call }
    }

    pub(crate) fn new<H: Handler<A, S>, A>(handler: H) -> Self {
        ErasedHandler {
            name: std::any::type_name::<H>(),
            call: Arc::new(move |ctx, event, state| handler.call(ctx, event, state)),
        }
    }

    /// The same handler for a dispatcher whose state is `T`, for handlers registered before
    /// [`with_state`](crate::RtmDispatcher::with_state) (they asked for no state of type `T`).
    pub(crate) fn ignoring_state<T>(self) -> ErasedHandler<T>
    where
        S: Default + Send + Sync,
    {
        let call = self.call;
        ErasedHandler {
            name: self.name,
            call: Arc::new(move |ctx, event, _: &T| call(ctx, event, &S::default())),
        }
    }

    /// The handler with the dispatcher's state bound in, ready to run.
    pub(crate) fn bind(self, state: Arc<S>) -> BoundHandler
    where
        S: Send + Sync,
    {
        let call = self.call;
        BoundHandler {
            name: self.name,
            call: Arc::new(move |ctx, event| call(ctx, event, &state)),
        }
    }
}

impl<S> fmt::Debug for ErasedHandler<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A handler with its state bound in: what the running dispatcher calls.
#[derive(Clone)]
pub(crate) struct BoundHandler {
    /// `std::any::type_name` of the handler, for logs and errors.
    pub(crate) name: &'static str,
    call: Arc<dyn Fn(Context, Event) -> CallFuture + Send + Sync>,
}

impl BoundHandler {
    pub(crate) fn call(&self, ctx: Context, event: Event) -> CallFuture {
        (self.call)(ctx, event)
    }
}

impl fmt::Debug for BoundHandler {
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
