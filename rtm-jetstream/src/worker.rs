//! [`Worker`]: takes events from JetStream and runs the bot's handlers on them.

use std::{future::Future, panic::AssertUnwindSafe, pin::pin, sync::Arc, time::Duration};

use async_nats::{
    HeaderMap,
    jetstream::{self, AckKind, Message},
};
use futures::{FutureExt, StreamExt, future::BoxFuture, stream::SelectAll};
use rtm_core::{Event, Handlers, WebClient};
use tokio::{sync::Semaphore, task::JoinSet};
use tracing::{debug, error, info, warn};

use crate::{JetStreamConfig, JetStreamError, relay::Outbounds, topology};

/// Header on a dead letter: why the last delivery failed.
pub const ERROR_HEADER: &str = "Rtm-Error";
/// Header on a dead letter: how many times the event was delivered.
pub const DELIVERIES_HEADER: &str = "Rtm-Deliveries";

/// Default for [`Worker::concurrency`].
pub const DEFAULT_WORKER_CONCURRENCY: usize = 64;

/// Default for [`Worker::shutdown_timeout`].
pub const DEFAULT_WORKER_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a worker does with one event: run the handlers, report the first failure.
pub(crate) trait Handle: Send + Sync + 'static {
    fn handle(&self, headers: Option<&HeaderMap>, event: Event) -> BoxFuture<'static, Result<(), String>>;
}

/// Takes events from the durable consumer all workers share, runs the handlers, and
/// acknowledges each event only after its handlers succeeded.
///
/// - A failure or a panic: the event comes back after a delay (the configured backoff),
///   to this or another worker.
/// - After the configured number of deliveries: the event is stored on the dead-letter
///   subject with the error (header [`ERROR_HEADER`]) and not delivered again.
/// - A handler still running sends progress acks, so JetStream does not hand its event to
///   another worker meanwhile.
/// - A worker that dies (crash, SIGKILL, lost network) acknowledges nothing more: what it
///   held comes back to the others after the ack wait.
/// - Graceful shutdown stops taking events, waits for running handlers up to a timeout,
///   and gives every event it did not finish back at once (nak), so nothing is acknowledged
///   that did not run.
pub struct Worker {
    nats: async_nats::Client,
    web: Option<WebClient>,
    js: jetstream::Context,
    config: Arc<JetStreamConfig>,
    ordered: bool,
    concurrency: usize,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("ordered", &self.ordered)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Connects to NATS at `url` and creates the streams when missing.
    ///
    /// # Errors
    /// [`JetStreamError::Connect`] or [`JetStreamError::Setup`].
    pub async fn connect(url: &str, config: JetStreamConfig) -> Result<Worker, JetStreamError> {
        let nats = async_nats::connect(url)
            .await
            .map_err(|e| JetStreamError::Connect(e.to_string()))?;
        let js = jetstream::new(nats.clone());
        topology::ensure_streams(&js, &config).await?;
        Ok(Worker {
            nats,
            web: None,
            js,
            config: Arc::new(config),
            ordered: false,
            concurrency: DEFAULT_WORKER_CONCURRENCY,
            shutdown_timeout: DEFAULT_WORKER_SHUTDOWN_TIMEOUT,
        })
    }

    /// Handle the events of one channel one after another, in the order they were stored,
    /// over all workers (which must all be ordered). Channels are spread over the
    /// configured lanes; each lane has one event in flight at a time.
    pub fn ordered(mut self, ordered: bool) -> Worker {
        self.ordered = ordered;
        self
    }

    /// Events this worker handles at once (default 64).
    pub fn concurrency(mut self, limit: usize) -> Worker {
        self.concurrency = limit.max(1);
        self
    }

    /// How long a graceful shutdown waits for running handlers (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Worker {
        self.shutdown_timeout = timeout;
        self
    }

    /// The Web API client (the bot token) handlers get from `Context::web`, and through
    /// which they post over Socket Mode. Without it, a Socket Mode event's handler cannot
    /// post.
    pub fn web(mut self, web: WebClient) -> Worker {
        self.web = Some(web);
        self
    }

    /// Runs `handlers` on every event until the connection to NATS fails for good.
    ///
    /// # Errors
    /// [`JetStreamError::Setup`] when the consumers cannot be created;
    /// [`JetStreamError::Consume`] when the consumer ends.
    pub async fn run(self, handlers: Handlers) -> Result<(), JetStreamError> {
        self.run_until(handlers, std::future::pending()).await
    }

    /// Like [`run`](Self::run), and stops gracefully when `shutdown` completes: takes no
    /// more events, waits for running handlers up to the shutdown timeout, and gives back
    /// (nak) every event it did not finish.
    ///
    /// # Errors
    /// As for [`run`](Self::run).
    pub async fn run_until(
        self,
        handlers: Handlers,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), JetStreamError> {
        let outbounds = Outbounds::new(self.nats.clone(), self.web.clone(), Arc::clone(&self.config));
        let handle = Arc::new(Dispatch { handlers, outbounds });
        self.run_handle(handle, shutdown).await
    }

    /// Runs until `shutdown` completes.
    pub(crate) async fn run_handle(
        self,
        handle: Arc<dyn Handle>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), JetStreamError> {
        let events = topology::ensure_streams(&self.js, &self.config).await?;
        let consumers = topology::ensure_consumers(&events, &self.config, self.ordered).await?;
        let mut messages = SelectAll::new();
        for consumer in consumers {
            let stream = consumer
                .stream()
                .max_messages_per_batch(self.concurrency.min(256))
                .messages()
                .await
                .map_err(|e| JetStreamError::Consume(e.to_string()))?;
            messages.push(stream);
        }
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut running = JoinSet::new();
        let mut shutdown = pin!(shutdown);
        info!(
            ordered = self.ordered,
            concurrency = self.concurrency,
            "worker started"
        );
        loop {
            let permit = tokio::select! {
                biased;
                () = &mut shutdown => break,
                permit = Arc::clone(&permits).acquire_owned() => permit.expect("never closed"),
            };
            let message = tokio::select! {
                biased;
                () = &mut shutdown => break,
                message = messages.next() => message,
            };
            while running.try_join_next().is_some() {}
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(error)) => {
                    warn!(%error, "taking an event from JetStream failed; going on");
                    continue;
                }
                None => return Err(JetStreamError::Consume("the consumer ended".into())),
            };
            let job = Job {
                message: Arc::new(message),
                handle: Arc::clone(&handle),
                config: Arc::clone(&self.config),
                js: self.js.clone(),
            };
            running.spawn(async move {
                job.run().await;
                drop(permit);
            });
        }
        info!(in_flight = running.len(), "worker stopping");
        drop(messages);
        let drained = tokio::time::timeout(self.shutdown_timeout, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            // Aborted jobs give their event back on drop (see `Job::run`).
            warn!(
                aborted = running.len(),
                "handlers still running at the shutdown timeout; giving their events back"
            );
            running.shutdown().await;
        }
        Ok(())
    }
}

/// The dispatcher's handlers, with the right [`Outbound`](rtm_core::Outbound) per event.
struct Dispatch {
    handlers: Handlers,
    outbounds: Outbounds,
}

impl Handle for Dispatch {
    fn handle(&self, headers: Option<&HeaderMap>, event: Event) -> BoxFuture<'static, Result<(), String>> {
        let outbound = self.outbounds.for_headers(headers);
        let handlers = self.handlers.clone();
        Box::pin(async move { handlers.handle(event, outbound).await })
    }
}

/// One event being handled.
struct Job {
    message: Arc<Message>,
    handle: Arc<dyn Handle>,
    config: Arc<JetStreamConfig>,
    js: jetstream::Context,
}

/// Gives the event back (nak, no delay) unless disarmed: a job aborted by shutdown never
/// leaves its event waiting for the ack timeout.
struct GiveBack(Option<Arc<Message>>);

impl Drop for GiveBack {
    fn drop(&mut self) {
        if let Some(message) = self.0.take() {
            tokio::spawn(async move {
                let _ = message.ack_with(AckKind::Nak(None)).await;
            });
        }
    }
}

impl Job {
    async fn run(self) {
        let mut give_back = GiveBack(Some(Arc::clone(&self.message)));
        let delivered = self
            .message
            .info()
            .map(|info| u32::try_from(info.delivered).unwrap_or(u32::MAX))
            .unwrap_or(1);
        let outcome = if delivered > self.config.max_deliver {
            // Deliveries without an outcome: the worker died with it each time.
            Err(format!(
                "delivered {delivered} times without finishing (worker crashed?)"
            ))
        } else {
            match std::str::from_utf8(&self.message.payload).map(Event::from_json) {
                Ok(Ok(event)) => self.run_handlers(event).await,
                Ok(Err(error)) => Err(format!("not an event: {error}")),
                Err(_) => Err("not UTF-8".to_owned()),
            }
        };
        give_back.0 = None;
        let subject = self.message.subject.as_str();
        let done = match outcome {
            Ok(()) => self.message.double_ack().await.map_err(|e| e.to_string()),
            Err(error) if delivered >= self.config.max_deliver => {
                warn!(%subject, delivered, %error, "giving up on an event; storing it as a dead letter");
                match self.dead_letter(&error, delivered).await {
                    Ok(()) => self
                        .message
                        .ack_with(AckKind::Term)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                }
            }
            Err(error) => {
                let delay = self.config.backoff_after(delivered);
                debug!(%subject, delivered, %error, ?delay, "handler failed; the event comes back later");
                self.message
                    .ack_with(AckKind::Nak(Some(delay)))
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        if let Err(error) = done {
            // JetStream redelivers after the ack wait; handlers must be idempotent anyway.
            error!(%subject, %error, "cannot settle an event with JetStream");
        }
    }

    /// Runs the handlers, panics caught, sending progress acks while they run.
    async fn run_handlers(&self, event: Event) -> Result<(), String> {
        let handling =
            AssertUnwindSafe(self.handle.handle(self.message.headers.as_ref(), event)).catch_unwind();
        let mut handling = pin!(handling);
        let every = (self.config.ack_wait / 3).max(Duration::from_millis(10));
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                outcome = &mut handling => {
                    return match outcome {
                        Ok(result) => result,
                        Err(panic) => Err(format!("handler panicked: {}", panic_text(&*panic))),
                    };
                }
                _ = progress.tick() => {
                    if let Err(error) = self.message.ack_with(AckKind::Progress).await {
                        warn!(%error, "progress ack failed");
                    }
                }
            }
        }
    }

    /// Stores the event on the dead-letter subject with why it failed, and waits until it is
    /// stored.
    async fn dead_letter(&self, error: &str, delivered: u32) -> Result<(), String> {
        let mut headers = self.message.headers.clone().unwrap_or_default();
        headers.insert(ERROR_HEADER, error.replace(['\r', '\n'], " ").as_str());
        headers.insert(DELIVERIES_HEADER, delivered.to_string().as_str());
        let subject = format!("{}.{}", self.config.dead_letter_prefix, self.message.subject);
        let ack = self
            .js
            .publish_with_headers(subject, headers, self.message.payload.clone())
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map(|_| ()).map_err(|e| e.to_string())
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic")
}
