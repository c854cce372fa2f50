//! [`RtmDispatcher`]: reads events from an [`RtmClient`] and runs the matching handlers.
//!
//! The traits do the work (`handler.rs`, `extract.rs`); `#[rtm_event]` only attaches routes to
//! a function and calls the same [`RtmDispatcher::on`] a user can call by hand.

mod context;
mod extract;
mod handler;
pub mod private;
mod route;
mod tasks;

use std::{fmt, future::Future, pin::pin, sync::Arc, time::Duration};

use tracing::{Instrument, debug, debug_span};

use crate::{Error, RtmClient};

pub use self::{
    context::Context,
    extract::FromEvent,
    handler::{BoxError, Handler, HandlerError, IntoHandlerResult},
    route::Route,
};
use self::{
    handler::ErasedHandler,
    route::RouteMap,
    tasks::{ErrorHook, Job, Tasks},
};

/// Default for [`RtmDispatcher::concurrency_limit`]: handler calls in flight at once.
pub const DEFAULT_CONCURRENCY_LIMIT: usize = 64;

/// Default for [`RtmDispatcher::shutdown_timeout`]: how long a graceful shutdown waits for
/// in-flight handlers before aborting them.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// In which order handler calls run; see [`RtmDispatcher`] for the exact guarantees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ordering {
    /// Every handler call runs on its own task, concurrently with all others (the default):
    /// calls *start* in arrival order but may finish in any order.
    #[default]
    Concurrent,
    /// The calls for one channel run one after another, in arrival order; different
    /// channels run concurrently. Events without a channel (`team_join`, `presence_change`,
    /// …) share one lane of their own.
    PerChannel,
    /// All calls run one after another, in arrival order: a call starts only after the
    /// previous one has finished.
    Sequential,
}

/// Registers the routes of a function annotated with `#[rtm_event]`, for
/// [`RtmDispatcher::handler`].
///
/// The attribute implements it on a hidden type that has the function's name; you never
/// implement it yourself.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an `#[rtm_event]` handler",
    label = "not annotated with `#[rtm_event]`",
    note = "put `#[rtm_event(type = \"...\")]` on the function, or register a plain function with `.on(Route::new(\"...\"), function)`"
)]
pub trait AnnotatedHandler {
    /// Adds this handler, once per route, to `dispatcher`.
    fn register(dispatcher: RtmDispatcher) -> RtmDispatcher;
}

/// Reads events from an [`RtmClient`] and runs the handlers whose [`Route`] matches, each
/// call on a tokio task.
///
/// Build it, register handlers, then [`run`](Self::run) it:
///
/// ```no_run
/// use rtm_core::{ClientConfig, Context, Event, Route, RtmClient, RtmDispatcher, rtm_event};
///
/// #[derive(serde::Deserialize)]
/// struct Message {
///     text: String,
/// }
///
/// #[rtm_event(type = "message")]
/// async fn echo(ctx: Context, message: Message) -> Result<(), rtm_core::BoxError> {
///     ctx.reply(&message.text).await?;
///     Ok(())
/// }
///
/// async fn log_everything(event: Event) {
///     println!("{}", event.kind());
/// }
///
/// # async fn demo() -> Result<(), rtm_core::Error> {
/// let client = RtmClient::connect(ClientConfig::from_env()?).await?;
/// RtmDispatcher::new(client)
///     .handler::<echo>()
///     .on(Route::any(), log_everything)
///     .run()
///     .await
/// # }
/// ```
///
/// # Ordering guarantee
/// Events are taken from the client in arrival order, and for each event its matching
/// handlers are started in registration order (handlers for its type before the catch-all
/// ones). What happens next depends on [`ordering`](Self::ordering):
/// - [`Ordering::Concurrent`] (default): calls run concurrently, so they may *finish* in any
///   order, even two calls for two messages of one channel.
/// - [`Ordering::PerChannel`]: the calls for one channel (as [`Context::channel`] finds it)
///   run one at a time, in arrival order; channels do not wait for each other.
/// - [`Ordering::Sequential`]: one call at a time, in arrival order.
///
/// # Concurrency cap and backpressure
/// At most [`concurrency_limit`](Self::concurrency_limit) calls are in flight (running or
/// queued in a lane). The dispatcher takes a permit *before* it starts a call; when none is
/// free it stops reading, the client's bounded buffer fills, and the client stops reading
/// the socket. Nothing is dropped.
///
/// # Failures
/// A handler that returns `Err`, panics, or cannot parse its event does not stop anything:
/// the dispatcher logs a `warn!` with the handler's name and the event type, passes the
/// [`HandlerError`] to the [`on_error`](Self::on_error) hook, and keeps running.
///
/// # Tracing
/// Each call runs in an `rtm_handler` span with the fields `handler` (e.g. `my_bot::greet`)
/// and `event.type`, so what a handler logs carries them.
///
/// The dispatcher keeps no global state: run one per workspace, in one process, if you like.
/// It must be the client's only reader (an event goes to exactly one reader).
#[doc(alias = "RTMDispatcher")]
#[must_use = "a dispatcher does nothing until `run()` or `run_until()` is awaited"]
pub struct RtmDispatcher {
    client: RtmClient,
    routes: RouteMap,
    concurrency_limit: usize,
    shutdown_timeout: Duration,
    ordering: Ordering,
    on_error: Option<ErrorHook>,
}

impl RtmDispatcher {
    /// A dispatcher for `client`, with no handlers yet.
    pub fn new(client: RtmClient) -> RtmDispatcher {
        RtmDispatcher {
            client,
            routes: RouteMap::default(),
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            ordering: Ordering::default(),
            on_error: None,
        }
    }

    /// Runs `handler` for every event that matches `route`: the way to register a handler
    /// without the attribute. `handler` is an `async fn(E)` or `async fn(Context, E)`, see
    /// [`Handler`]. Registering twice means being called twice.
    ///
    /// # Examples
    /// ```no_run
    /// # fn demo(client: rtm_core::RtmClient) -> rtm_core::RtmDispatcher {
    /// use rtm_core::{Context, Event, Route, RtmDispatcher};
    ///
    /// async fn greet(ctx: Context, join: Event) -> Result<(), rtm_core::BoxError> {
    ///     ctx.client().send_message("C123", "welcome!").await?;
    ///     Ok(())
    /// }
    ///
    /// RtmDispatcher::new(client).on(Route::new("team_join"), greet)
    /// # }
    /// ```
    pub fn on<H, A>(mut self, route: Route, handler: H) -> RtmDispatcher
    where
        H: Handler<A>,
    {
        self.routes.insert(route, ErasedHandler::new(handler));
        self
    }

    /// Registers a function annotated with `#[rtm_event]`, with every route its attributes
    /// name: `.handler::<greet>()`.
    ///
    /// Without the attribute the compiler says "constant provided when a type was expected
    /// … `greet` is a function item, not a type": add `#[rtm_event(type = "...")]` to it, or
    /// register it with [`on`](Self::on).
    pub fn handler<H: AnnotatedHandler>(self) -> RtmDispatcher {
        H::register(self)
    }

    /// Caps the handler calls in flight at once (default [`DEFAULT_CONCURRENCY_LIMIT`]; `0`
    /// counts as `1`). A full cap pauses reading, which pushes back on the socket.
    pub fn concurrency_limit(mut self, limit: usize) -> RtmDispatcher {
        self.concurrency_limit = limit;
        self
    }

    /// Called with every [`HandlerError`] (after it was logged), from the task of the call
    /// that failed. Replaces an earlier hook. Keep it quick; a panic in it is caught.
    pub fn on_error(mut self, hook: impl Fn(&HandlerError) + Send + Sync + 'static) -> RtmDispatcher {
        self.on_error = Some(Arc::new(hook));
        self
    }

    /// How long a graceful shutdown waits for in-flight handlers before aborting them
    /// (default [`DEFAULT_SHUTDOWN_TIMEOUT`]).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> RtmDispatcher {
        self.shutdown_timeout = timeout;
        self
    }

    /// In which order handler calls run (default [`Ordering::Concurrent`]); see the
    /// [ordering guarantee](Self#ordering-guarantee).
    pub fn ordering(mut self, ordering: Ordering) -> RtmDispatcher {
        self.ordering = ordering;
        self
    }

    /// The client the dispatcher reads from.
    pub fn client(&self) -> &RtmClient {
        &self.client
    }

    /// Runs until the client is closed (by [`RtmClient::disconnect`] on a clone) or stops
    /// with a fatal error, then waits for in-flight handlers (up to the shutdown timeout).
    ///
    /// # Errors
    /// The fatal error that stopped the client, e.g. [`Error::Slack`] with `token_revoked`.
    ///
    /// # Cancel safety
    /// Dropping the future aborts the running handler tasks at once; use
    /// [`run_until`](Self::run_until) to stop gracefully.
    pub async fn run(self) -> Result<(), Error> {
        self.run_until(std::future::pending()).await
    }

    /// Like [`run`](Self::run), and stops gracefully when `shutdown` completes: stops reading,
    /// waits for in-flight handlers up to the [shutdown timeout](Self::shutdown_timeout)
    /// (aborting and logging the rest), then disconnects the client. Events read but not yet
    /// started when the signal came are dropped.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(dispatcher: rtm_core::RtmDispatcher) -> Result<(), rtm_core::Error> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// // Elsewhere, e.g. on Ctrl-C: `stop.send(())`.
    /// # drop(stop);
    /// dispatcher.run_until(async { stopped.await.ok(); }).await
    /// # }
    /// ```
    ///
    /// # Errors
    /// As for [`run`](Self::run).
    ///
    /// # Cancel safety
    /// As for [`run`](Self::run).
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let span = debug_span!("rtm_dispatcher", team = %self.client.info().team.id);
        self.run_inner(shutdown).instrument(span).await
    }

    async fn run_inner(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let RtmDispatcher {
            client,
            routes,
            concurrency_limit,
            shutdown_timeout,
            ordering,
            on_error,
        } = self;
        let mut shutdown = pin!(shutdown);
        let mut tasks = Tasks::new(concurrency_limit, on_error);
        debug!(
            routes = routes.len(),
            concurrency_limit,
            ?ordering,
            "dispatcher started"
        );

        let mut signalled = false;
        let end = 'read: loop {
            let batch = tokio::select! {
                biased;
                () = &mut shutdown => {
                    signalled = true;
                    break 'read Ok(());
                }
                batch = client.read() => batch,
            };
            let batch = match batch {
                Ok(Some(batch)) => batch,
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            };
            let mut events = batch.into_iter();
            while let Some(event) = events.next() {
                let mut handlers = routes.matching(&event).peekable();
                if handlers.peek().is_none() {
                    continue;
                }
                let ctx = Context::new(client.clone(), event.clone());
                let lane = match ordering {
                    Ordering::Concurrent => None,
                    Ordering::PerChannel => Some(ctx.channel().map(Box::from)),
                    Ordering::Sequential => Some(None),
                };
                for handler in handlers {
                    let permit = match tasks.try_permit() {
                        Some(permit) => permit,
                        None => {
                            // Every permit is held. If those handlers await replies, the
                            // client must read on past its full buffer to find them.
                            let _blocked = client.reader_blocked();
                            tokio::select! {
                                biased;
                                () = &mut shutdown => {
                                    signalled = true;
                                    debug!(dropped = events.len() + 1, "shutdown while waiting for a permit; events not started are dropped");
                                    break 'read Ok(());
                                }
                                permit = tasks.wait_permits(events.len() + 1) => permit,
                            }
                        }
                    };
                    let job = Job::new(handler, &ctx, &event, permit);
                    match &lane {
                        None => tasks.spawn(job),
                        Some(key) => tasks.spawn_in_lane(key.clone(), job),
                    }
                }
            }
            tasks.reap();
        };

        match &end {
            Ok(()) if signalled => debug!("shutdown requested"),
            Ok(()) => debug!("client closed"),
            Err(error) => debug!(%error, "client stopped"),
        }
        tasks.drain(shutdown_timeout).await;
        if signalled {
            client.disconnect().await;
        }
        debug!("dispatcher stopped");
        end
    }
}

impl fmt::Debug for RtmDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<String> = self
            .routes
            .routes()
            .map(|(route, handler)| format!("{route} => {handler}"))
            .collect();
        f.debug_struct("RtmDispatcher")
            .field("client", &self.client)
            .field("routes", &routes)
            .field("concurrency_limit", &self.concurrency_limit)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("ordering", &self.ordering)
            .field("on_error", &self.on_error.is_some())
            .finish()
    }
}
