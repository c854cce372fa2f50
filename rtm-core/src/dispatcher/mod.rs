//! [`RtmDispatcher`]: reads events from a source (an [`RtmClient`] today) and runs the
//! matching handlers.
//!
//! The traits do the work (`handler.rs`, `extract.rs`, `state.rs`); `#[rtm_event]` only
//! attaches routes to a function and calls the same [`RtmDispatcher::on`] a user can call by
//! hand. `transport.rs` is the seam to the transport: the read loop and [`Context`] only use
//! its two traits.

mod ack;
mod context;
mod detached;
mod extract;
mod handler;
pub mod private;
mod probe;
mod route;
mod state;
mod tasks;
mod testing;
mod transport;

use std::{fmt, future::Future, pin::pin, sync::Arc, time::Duration};

use futures::future::FutureExt;
use serde::Deserialize;
use tracing::{Instrument, debug, debug_span};

use crate::{Error, Event, RtmClient, SocketModeClient};

use self::{
    ack::AckGuard,
    handler::ErasedHandler,
    route::RouteMap,
    tasks::{ErrorHook, Job, Reporter, Tasks},
    transport::{EventSource, Transport},
};
pub use self::{
    context::Context,
    detached::{Handlers, Outbound},
    extract::FromEvent,
    handler::{BoxError, Handler, HandlerError, IntoHandlerResult},
    probe::DispatcherProbe,
    route::Route,
    state::{FromContext, FromRef, State},
    testing::{SentMessage, TestContext},
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
    /// calls *start* in arrival order but may finish in any order. (A call that finishes on
    /// its first poll, without waiting for anything, runs where the dispatcher starts it and
    /// needs no task; keep long computations in `spawn_blocking`, as in any async code.)
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
/// The attribute implements it on a hidden type that has the function's name, for every
/// state `S` its [`State`] arguments can be taken from; you never implement it yourself.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an `#[rtm_event]` handler for a dispatcher with state `{S}`",
    label = "not an `#[rtm_event]` handler here",
    note = "put `#[rtm_event(type = \"...\")]` on the function, or register a plain function with `.on(Route::new(\"...\"), function)`",
    note = "if it has the attribute, each `State<T>` it takes needs `T: FromRef<{S}>`"
)]
pub trait AnnotatedHandler<S = ()> {
    /// Adds this handler, once per route, to `dispatcher`.
    fn register(dispatcher: RtmDispatcher<S>) -> RtmDispatcher<S>;
}

/// Where a dispatcher's events come from. One variant per transport; everything the
/// dispatcher does with it goes through [`EventSource`].
#[derive(Clone, Debug)]
enum Source {
    Rtm(RtmClient),
    SocketMode(SocketModeClient),
    /// None: the handlers run elsewhere ([`RtmDispatcher::into_handlers`]).
    Detached,
}

/// Reads events from an [`RtmClient`] and runs the handlers whose [`Route`] matches, each
/// call on a tokio task. `S` is the application state handlers can take with [`State`]
/// (none by default; see [`with_state`](Self::with_state)).
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
/// # The bot's own messages
/// `message` routes do not get the messages the bot itself posted, so a bot that answers
/// messages never answers itself; see [`Route::with_own_messages`] to get them.
///
/// # Failures
/// A handler that returns `Err`, panics, or cannot parse its event does not stop anything:
/// the dispatcher logs a `warn!` with the handler's name and the event type, passes the
/// [`HandlerError`] to the [`on_error`](Self::on_error) (or
/// [`on_error_async`](Self::on_error_async)) hook, and keeps running.
///
/// # Tracing
/// Each call runs in an `rtm_handler` span with the fields `handler` (e.g. `my_bot::greet`)
/// and `event.type`, so what a handler logs carries them. The span is at `DEBUG` level (enable
/// it with e.g. `RUST_LOG=info,rtm_core=debug`): a span per event costs a few microseconds
/// with a subscriber that records it, more than the rest of the dispatch. A handler's failure
/// is logged at `WARN` with both fields either way.
///
/// The dispatcher keeps no global state: run one per workspace, in one process, if you like.
/// It must be the client's only reader (an event goes to exactly one reader).
#[doc(alias = "RTMDispatcher")]
#[must_use = "a dispatcher does nothing until `run()` or `run_until()` is awaited"]
pub struct RtmDispatcher<S = ()> {
    source: Source,
    routes: RouteMap<ErasedHandler<S>>,
    state: S,
    concurrency_limit: usize,
    shutdown_timeout: Duration,
    ordering: Ordering,
    on_error: Option<ErrorHook>,
    probe: Option<DispatcherProbe>,
}

impl RtmDispatcher {
    /// A dispatcher for `client`, with no handlers and no application state yet.
    pub fn new(client: RtmClient) -> RtmDispatcher {
        Self::with_source(Source::Rtm(client))
    }

    /// A dispatcher for a Socket Mode client: the same handlers run unchanged on the inner
    /// events of `events_api` envelopes (a `#[rtm_event(type = "message")]` handler gets
    /// `payload.event`), and [`Context::reply`] posts through the Web API
    /// (`chat.postMessage` with the bot token). `events_api` envelopes were acknowledged on
    /// arrival, so a slow, failing or panicking handler never delays their ack.
    ///
    /// Slash commands and interactions reach the routes of `#[slash_command]`,
    /// `#[interaction]`, [`Route::slash_command`] and [`Route::interaction`], with their
    /// payload structs from [`crate::interactive`]. A handler answers one with
    /// [`Context::respond`]; when the envelope takes an answer in its acknowledgement, the
    /// dispatcher releases the ack (empty) as soon as every handler for it has finished,
    /// whether it returned, failed or panicked, and at once when no route matches.
    /// [`Context::client`] is not available over Socket Mode (there is no RTM socket to send
    /// on); use [`Context::web`].
    pub fn socket_mode(client: SocketModeClient) -> RtmDispatcher {
        Self::with_source(Source::SocketMode(client))
    }

    /// A dispatcher without a client, for handlers that run on events from elsewhere (a
    /// queue worker): register the handlers as usual, then take them with
    /// [`into_handlers`](Self::into_handlers). [`run`](Self::run) on it returns
    /// [`Error::Config`] at once.
    pub fn detached() -> RtmDispatcher {
        Self::with_source(Source::Detached)
    }

    fn with_source(source: Source) -> RtmDispatcher {
        RtmDispatcher {
            source,
            routes: RouteMap::default(),
            state: (),
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            ordering: Ordering::default(),
            on_error: None,
            probe: None,
        }
    }

    /// Gives the handlers an application state (a database pool, counters, configuration):
    /// a handler takes it, or a part of it, with a [`State`] argument. Type-checked: a
    /// handler asking for a `State<T>` the state cannot give (no [`FromRef`]) does not
    /// compile. Each call gets a clone, so keep `S` cheap to clone (put shared parts in an
    /// `Arc`). Handlers registered before this call keep working (they took no state).
    ///
    /// ```no_run
    /// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
    ///
    /// use rtm_core::{RtmDispatcher, State, events::TeamJoin, rtm_event};
    ///
    /// #[derive(Clone, Default)]
    /// struct Counters {
    ///     joins: Arc<AtomicU64>,
    /// }
    ///
    /// #[rtm_event(type = "team_join")]
    /// async fn count(State(counters): State<Counters>, _join: TeamJoin) {
    ///     counters.joins.fetch_add(1, Ordering::Relaxed);
    /// }
    ///
    /// # async fn demo(client: rtm_core::RtmClient) -> Result<(), rtm_core::Error> {
    /// RtmDispatcher::new(client)
    ///     .with_state(Counters::default())
    ///     .handler::<count>()
    ///     .run()
    ///     .await
    /// # }
    /// ```
    pub fn with_state<S: Clone + Send + Sync + 'static>(self, state: S) -> RtmDispatcher<S> {
        RtmDispatcher {
            source: self.source,
            routes: self.routes.map(ErasedHandler::ignoring_state),
            state,
            concurrency_limit: self.concurrency_limit,
            shutdown_timeout: self.shutdown_timeout,
            ordering: self.ordering,
            on_error: self.on_error,
            probe: self.probe,
        }
    }
}

impl<S: Send + Sync + 'static> RtmDispatcher<S> {
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
    pub fn on<H, A>(self, route: Route, handler: H) -> RtmDispatcher<S>
    where
        H: Handler<A, S>,
    {
        // An interaction route's kind is its interaction type (`block_actions`, …).
        let kind = route.interaction_type().unwrap_or(route.kind());
        if let Some(argument) = private::argument_mismatch(kind, std::any::type_name::<A>()) {
            debug!(
                handler = std::any::type_name::<H>(),
                %route,
                argument,
                "this handler takes the struct of another event type: it will fail on every event of its route"
            );
        }
        self.insert(route, ErasedHandler::new(handler))
    }

    pub(crate) fn insert(mut self, route: Route, handler: ErasedHandler<S>) -> RtmDispatcher<S> {
        self.routes.insert(route, handler);
        self
    }

    /// Registers a function annotated with `#[rtm_event]`, with every route its attributes
    /// name: `.handler::<greet>()`.
    ///
    /// Without the attribute the compiler says "constant provided when a type was expected
    /// … `greet` is a function item, not a type": add `#[rtm_event(type = "...")]` to it, or
    /// register it with [`on`](Self::on).
    pub fn handler<H: AnnotatedHandler<S>>(self) -> RtmDispatcher<S> {
        H::register(self)
    }

    /// Caps the handler calls in flight at once (default [`DEFAULT_CONCURRENCY_LIMIT`]; `0`
    /// counts as `1`). A full cap pauses reading, which pushes back on the socket.
    pub fn concurrency_limit(mut self, limit: usize) -> RtmDispatcher<S> {
        self.concurrency_limit = limit;
        self
    }

    /// Called with every [`HandlerError`] (after it was logged), from the task of the call
    /// that failed. Replaces an earlier hook (of either form). Keep it quick; a panic in it
    /// is caught. To tell the user in the channel, use [`on_error_async`](Self::on_error_async).
    pub fn on_error(mut self, hook: impl Fn(&HandlerError) + Send + Sync + 'static) -> RtmDispatcher<S> {
        self.on_error = Some(ErrorHook::Sync(Arc::new(hook)));
        self
    }

    /// Like [`on_error`](Self::on_error), with the failed call's [`Context`] and an async
    /// hook, so it can answer where the event happened. It runs on the failed call's task and
    /// holds its concurrency permit until it finishes. Replaces an earlier hook.
    ///
    /// ```no_run
    /// # fn demo(dispatcher: rtm_core::RtmDispatcher) -> rtm_core::RtmDispatcher {
    /// dispatcher.on_error_async(|error, ctx| async move {
    ///     if ctx.channel().is_some() {
    ///         let _ = ctx.reply_in_thread(&format!("sorry, that failed: {error}")).await;
    ///     }
    /// })
    /// # }
    /// ```
    pub fn on_error_async<F, Fut>(mut self, hook: F) -> RtmDispatcher<S>
    where
        F: Fn(HandlerError, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_error = Some(ErrorHook::Async(Arc::new(move |error, ctx| {
            hook(error, ctx).boxed()
        })));
        self
    }

    /// How long a graceful shutdown waits for in-flight handlers before aborting them
    /// (default [`DEFAULT_SHUTDOWN_TIMEOUT`]).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> RtmDispatcher<S> {
        self.shutdown_timeout = timeout;
        self
    }

    /// In which order handler calls run (default [`Ordering::Concurrent`]); see the
    /// [ordering guarantee](Self#ordering-guarantee).
    pub fn ordering(mut self, ordering: Ordering) -> RtmDispatcher<S> {
        self.ordering = ordering;
        self
    }

    /// For tests: the dispatcher and a [`DispatcherProbe`] that waits until it has handled
    /// everything pushed so far and reports every handler failure. The probe's sync events
    /// are never handed to handlers.
    pub fn with_probe(mut self) -> (RtmDispatcher<S>, DispatcherProbe) {
        let probe = self.probe.get_or_insert_with(DispatcherProbe::new).clone();
        (self, probe)
    }

    /// The RTM client the dispatcher reads from.
    ///
    /// # Panics
    /// When the dispatcher reads from Socket Mode (see
    /// [`socket_mode_client`](Self::socket_mode_client)) or is
    /// [detached](Self::detached).
    pub fn client(&self) -> &RtmClient {
        match &self.source {
            Source::Rtm(client) => client,
            Source::SocketMode(_) => {
                panic!("this dispatcher reads from Socket Mode; use socket_mode_client()")
            }
            Source::Detached => panic!("a detached dispatcher has no client"),
        }
    }

    /// The Socket Mode client the dispatcher reads from, if it reads from Socket Mode.
    pub fn socket_mode_client(&self) -> Option<&SocketModeClient> {
        match &self.source {
            Source::SocketMode(client) => Some(client),
            Source::Rtm(_) | Source::Detached => None,
        }
    }

    /// The application state given to [`with_state`](RtmDispatcher::with_state).
    pub fn state(&self) -> &S {
        &self.state
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
        let RtmDispatcher {
            source,
            routes,
            state,
            concurrency_limit,
            shutdown_timeout,
            ordering,
            on_error,
            probe,
        } = self;
        let state = Arc::new(state);
        let routes = routes.map(|handler| handler.bind(Arc::clone(&state)));
        let settings = Settings {
            concurrency_limit,
            shutdown_timeout,
            ordering,
            reporter: Reporter {
                hook: on_error,
                probe: probe.map(|probe| probe.shared()),
            },
        };
        match source {
            Source::Rtm(client) => {
                let span = debug_span!("rtm_dispatcher", team = %client.info().team.id);
                run_loop(client, routes, settings, shutdown)
                    .instrument(span)
                    .await
            }
            Source::SocketMode(client) => {
                let span = debug_span!("socket_mode_dispatcher", team = %client.info().team.id);
                run_loop(client, routes, settings, shutdown)
                    .instrument(span)
                    .await
            }
            Source::Detached => Err(Error::Config(
                "a detached dispatcher has no client to read; use `into_handlers()`".into(),
            )),
        }
    }
}

/// What the read loop needs besides the source and the routes.
struct Settings {
    concurrency_limit: usize,
    shutdown_timeout: Duration,
    ordering: Ordering,
    reporter: Reporter,
}

/// The read loop, over any [`EventSource`].
async fn run_loop<Src: EventSource>(
    source: Src,
    routes: RouteMap<handler::BoundHandler>,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let Settings {
        concurrency_limit,
        shutdown_timeout,
        ordering,
        reporter,
    } = settings;
    let probe = reporter.probe.clone();
    let transport: Arc<dyn Transport> = Arc::new(source.clone());
    let me = OwnMessages::new(&routes, &transport.info().self_user.id);
    let mut shutdown = pin!(shutdown);
    let mut tasks = Tasks::new(concurrency_limit, reporter);
    if let Some(probe) = &probe {
        let (permits, limit) = tasks.permits();
        probe.attach(permits, limit);
    }
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
            batch = source.next_batch() => batch,
        };
        let batch = match batch {
            Ok(Some(batch)) => batch,
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        };
        let mut events = batch.into_iter();
        while let Some(event) = events.next() {
            if let Some(probe) = &probe
                && event.kind() == probe::SYNC_TYPE
            {
                // Every call for the events before it has been started.
                tasks.flush();
                tasks.release_spare();
                probe.marker_seen();
                continue;
            }
            let mut handlers = routes.matching(&event, me.is_own(&event)).peekable();
            // Shared by the event's calls: the last to finish releases a pending ack.
            let ack = AckGuard::for_event(&transport, &event);
            if handlers.peek().is_none() {
                // No handler will answer: the guard drops here and acks at once.
                continue;
            }
            let ctx = Context::over(Arc::clone(&transport), event.clone());
            let lane = match ordering {
                Ordering::Concurrent => None,
                Ordering::PerChannel => Some(ctx.channel()),
                Ordering::Sequential => Some(None),
            };
            for handler in handlers {
                let permit = match tasks.try_permit() {
                    Some(permit) => permit,
                    None => {
                        // Every permit is held. If those handlers await replies, the
                        // source must read on past its full buffer to find them.
                        let _blocked = source.reader_blocked();
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
                let job = Job::new(handler, &ctx, &event, Some(permit), ack.clone());
                match &lane {
                    None => tasks.spawn(job),
                    Some(key) => tasks.spawn_in_lane(*key, job),
                }
            }
        }
        tasks.reap();
    };

    match &end {
        Ok(()) if signalled => debug!("shutdown requested"),
        Ok(()) => debug!("source closed"),
        Err(error) => debug!(%error, "source stopped"),
    }
    tasks.drain(shutdown_timeout).await;
    if signalled {
        source.close().await;
    }
    debug!("dispatcher stopped");
    end
}

/// Recognises the bot's own messages, for the routes that skip them.
struct OwnMessages {
    /// The bot's user id; `None` when no route skips own messages (nothing to check).
    me: Option<Box<str>>,
}

/// The `user` of a message, borrowed.
#[derive(Deserialize)]
struct UserPeek<'a> {
    #[serde(borrow, default)]
    user: Option<std::borrow::Cow<'a, str>>,
}

impl OwnMessages {
    fn new<H>(routes: &RouteMap<H>, me: &str) -> OwnMessages {
        OwnMessages {
            me: (routes.skips_own_messages() && !me.is_empty()).then(|| me.into()),
        }
    }

    /// Whether `event` is a `message` whose `user` is the bot. Costs a substring search for
    /// most messages; only a frame that contains the bot's id anywhere is parsed (borrowed,
    /// no allocation).
    fn is_own(&self, event: &Event) -> bool {
        let Some(me) = self.me.as_deref() else {
            return false;
        };
        event.kind() == "message"
            && event.json().contains(me)
            && serde_json::from_str::<UserPeek<'_>>(event.json())
                .is_ok_and(|peek| peek.user.as_deref() == Some(me))
    }
}

impl<S> fmt::Debug for RtmDispatcher<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<String> = self
            .routes
            .routes()
            .map(|(route, handler)| format!("{route} => {handler:?}"))
            .collect();
        f.debug_struct("RtmDispatcher")
            .field("source", &self.source)
            .field("routes", &routes)
            .field("concurrency_limit", &self.concurrency_limit)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("ordering", &self.ordering)
            .field("on_error", &self.on_error.is_some())
            .field("probe", &self.probe.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_messages_are_the_bots_plain_user_field() {
        let mut routes = RouteMap::default();
        routes.insert(Route::new("message"), ());
        let me = OwnMessages::new(&routes, "UBOT");
        let own = |json: &str| me.is_own(&Event::from_json(json).unwrap());
        assert!(own(
            r#"{"type":"message","channel":"C1","user":"UBOT","text":"hi"}"#
        ));
        assert!(own(r#"{"type":"message", "user" : "UBOT"}"#));
        assert!(!own(r#"{"type":"message","user":"U1","text":"UBOT said"}"#));
        assert!(!own(r#"{"type":"user_typing","user":"UBOT"}"#));

        let mut catch_all = RouteMap::default();
        catch_all.insert(Route::any(), ());
        let nobody = OwnMessages::new(&catch_all, "UBOT");
        assert!(!nobody.is_own(&Event::from_json(r#"{"type":"message","user":"UBOT"}"#).unwrap()));
    }
}
