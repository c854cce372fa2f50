//! Running handler calls: one tokio task per call (or one queue per lane when ordering asks
//! for it), a permit-based cap taken *before* spawning so a full cap stops the reader, panic
//! capture, error reporting, and the bounded drain at shutdown.

use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use futures::{FutureExt, future::BoxFuture};
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
    task::{JoinError, JoinSet},
};
use tracing::{Instrument, Span, debug, info_span, warn};

use crate::Event;

use super::{Context, HandlerError, ack::AckGuard, handler::BoundHandler, probe::ProbeShared};

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
pub(crate) type LaneKey = Option<Box<str>>;

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
        let span = info_span!("rtm_handler", handler = handler.name, event.type = %event.kind());
        Job {
            handler: handler.clone(),
            ctx: ctx.clone(),
            event: event.clone(),
            span,
            _permit: permit,
            ack,
        }
    }

    /// Runs the call to completion inside its span; never panics. Errors and panics are
    /// logged and passed to the hook, and their text returned. The permit is released when
    /// this returns.
    pub(crate) async fn run(self, reporter: Reporter) -> Result<(), String> {
        let Reporter { hook, probe } = reporter;
        let Job {
            handler,
            ctx,
            event,
            span,
            _permit,
            ack: _ack,
        } = self;
        // A refcount, not a copy: the type is only needed if the call panics.
        let panicked_on = event.clone();
        // Another refcount, only when the hook will want the context.
        let hook_ctx = matches!(hook, Some(ErrorHook::Async(_))).then(|| ctx.clone());
        // Extraction (the typed parse) happens here too, on the task, not in the reader.
        let call = AssertUnwindSafe(async { handler.call(ctx, event).await });
        let error = match call.catch_unwind().instrument(span.clone()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(error)) => error,
            Err(payload) => HandlerError::Panicked {
                handler: handler.name,
                event_type: panicked_on.kind().to_owned(),
                message: panic_message(payload.as_ref()),
            },
        };
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
        Err(failure)
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

/// A queue whose calls run one after another, in the order they were queued.
struct Lane {
    /// Unbounded, yet bounded in practice: every queued job holds a permit.
    jobs: mpsc::UnboundedSender<Job>,
    /// Jobs queued or running; only the reader increments it, so a lane seen at zero is idle.
    pending: Arc<AtomicUsize>,
}

/// Every task the dispatcher started, and the permits that cap them.
pub(crate) struct Tasks {
    set: JoinSet<()>,
    permits: Arc<Semaphore>,
    limit: usize,
    lanes: HashMap<LaneKey, Lane>,
    reporter: Reporter,
    /// Permits taken by [`Tasks::wait_permits`] and not handed out yet.
    spare: Option<OwnedSemaphorePermit>,
}

impl Tasks {
    pub(crate) fn new(limit: usize, reporter: Reporter) -> Tasks {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Tasks {
            set: JoinSet::new(),
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            lanes: HashMap::new(),
            reporter,
            spare: None,
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

    /// Runs `job` on a task of its own.
    pub(crate) fn spawn(&mut self, job: Job) {
        self.set.spawn(job.run(self.reporter.clone()).map(drop));
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

    /// Queues `job` behind the earlier jobs of the same lane.
    pub(crate) fn spawn_in_lane(&mut self, key: LaneKey, job: Job) {
        let lane = self.lanes.entry(key).or_insert_with(|| {
            let (jobs, queue) = mpsc::unbounded_channel();
            let pending = Arc::new(AtomicUsize::new(0));
            self.set
                .spawn(run_lane(queue, Arc::clone(&pending), self.reporter.clone()));
            Lane { jobs, pending }
        });
        lane.pending.fetch_add(1, SeqCst);
        if let Err(mpsc::error::SendError(job)) = lane.jobs.send(job) {
            // Unreachable in practice: a lane's worker only ends once its sender is dropped.
            lane.pending.fetch_sub(1, SeqCst);
            self.spawn(job);
        }
    }

    /// Collects finished tasks and closes idle lanes, so neither grows without bound.
    pub(crate) fn reap(&mut self) {
        self.join_finished();
        self.lanes.retain(|_, lane| lane.pending.load(SeqCst) > 0);
    }

    /// Waits for every queued and running call up to `timeout`, then aborts what is left.
    pub(crate) async fn drain(mut self, timeout: Duration) {
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

async fn run_lane(mut queue: mpsc::UnboundedReceiver<Job>, pending: Arc<AtomicUsize>, reporter: Reporter) {
    while let Some(job) = queue.recv().await {
        let _ = job.run(reporter.clone()).await;
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
}
