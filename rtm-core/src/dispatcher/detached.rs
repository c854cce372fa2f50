//! Handlers run on events that come from somewhere other than a client the dispatcher reads:
//! a queue, a test harness, another process. [`Handlers`] is a dispatcher's routes and
//! handlers without the read loop; [`Outbound`] is where their messages go.

use std::{fmt, sync::Arc};

use futures::future::{self, BoxFuture, FutureExt, join_all};
use serde_json::value::RawValue;

use super::{
    Context, OwnMessages, RtmDispatcher,
    handler::BoundHandler,
    route::RouteMap,
    tasks::{Job, Reporter},
    transport::Transport,
};
use crate::{Answered, ConnectionInfo, Event, ReplyFuture, RespondError, WebClient};

/// Where the messages of handlers run by [`Handlers::handle`] go, and who the bot is there.
/// Implement it for a transport of your own (e.g. forwarding to the process that holds the
/// RTM socket); return futures built with [`ReplyFuture::spawn`].
pub trait Outbound: Send + Sync + 'static {
    /// Who the bot is and which workspace the event came from.
    fn info(&self) -> Arc<ConnectionInfo>;

    /// Posts `text` to `channel`, in the thread `thread_ts` when given
    /// ([`Context::reply`], [`Context::send_message`], …).
    fn post(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> ReplyFuture;

    /// The Web API client handlers get from [`Context::web`], if any. It also posts the
    /// answers handlers give with [`Context::respond`] to the event's `response_url` (the
    /// event's acknowledgement went where it was received).
    fn web(&self) -> Option<WebClient> {
        None
    }
}

/// Lets an [`Outbound`] serve as a context's transport.
struct Bridge<O: ?Sized>(Arc<O>);

impl<O: Outbound + ?Sized> Transport for Bridge<O> {
    fn info(&self) -> Arc<ConnectionInfo> {
        self.0.info()
    }

    fn post(&self, channel: &str, text: &str, thread_ts: Option<&str>) -> ReplyFuture {
        self.0.post(channel, text, thread_ts)
    }

    fn web(&self) -> Option<WebClient> {
        self.0.web()
    }

    /// An event handed over from elsewhere (a queue) was acknowledged where it was received,
    /// so only its `response_url` is left, posted with the [`Outbound::web`] client.
    fn respond(
        &self,
        event: &Event,
        payload: Box<RawValue>,
    ) -> BoxFuture<'static, Result<Answered, RespondError>> {
        let (Some(url), Some(web)) = (crate::respond::response_url(event), self.0.web()) else {
            return future::ready(Err(RespondError::NotAnswerable)).boxed();
        };
        async move {
            let body = crate::respond::payload_value(&*payload)?;
            web.post_response_url(&url, &body)
                .await
                .map_err(RespondError::ResponseUrl)?;
            Ok(Answered::ResponseUrl)
        }
        .boxed()
    }
}

/// A dispatcher's handlers without its read loop: hand it events one by one, from wherever
/// they come, and learn when all their handlers are done and whether they succeeded. This is
/// how a queue worker runs the same `#[rtm_event]` handlers as an in-process bot.
///
/// Built by [`RtmDispatcher::into_handlers`]. Cheap to clone. Errors and panics are caught,
/// logged and passed to the dispatcher's `on_error` hook, as in [`RtmDispatcher::run`]; the
/// dispatcher's ordering and concurrency cap do not apply (the caller decides what runs
/// when).
#[derive(Clone)]
pub struct Handlers {
    routes: Arc<RouteMap<BoundHandler>>,
    reporter: Reporter,
}

impl<S: Clone + Send + Sync + 'static> RtmDispatcher<S> {
    /// The handlers, bound to the state, for running on events from elsewhere with
    /// [`Handlers::handle`]. The dispatcher's source is not used (build it with
    /// [`RtmDispatcher::detached`] when there is none).
    pub fn into_handlers(self) -> Handlers {
        let state = Arc::new(self.state);
        Handlers {
            routes: Arc::new(self.routes.map(|handler| handler.bind(Arc::clone(&state)))),
            reporter: Reporter {
                hook: self.on_error,
                probe: self.probe.map(|probe| probe.shared()),
            },
        }
    }
}

impl Handlers {
    /// Runs every handler whose route matches `event` (the bot's own messages skipped as in
    /// the dispatcher), concurrently on the current task, and resolves once all have
    /// finished: `Ok(())` when every one succeeded (or none matched), otherwise the first
    /// failure's description (an `Err` or a panic, which never escapes).
    pub async fn handle(&self, event: Event, outbound: Arc<dyn Outbound>) -> Result<(), String> {
        let me = outbound.info().self_user.id.clone();
        let own = OwnMessages::new(&self.routes, &me).is_own(&event);
        let mut handlers = self.routes.matching(&event, own).peekable();
        if handlers.peek().is_none() {
            return Ok(());
        }
        let ctx = Context::over(Arc::new(Bridge(outbound)), event.clone());
        let calls =
            handlers.map(|handler| Job::new(handler, &ctx, &event, None, None).run(self.reporter.clone()));
        join_all(calls)
            .await
            .into_iter()
            .find(Result::is_err)
            .unwrap_or(Ok(()))
    }

    /// Whether some handler's route matches `event`.
    pub fn matches(&self, event: &Event) -> bool {
        self.routes.matching(event, false).next().is_some()
    }
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handlers")
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}
