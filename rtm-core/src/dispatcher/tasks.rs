//! Running handler calls: a call is polled once where it is started and gets a tokio task of
//! its own (or a place in its lane's queue when ordering asks for one) only if it has to wait;
//! a permit-based cap taken *before* starting so a full cap stops the reader; panic capture,
//! error reporting, and the bounded drain at shutdown.

use std::{
    collections::BTreeMap,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    task::Poll,
    time::Duration,
};

use futures::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesUnordered, task::noop_waker_ref};
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
    task::{JoinError, JoinSet},
};
use tracing::{Instrument, Span, debug, debug_span, warn};

use crate::Event;

use super::{
    Context, HandlerError,
    ack::AckGuard,
    handler::{BoundHandler, CallFuture},
    probe::ProbeShared,
};

/// The user's error hook: the plain one, or the async one that also gets the context.
#[derive(Clone)]
pub(crate) enum ErrorHook {
    /// `on_error`.
    Sync(Arc<dyn Fn(&HandlerError) + Send + Sync>),
    /// `on_error_async`.
    Async(Arc<dyn Fn(HandlerError, Context) -> BoxFuture<'static, ()> + Send + Sync>),
}

/// Where a failed call is reported besides the log: the user's hook and a test's probe.
#[derive(Clone, Default)]
pub(crate) struct Reporter {
    pub(crate) hook: Option<ErrorHook>,
    pub(crate) probe: Option<Arc<ProbeShared>>,
}

/// Which queue a call waits in when ordering is not [`Concurrent`](super::Ordering::Concurrent):
/// a channel id, or `None` for events without a channel (and for every event when sequential).
/// Borrowed from the event: a key is copied only when its lane is created.
pub(crate) type LaneKey<'a> = Option<&'a str>;

/// The lanes, by channel id; `""` is the lane of events without a channel. A sorted map of a
/// few short keys: no hashing per event, and lookups by `&str`.
type Lanes = BTreeMap<Box<str>, Lane>;

/// One handler call, holding its concurrency permit (and its share of the envelope's
/// pending acknowledgement, if any) until it has finished.
pub(crate) struct Job {
    handler: BoundHandler,
    ctx: Context,
    event: Event,
    span: Span,
    /// `None` for calls outside the dispatcher's cap ([`Handlers`](super::Handlers)).
    _permit: Option<OwnedSemaphorePermit>,
    ack: Option<Arc<AckGuard>>,
}

impl Job {
    pub(crate) fn new(
        handler: &BoundHandler,
        ctx: &Context,
        event: &Event,
        permit: Option<OwnedSemaphorePermit>,
        ack: Option<Arc<AckGuard>>,
    ) -> Job {
        // DEBUG, as per-request spans usually are: at INFO, a subscriber would record one per
        // event (see `RtmDispatcher`'s docs).
        let span = debug_span!("rtm_handler", handler = handler.name, event.type = %event.kind());
        Job {
            handler: handler.clone(),
            ctx: ctx.clone(),
            event: event.clone(),
            span,
            _permit: permit,
            ack,
        }
    }

    /// Starts the call: a future that runs it to completion inside its span and never
    /// panics. Errors and panics are logged and passed to the hook, and their text is the
    /// output. The permit is released when it completes.
    pub(crate) fn run(self, reporter: Reporter) -> Call {
        let Job {
            handler,
            ctx,
            event,
            span,
            _permit,
            ack,
        } = self;
        // A refcount, only when the hook will want the context.
        let hook_ctx = matches!(reporter.hook, Some(ErrorHook::Async(_))).then(|| ctx.clone());
        // Extraction (the typed parse) happens in the call's first poll, not here.
        let call = handler.call(ctx, event.clone());
        Call(CallState::Running {
            call,
            held: Held {
                name: handler.name,
                event,
                span,
                reporter,
                hook_ctx,
                _permit,
                _ack: ack,
            },
        })
    }
}

/// A started handler call. `Unpin` (the handler's future is boxed already), so that it can
/// be polled where it starts and then moved to a task without being boxed again.
pub(crate) struct Call(CallState);

// Every call starts `Running` and most end there: boxing that variant would cost the
// allocation per call this type exists to save.
#[allow(clippy::large_enum_variant)]
enum CallState {
    /// The handler runs; `held` is kept until it has finished (dropped after the handler's
    /// future), or moves into the report.
    Running {
        call: CallFuture,
        held: Held,
    },
    /// It failed; the report (the async hook may take a while) yields the failure's text.
    Reporting(BoxFuture<'static, String>),
    Done,
}

/// A call's span, permit and share of its envelope's ack, and what a report needs.
struct Held {
    name: &'static str,
    /// A refcount, not a copy: its type is only needed if the call panics.
    event: Event,
    span: Span,
    reporter: Reporter,
    hook_ctx: Option<Context>,
    _permit: Option<OwnedSemaphorePermit>,
    _ack: Option<Arc<AckGuard>>,
}

impl Future for Call {
    type Output = Result<(), String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let state = &mut self.0;
        if let CallState::Running { call, held } = state {
            let polled = {
                let _entered = held.span.enter();
                std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx)))
            };
            let error = match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(Ok(()))) => {
                    *state = CallState::Done;
                    return Poll::Ready(Ok(()));
                }
                Ok(Poll::Ready(Err(error))) => error,
                Err(payload) => HandlerError::Panicked {
                    handler: held.name,
                    event_type: held.event.kind().to_owned(),
                    message: panic_message(payload.as_ref()),
                },
            };
            if let CallState::Running { held, .. } = std::mem::replace(state, CallState::Done) {
                *state = CallState::Reporting(held.report(error).boxed());
            }
        }
        match state {
            CallState::Reporting(report) => {
                let failure = std::task::ready!(report.poll_unpin(cx));
                *state = CallState::Done;
                Poll::Ready(Err(failure))
            }
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl Held {
    /// Logs `error`, passes it to the probe and the hook, and returns its text; the permit
    /// and the ack share are released when this is done.
    async fn report(self, error: HandlerError) -> String {
        let Held {
            span,
            reporter: Reporter { hook, probe },
            hook_ctx,
            ..
        } = self;
        span.in_scope(|| {
            warn!(handler = error.handler(), event.type = error.event_type(), %error, "handler failed");
        });
        if let Some(probe) = &probe {
            probe.record(&error);
        }
        let failure = error.to_string();
        match (hook, hook_ctx) {
            (Some(ErrorHook::Sync(hook)), _) => span.in_scope(|| {
                if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(|| hook(&error))) {
                    hook_panicked(payload.as_ref());
                }
            }),
            (Some(ErrorHook::Async(hook)), Some(ctx)) => {
                let called = std::panic::catch_unwind(AssertUnwindSafe(|| hook(error, ctx)));
                let outcome = match called {
                    Ok(future) => {
                        AssertUnwindSafe(future)
                            .catch_unwind()
                            .instrument(span.clone())
                            .await
                    }
                    Err(payload) => Err(payload),
                };
                if let Err(payload) = outcome {
                    span.in_scope(|| hook_panicked(payload.as_ref()));
                }
            }
            _ => {}
        }
        failure
    }
}

fn hook_panicked(payload: &(dyn std::any::Any + Send)) {
    warn!(
        panic = panic_message(payload),
        "the dispatcher's error hook panicked"
    );
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Polls `call` once, here, and hands it back if it has to wait.
///
/// The poll uses a waker that does nothing: whatever the call registered it with is
/// registered again when its task (or lane) polls it, which always happens at least once,
/// so no wake-up is lost. A call that finishes on its first poll (a handler that does not
/// await, or whose awaits are already ready) thus costs no task, no scheduling and no
/// cross-thread wake-up.
///
/// [`Job::run`] catches the handler's panics; a panic outside the handler (a user error whose
/// `Display` panics while it is logged or recorded) is caught here too, as a task would have
/// caught it, so it can never unwind into the dispatcher's read loop.
fn start(mut call: Call) -> Option<Call> {
    let mut cx = std::task::Context::from_waker(noop_waker_ref());
    match std::panic::catch_unwind(AssertUnwindSafe(|| call.poll_unpin(&mut cx))) {
        Ok(Poll::Ready(_)) => None,
        Ok(Poll::Pending) => Some(call),
        Err(payload) => {
            warn!(
                panic = panic_message(payload.as_ref()),
                "a dispatcher task panicked"
            );
            None
        }
    }
}

/// Concurrent calls that had to wait and were started together (one read's batch) share a
/// task, up to this many: a reply to each still wakes only its own call, but the scheduler
/// sees one task per group, so a burst costs a few spawns and wake-ups instead of one each.
/// Small enough that a handler which hogs its thread holds up few others.
const CALLS_PER_TASK: usize = 16;

/// A queue whose calls run one after another, in the order they were queued.
struct Lane {
    /// Unbounded, yet bounded in practice: every queued call holds a permit.
    calls: mpsc::UnboundedSender<Call>,
    /// Jobs queued or running; only the reader increments it, so a lane seen at zero is idle.
    pending: Arc<AtomicUsize>,
}

/// Every task the dispatcher started, and the permits that cap them.
pub(crate) struct Tasks {
    set: JoinSet<()>,
    permits: Arc<Semaphore>,
    limit: usize,
    lanes: Lanes,
    reporter: Reporter,
    /// Permits taken by [`Tasks::wait_permits`] and not handed out yet.
    spare: Option<OwnedSemaphorePermit>,
    /// Concurrent calls that have to wait, not yet on a task; [`Tasks::flush`] hands them
    /// to one before the reader waits for anything.
    waiting: Vec<Call>,
}

impl Tasks {
    pub(crate) fn new(limit: usize, reporter: Reporter) -> Tasks {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Tasks {
            set: JoinSet::new(),
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            lanes: Lanes::new(),
            reporter,
            spare: None,
            waiting: Vec::new(),
        }
    }

    /// A permit if one is free right now (or left over from an earlier wait).
    pub(crate) fn try_permit(&mut self) -> Option<OwnedSemaphorePermit> {
        if let Some(spare) = &mut self.spare {
            return match spare.num_permits() {
                1 => self.spare.take(),
                _ => spare.split(1),
            };
        }
        Arc::clone(&self.permits).try_acquire_owned().ok()
    }

    /// Waits for room under the cap. While this waits the dispatcher does not read, so the
    /// client's bounded buffer fills (the dispatcher marks itself blocked meanwhile, so the
    /// client still reads on to the replies its handlers await). Cancel safe: dropping the
    /// future takes no permit.
    ///
    /// Waits until `wanted` permits are free (at most an eighth of the cap), keeps them, and
    /// returns one. Waking the reader once per several finished handlers rather than once
    /// per handler saves a cross-thread wake-up per event under load; `wanted` is the
    /// number of calls waiting, so a lone call still waits for one permit only.
    pub(crate) async fn wait_permits(&mut self, wanted: usize) -> OwnedSemaphorePermit {
        // The calls waiting to be handed to a task hold permits and can only finish there.
        self.flush();
        let n = wanted.clamp(1, (self.limit / 8).max(1));
        let n = u32::try_from(n).unwrap_or(1);
        let mut permits = match Arc::clone(&self.permits).acquire_many_owned(n).await {
            Ok(permits) => permits,
            // The semaphore is owned here and never closed.
            Err(_) => unreachable!("the dispatcher's semaphore is never closed"),
        };
        if n == 1 {
            return permits;
        }
        let one = permits.split(1);
        self.spare = Some(permits);
        one.unwrap_or_else(|| unreachable!("split(1) of n >= 2 permits"))
    }

    /// The permits and their number, for a probe.
    pub(crate) fn permits(&self) -> (Arc<Semaphore>, usize) {
        (Arc::clone(&self.permits), self.limit)
    }

    /// Gives back permits kept from an earlier wait, so that an idle dispatcher holds none.
    pub(crate) fn release_spare(&mut self) {
        self.spare = None;
    }

    /// Handler calls queued or running.
    pub(crate) fn in_flight(&self) -> usize {
        self.limit - self.permits.available_permits()
    }

    fn call(&self, job: Job) -> Call {
        job.run(self.reporter.clone())
    }

    /// Runs `job` concurrently with every other call: here, if it finishes on its first
    /// poll, else on a task it shares with the other calls of its batch that had to wait
    /// (see [`CALLS_PER_TASK`]), once [`flush`](Self::flush) hands them over.
    pub(crate) fn spawn(&mut self, job: Job) {
        if let Some(call) = start(self.call(job)) {
            self.waiting.push(call);
            if self.waiting.len() == CALLS_PER_TASK {
                self.flush();
            }
        }
    }

    /// Hands the calls waiting since the last flush to a task. Their first poll was here
    /// (with a waker that does nothing), so until then nothing wakes them: the reader must
    /// flush before it awaits anything, or they (and the permits they hold) would be stuck.
    pub(crate) fn flush(&mut self) {
        match self.waiting.len() {
            0 => {}
            1 => {
                if let Some(call) = self.waiting.pop() {
                    self.spawn_call(call);
                }
            }
            _ => {
                let calls: FuturesUnordered<_> = self
                    .waiting
                    .drain(..)
                    .map(|call| AssertUnwindSafe(call).catch_unwind())
                    .collect();
                self.set.spawn(run_together(calls));
                if self.set.len() > 2 * self.limit {
                    self.join_finished();
                }
            }
        }
    }

    fn spawn_call(&mut self, call: Call) {
        self.set.spawn(call.map(drop));
        // A finished task keeps its memory until it is joined; a batch may hold tens of
        // thousands of events, so collect finished ones as we go, not only between batches.
        if self.set.len() > 2 * self.limit {
            self.join_finished();
        }
    }

    fn join_finished(&mut self) {
        while let Some(result) = self.set.try_join_next() {
            log_join(result);
        }
    }

    /// Runs `job` after the earlier calls of the same lane. When the lane is idle (no call
    /// queued or running) the call starts here, and it gets the lane (a queue and a task)
    /// only if it has to wait: calls that finish on their first poll never create one.
    pub(crate) fn spawn_in_lane(&mut self, key: LaneKey<'_>, job: Job) {
        let key = key.unwrap_or_default();
        let call = self.call(job);
        // Only this reader increments `pending`, so a lane seen idle stays idle until we
        // queue into it: every earlier call of the lane has finished.
        let idle = self
            .lanes
            .get(key)
            .is_none_or(|lane| lane.pending.load(SeqCst) == 0);
        let call = if idle {
            match start(call) {
                Some(call) => call,
                None => return,
            }
        } else {
            call
        };
        if !self.lanes.contains_key(key) {
            let lane = self.new_lane();
            self.lanes.insert(key.into(), lane);
        }
        let queued = match self.lanes.get(key) {
            Some(lane) => {
                lane.pending.fetch_add(1, SeqCst);
                lane.calls.send(call).map_err(|mpsc::error::SendError(call)| {
                    lane.pending.fetch_sub(1, SeqCst);
                    call
                })
            }
            None => Err(call),
        };
        if let Err(call) = queued {
            // Unreachable in practice: the lane was just found or made, and its worker only
            // ends once its sender is dropped.
            self.spawn_call(call);
        }
    }

    /// A lane's queue, and the task that runs what is queued in it.
    fn new_lane(&mut self) -> Lane {
        let (calls, queue) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        self.set.spawn(run_lane(queue, Arc::clone(&pending)));
        Lane { calls, pending }
    }

    /// Collects finished tasks and closes idle lanes, so neither grows without bound.
    pub(crate) fn reap(&mut self) {
        self.flush();
        self.join_finished();
        self.lanes.retain(|_, lane| lane.pending.load(SeqCst) > 0);
    }

    /// Waits for every queued and running call up to `timeout`, then aborts what is left.
    pub(crate) async fn drain(mut self, timeout: Duration) {
        self.flush();
        self.spare = None;
        // Closing the lanes lets each worker finish its queue and end.
        self.lanes.clear();
        if self.set.is_empty() {
            return;
        }
        debug!(
            in_flight = self.in_flight(),
            ?timeout,
            "waiting for in-flight handlers"
        );
        let set = &mut self.set;
        let drained = tokio::time::timeout(timeout, async {
            while let Some(result) = set.join_next().await {
                log_join(result);
            }
        })
        .await;
        if drained.is_err() {
            warn!(
                in_flight = self.in_flight(),
                ?timeout,
                "handlers still running at the shutdown deadline were aborted"
            );
            self.set.shutdown().await;
        }
    }
}

/// Runs calls side by side on one task until all have finished; one call's panic ends only
/// that call.
async fn run_together(mut calls: FuturesUnordered<futures::future::CatchUnwind<AssertUnwindSafe<Call>>>) {
    while let Some(result) = calls.next().await {
        if let Err(payload) = result {
            warn!(
                panic = panic_message(payload.as_ref()),
                "a dispatcher task panicked"
            );
        }
    }
}

async fn run_lane(mut queue: mpsc::UnboundedReceiver<Call>, pending: Arc<AtomicUsize>) {
    while let Some(call) = queue.recv().await {
        // A panic must not end the lane: the calls queued behind it would never run.
        if let Err(payload) = AssertUnwindSafe(call).catch_unwind().await {
            warn!(
                panic = panic_message(payload.as_ref()),
                "a dispatcher task panicked"
            );
        }
        pending.fetch_sub(1, SeqCst);
    }
}

fn log_join(result: Result<(), JoinError>) {
    // Handler panics are caught inside the task; this is for anything else.
    if let Err(error) = result
        && error.is_panic()
    {
        warn!(%error, "a dispatcher task panicked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42_u8), "<non-string panic payload>");
    }

    #[tokio::test(start_paused = true)]
    async fn cap_is_clamped_and_counted() {
        let tasks = Tasks::new(0, Reporter::default());
        assert_eq!(tasks.limit, 1);
        let mut tasks = tasks;
        let permit = tasks.wait_permits(1).await;
        assert_eq!(tasks.in_flight(), 1);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), tasks.wait_permits(1))
                .await
                .is_err()
        );
        drop(permit);
        assert_eq!(tasks.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_takes_a_few_permits_at_once_and_hands_them_out() {
        let mut tasks = Tasks::new(16, Reporter::default());
        let mut held: Vec<_> = (0..16).map(|_| tasks.try_permit().unwrap()).collect();
        assert!(tasks.try_permit().is_none());
        let first = {
            let waiter = tasks.wait_permits(10);
            tokio::pin!(waiter);
            drop(held.pop());
            // One free permit is not enough when ten calls wait: it waits for two (16 / 8).
            let early = tokio::time::timeout(Duration::from_millis(10), &mut waiter).await;
            assert!(early.is_err());
            drop(held.pop());
            waiter.await
        };
        assert_eq!(first.num_permits(), 1);
        let second = tasks.try_permit().expect("the spare permit");
        assert!(tasks.try_permit().is_none(), "the cap still holds");
        assert_eq!(tasks.in_flight(), 16);
        drop(second);
        // A lone call waits for one permit only.
        let lone = tokio::time::timeout(Duration::from_millis(10), tasks.wait_permits(1)).await;
        assert!(lone.is_ok());
    }

    /// Calls for a test: each records its number when it finishes; odd numbers first wait
    /// for their gate to open (so they cannot finish on the first poll), even ones do not.
    struct Calls {
        tasks: Tasks,
        done: Arc<std::sync::Mutex<Vec<usize>>>,
        gates: std::collections::HashMap<usize, tokio::sync::oneshot::Sender<()>>,
    }

    impl Calls {
        fn new() -> Calls {
            Calls {
                tasks: Tasks::new(64, Reporter::default()),
                done: Arc::default(),
                gates: std::collections::HashMap::new(),
            }
        }

        fn job(&mut self, n: usize) -> Job {
            let (open, gate) = tokio::sync::oneshot::channel::<()>();
            if n % 2 == 1 {
                self.gates.insert(n, open);
            }
            let gate = Arc::new(std::sync::Mutex::new(Some(gate)));
            let done = Arc::clone(&self.done);
            let handler = super::super::handler::ErasedHandler::<()>::new(move |_event: Event| {
                let gate = gate.lock().unwrap().take();
                let done = Arc::clone(&done);
                async move {
                    if n % 2 == 1
                        && let Some(gate) = gate
                    {
                        let _ = gate.await;
                    }
                    done.lock().unwrap().push(n);
                }
            })
            .bind(Arc::new(()));
            let event = Event::from_json(r#"{"type":"message","channel":"C1"}"#).unwrap();
            let ctx = crate::TestContext::new(event.clone()).context();
            let permit = self.tasks.try_permit().expect("a permit");
            Job::new(&handler, &ctx, &event, Some(permit), None)
        }

        fn done(&self) -> Vec<usize> {
            self.done.lock().unwrap().clone()
        }

        async fn settle(&mut self) {
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
        }
    }

    #[tokio::test]
    async fn calls_that_do_not_wait_finish_where_they_start_and_others_still_get_woken() {
        let mut calls = Calls::new();
        let job = calls.job(0);
        calls.tasks.spawn(job);
        assert_eq!(
            calls.done(),
            vec![0],
            "finished on its first poll, without a task"
        );
        assert!(calls.tasks.set.is_empty());
        assert_eq!(calls.tasks.in_flight(), 0, "and gave its permit back");

        // A call that waits was polled once with a waker that does nothing: its task must
        // poll it again so that opening the gate wakes it.
        let job = calls.job(1);
        calls.tasks.spawn(job);
        calls.tasks.flush();
        assert_eq!(calls.tasks.set.len(), 1);
        calls.settle().await;
        assert!(calls.done().len() == 1, "still waiting for its gate");
        let _ = calls.gates.remove(&1).unwrap().send(());
        let tasks = std::mem::replace(&mut calls.tasks, Tasks::new(1, Reporter::default()));
        tokio::time::timeout(Duration::from_secs(5), tasks.drain(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(calls.done(), vec![0, 1]);
    }

    #[tokio::test]
    async fn waiting_calls_of_a_batch_share_a_task_and_each_finishes_when_woken() {
        let mut calls = Calls::new();
        // 1, 3, .. 29 wait: the 16th to wait fills a task; the rest go to a second one at
        // the flush. The even ones finish where they start.
        for n in 0..30 {
            let job = calls.job(n);
            calls.tasks.spawn(job);
        }
        assert_eq!(calls.tasks.set.len(), 0, "fewer waiting calls than a task takes");
        calls.tasks.flush();
        assert_eq!(calls.tasks.set.len(), 1, "15 waiting calls, one task");
        assert_eq!(calls.tasks.in_flight(), 15, "each waiting call keeps its permit");
        for n in 30..34 {
            let job = calls.job(n);
            calls.tasks.spawn(job);
        }
        calls.tasks.flush();
        assert_eq!(calls.tasks.set.len(), 2);
        // Each gate wakes its own call only, in any order.
        for n in [31, 7, 19, 1] {
            let _ = calls.gates.remove(&n).unwrap().send(());
            for _ in 0..100 {
                if calls.done().contains(&n) {
                    break;
                }
                calls.settle().await;
            }
            assert!(calls.done().contains(&n), "{n} woken");
        }
        assert_eq!(calls.tasks.in_flight(), 13);
        for (_, gate) in calls.gates.drain() {
            let _ = gate.send(());
        }
        let tasks = std::mem::replace(&mut calls.tasks, Tasks::new(1, Reporter::default()));
        tokio::time::timeout(Duration::from_secs(5), tasks.drain(Duration::from_secs(5)))
            .await
            .unwrap();
        let mut done = calls.done();
        done.sort_unstable();
        assert_eq!(done, (0..34).collect::<Vec<_>>());
    }

    /// An error whose `Display` panics: reporting it panics outside the handler's guard.
    #[derive(Debug)]
    struct Nasty;
    impl std::fmt::Display for Nasty {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("this error cannot be displayed")
        }
    }
    impl std::error::Error for Nasty {}

    /// Tasks whose reporter displays every failure (a probe records them as text).
    fn displaying_tasks() -> Tasks {
        let probe = super::super::DispatcherProbe::new();
        Tasks::new(
            8,
            Reporter {
                hook: None,
                probe: Some(probe.shared()),
            },
        )
    }

    #[tokio::test]
    async fn a_panic_in_one_call_of_a_shared_task_leaves_the_others_running() {
        let mut tasks = displaying_tasks();
        let event = Event::from_json(r#"{"type":"message","channel":"C1"}"#).unwrap();
        let ctx = crate::TestContext::new(event.clone()).context();
        // Waits, then fails with an error whose report panics.
        let failing = super::super::handler::ErasedHandler::<()>::new(|_event: Event| async {
            tokio::task::yield_now().await;
            Err::<(), super::super::BoxError>(Box::new(Nasty))
        })
        .bind(Arc::new(()));
        let (open, gate) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done) = tokio::sync::oneshot::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(Some((gate, done_tx))));
        let waiting = super::super::handler::ErasedHandler::<()>::new(move |_event: Event| {
            let parts = gate.lock().unwrap().take();
            async move {
                if let Some((gate, done)) = parts {
                    let _ = gate.await;
                    let _ = done.send(());
                }
            }
        })
        .bind(Arc::new(()));
        for handler in [&failing, &waiting] {
            let permit = tasks.try_permit().unwrap();
            tasks.spawn(Job::new(handler, &ctx, &event, Some(permit), None));
        }
        tasks.flush();
        assert_eq!(tasks.set.len(), 1, "both calls on one task");
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert_eq!(tasks.in_flight(), 1, "the failed call gave its permit back");
        let _ = open.send(());
        tokio::time::timeout(Duration::from_secs(5), done)
            .await
            .expect("the other call still ran")
            .unwrap();
    }

    #[tokio::test]
    async fn a_lane_keeps_its_order_when_some_calls_finish_at_once_and_others_wait() {
        let mut calls = Calls::new();
        // 0 finishes inline; 1 waits (and takes the lane); 2..6 must queue behind it even
        // though the even ones could finish at once.
        for n in 0..6 {
            let job = calls.job(n);
            calls.tasks.spawn_in_lane(Some("C1"), job);
        }
        calls.settle().await;
        assert_eq!(calls.done(), vec![0]);
        for n in [5, 3, 1] {
            let _ = calls.gates.remove(&n).unwrap().send(());
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while calls.done().len() < 6 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(calls.done(), (0..6).collect::<Vec<_>>());
        // The lane is idle again: the next call starts (and here finishes) where it starts.
        calls.tasks.reap();
        let job = calls.job(6);
        calls.tasks.spawn_in_lane(Some("C1"), job);
        assert_eq!(calls.done().last(), Some(&6));
        assert!(
            calls.tasks.lanes.is_empty(),
            "no lane for a call that did not wait"
        );
    }

    #[tokio::test]
    async fn a_panic_outside_the_handler_never_reaches_the_read_loop() {
        // The probe records every failure as text, so it displays the error: outside the
        // handler's own panic guard, on the dispatcher's thread when the call runs inline.
        let mut tasks = displaying_tasks();
        let handler = super::super::handler::ErasedHandler::<()>::new(|_event: Event| async {
            Err::<(), super::super::BoxError>(Box::new(Nasty))
        })
        .bind(Arc::new(()));
        let event = Event::from_json(r#"{"type":"message","channel":"C1"}"#).unwrap();
        let ctx = crate::TestContext::new(event.clone()).context();
        for lane in [None, Some(Some("C1"))] {
            let permit = tasks.try_permit().unwrap();
            let job = Job::new(&handler, &ctx, &event, Some(permit), None);
            match lane {
                None => tasks.spawn(job),
                Some(key) => tasks.spawn_in_lane(key, job),
            }
        }
        assert_eq!(
            tasks.in_flight(),
            0,
            "both calls ended and gave their permits back"
        );
    }
}
