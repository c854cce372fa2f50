//! `RtmDispatcher` and `#[rtm_event]` against the bundled emulator: routing, failures,
//! the concurrency cap, ordering, graceful shutdown, and several dispatchers in one process.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use rtm_core::{
    BoxError, Context, Error, Event, FromRef, HandlerError, Ordering, Route, RtmClient, RtmDispatcher, State,
    emulator::Emulator,
    events::{Message, TeamJoin},
    rtm_event,
};
use rtm_tests::{CapturedLogs, connect, emulator, eventually, within};
use serde_json::json;
use tokio::{
    sync::{Semaphore, mpsc, oneshot},
    task::JoinHandle,
};

/// A dispatcher running on its own task, stopped through `run_until`.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), Error>>,
}

impl Running {
    fn start<S: Send + Sync + 'static>(dispatcher: RtmDispatcher<S>) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(dispatcher.run_until(async {
            let _ = stopped.await;
        }));
        Running { stop, task }
    }

    /// Signals shutdown and waits for `run_until` to return.
    async fn stop(self) -> Result<(), Error> {
        let _ = self.stop.send(());
        within("dispatcher to stop", self.task)
            .await
            .expect("dispatcher task did not panic")
    }
}

/// A client on a fresh emulator, with the `hello` already consumed.
async fn setup() -> (Emulator, RtmClient) {
    let emulator = emulator().await;
    let client = connect(&emulator).await;
    assert!(emulator.wait_for_connections(1, rtm_tests::WAIT).await);
    (emulator, client)
}

/// Handlers of these tests report through a channel: closures capture a sender.
fn recorder<T>() -> (mpsc::UnboundedSender<T>, mpsc::UnboundedReceiver<T>) {
    mpsc::unbounded_channel()
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    within("a handler call", rx.recv()).await.expect("sender alive")
}

/// Pushes a `sync` event and waits until the dispatcher has handed it to `route_sync`'s
/// handler: every earlier event has then been dispatched (handlers *started*).
async fn sync_point(emulator: &Emulator, synced: &mut mpsc::UnboundedReceiver<()>) {
    emulator.push(json!({"type": "sync"}));
    next(synced).await;
}

fn route_sync<S: Send + Sync + 'static>(
    dispatcher: RtmDispatcher<S>,
) -> (RtmDispatcher<S>, mpsc::UnboundedReceiver<()>) {
    let (tx, rx) = recorder();
    let dispatcher = dispatcher.on(Route::new("sync"), move |_: Event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(());
        }
    });
    (dispatcher, rx)
}

/// The text of a catalog `Message` (always present on plain messages).
fn text(message: &Message) -> String {
    message.text.clone().unwrap_or_default()
}

fn team_join(id: &str) -> serde_json::Value {
    json!({"type": "team_join", "user": {"id": id, "name": id}})
}

#[tokio::test]
async fn handler_is_called_once_per_matching_event() {
    let (emulator, client) = setup().await;
    let (tx, mut joined) = recorder();
    let dispatcher = RtmDispatcher::new(client).on(Route::new("team_join"), move |join: TeamJoin| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(join.user.id);
        }
    });
    let (dispatcher, mut synced) = route_sync(dispatcher);
    let running = Running::start(dispatcher);

    emulator.push(team_join("U1"));
    emulator.message("C1", "U9", "not a join");
    emulator.push(team_join("U2"));
    emulator.push(json!({"type": "user_typing", "channel": "C1", "user": "U9"}));
    emulator.push(team_join("U3"));
    sync_point(&emulator, &mut synced).await;
    running.stop().await.expect("clean shutdown");

    let mut ids = Vec::new();
    while let Ok(id) = joined.try_recv() {
        ids.push(id);
    }
    ids.sort();
    assert_eq!(ids, ["U1", "U2", "U3"]);
}

static BOT_MESSAGES: AtomicUsize = AtomicUsize::new(0);

#[rtm_event(type = "message", subtype = "bot_message")]
async fn count_bot_messages(message: Message) {
    assert_eq!(message.channel, "C1");
    BOT_MESSAGES.fetch_add(1, SeqCst);
}

#[tokio::test]
async fn subtype_route_only_sees_that_subtype() {
    let (emulator, client) = setup().await;
    let (dispatcher, mut synced) = route_sync(RtmDispatcher::new(client).handler::<count_bot_messages>());
    let running = Running::start(dispatcher);

    emulator.message("C1", "U1", "plain");
    emulator.push(
        json!({"type": "message", "subtype": "bot_message", "channel": "C1", "ts": "1.1", "text": "beep", "bot_id": "B1"}),
    );
    emulator.push(
        json!({"type": "message", "subtype": "me_message", "channel": "C1", "ts": "1.2", "text": "waves"}),
    );
    emulator.push(
        json!({"type": "message", "subtype": "bot_message", "channel": "C1", "ts": "1.3", "text": "boop", "bot_id": "B1"}),
    );
    emulator.push(json!({"type": "bot_added", "bot": {"id": "B2"}}));
    sync_point(&emulator, &mut synced).await;
    running.stop().await.expect("clean shutdown");

    assert_eq!(BOT_MESSAGES.load(SeqCst), 2);
}

static SEEN_BY_CATCH_ALL: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[rtm_event(type = "*")]
async fn catch_all(event: Event) {
    SEEN_BY_CATCH_ALL.lock().unwrap().push(event.kind().to_owned());
}

#[tokio::test]
async fn catch_all_sees_every_event_in_order() {
    let (emulator, client) = setup().await;
    // Sequential, so the order the handler records is the arrival order.
    let dispatcher = RtmDispatcher::new(client)
        .handler::<catch_all>()
        .ordering(Ordering::Sequential);
    let (dispatcher, mut synced) = route_sync(dispatcher);
    let running = Running::start(dispatcher);

    emulator.push(team_join("U1"));
    emulator.message("C1", "U1", "hi");
    emulator.push(json!({"type": "reaction_added", "user": "U1", "reaction": "+1", "item": {"type": "message", "channel": "C1", "ts": "1.1"}}));
    emulator.push(json!({"type": "something_new_from_slack"}));
    sync_point(&emulator, &mut synced).await;
    running.stop().await.expect("clean shutdown");

    assert_eq!(
        *SEEN_BY_CATCH_ALL.lock().unwrap(),
        [
            "team_join",
            "message",
            "reaction_added",
            "something_new_from_slack",
            "sync"
        ]
    );
}

#[tokio::test]
async fn typed_parse_failure_goes_to_the_error_hook() {
    let (emulator, client) = setup().await;
    let (tx, mut joined) = recorder();
    let (error_tx, mut errors) = recorder();
    let dispatcher = RtmDispatcher::new(client)
        .on(Route::new("team_join"), move |join: TeamJoin| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(join.user.id);
            }
        })
        .on_error(move |error: &HandlerError| {
            let _ = error_tx.send(match error {
                HandlerError::Extract {
                    handler,
                    event_type,
                    source,
                } => {
                    format!("extract {event_type} {handler}: {source}")
                }
                other => format!("unexpected: {other}"),
            });
        });
    let running = Running::start(dispatcher);

    emulator.push(json!({"type": "team_join", "user": 42}));
    let error = next(&mut errors).await;
    assert!(error.starts_with("extract team_join "), "{error}");
    assert!(error.contains("TeamJoin"), "names the target type: {error}");

    // The dispatcher is still running.
    emulator.push(team_join("U7"));
    assert_eq!(next(&mut joined).await, "U7");
    running.stop().await.expect("clean shutdown");
    assert!(errors.try_recv().is_err(), "exactly one error");
}

#[tokio::test]
async fn handler_errors_and_panics_do_not_stop_other_handlers() {
    let (emulator, client) = setup().await;
    let (tx, mut handled) = recorder();
    let (error_tx, mut errors) = recorder();
    let dispatcher = RtmDispatcher::new(client)
        .on(Route::new("message"), |message: Message| async move {
            if text(&message) == "fail" {
                return Err::<(), BoxError>("refused".into());
            }
            panic!("boom on {}", text(&message));
        })
        .on(Route::new("message"), move |message: Message| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(text(&message));
            }
        })
        .on_error(move |error: &HandlerError| {
            let kind = match error {
                HandlerError::Panicked { message, .. } => format!("panic: {message}"),
                HandlerError::Failed { source, .. } => format!("failed: {source}"),
                other => format!("unexpected: {other}"),
            };
            let _ = error_tx.send((error.event_type().to_owned(), kind));
        });
    let running = Running::start(dispatcher);

    for text in ["one", "fail", "three"] {
        emulator.message("C1", "U1", text);
    }
    let mut texts = vec![
        next(&mut handled).await,
        next(&mut handled).await,
        next(&mut handled).await,
    ];
    texts.sort();
    assert_eq!(texts, ["fail", "one", "three"]);
    let mut reported = vec![
        next(&mut errors).await,
        next(&mut errors).await,
        next(&mut errors).await,
    ];
    reported.sort();
    assert_eq!(
        reported,
        [
            ("message".to_owned(), "failed: refused".to_owned()),
            ("message".to_owned(), "panic: boom on one".to_owned()),
            ("message".to_owned(), "panic: boom on three".to_owned()),
        ]
    );
    running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn reply_answers_in_the_events_channel() {
    let (emulator, client) = setup().await;
    let dispatcher = RtmDispatcher::new(client).on(
        Route::new("message"),
        |ctx: Context, message: Message| async move {
            assert_eq!(ctx.channel(), Some("C42"));
            assert_eq!(ctx.info().self_user.id, rtm_core::emulator::DEFAULT_SELF_ID);
            ctx.reply(&format!("echo: {}", text(&message))).await?;
            Ok::<(), BoxError>(())
        },
    );
    let running = Running::start(dispatcher);

    emulator.message("C42", "U1", "hello");
    let sent = within("the reply", emulator.wait_for_sent(1, rtm_tests::WAIT))
        .await
        .expect("a reply was sent");
    assert_eq!(sent[0]["channel"], "C42");
    assert_eq!(sent[0]["text"], "echo: hello");
    running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn concurrency_cap_is_respected() {
    const LIMIT: usize = 3;
    const EVENTS: usize = 20;
    let (emulator, client) = setup().await;
    let gate = Arc::new(Semaphore::new(0));
    let running_now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let dispatcher = RtmDispatcher::new(client)
        .concurrency_limit(LIMIT)
        .on(Route::new("message"), {
            let (gate, running_now, peak, started, finished) = (
                gate.clone(),
                running_now.clone(),
                peak.clone(),
                started.clone(),
                finished.clone(),
            );
            move |_: Event| {
                let (gate, running_now, peak, started, finished) = (
                    gate.clone(),
                    running_now.clone(),
                    peak.clone(),
                    started.clone(),
                    finished.clone(),
                );
                async move {
                    started.fetch_add(1, SeqCst);
                    let now = running_now.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    gate.acquire().await.expect("gate open").forget();
                    running_now.fetch_sub(1, SeqCst);
                    finished.fetch_add(1, SeqCst);
                }
            }
        });
    let running = Running::start(dispatcher);

    for i in 0..EVENTS {
        emulator.message("C1", "U1", &i.to_string());
    }
    eventually("the cap to fill", || started.load(SeqCst) == LIMIT).await;
    // Give a fourth call every chance to start, and the reader to move on if it would.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(started.load(SeqCst), LIMIT, "no call starts beyond the cap");

    gate.add_permits(EVENTS);
    eventually("every call to finish", || finished.load(SeqCst) == EVENTS).await;
    assert_eq!(peak.load(SeqCst), LIMIT);
    running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_handlers_then_disconnects() {
    let (emulator, client) = setup().await;
    let started = Arc::new(Semaphore::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let dispatcher = RtmDispatcher::new(client).on(Route::new("team_join"), {
        let (started, done) = (started.clone(), done.clone());
        move |ctx: Context, _: Event| {
            let (started, done) = (started.clone(), done.clone());
            async move {
                started.add_permits(1);
                tokio::time::sleep(Duration::from_millis(200)).await;
                // Sends still work during the drain: the client disconnects afterwards.
                ctx.client().send_message("C1", "bye").await?;
                done.store(true, SeqCst);
                Ok::<(), BoxError>(())
            }
        }
    });
    let running = Running::start(dispatcher);

    emulator.push(team_join("U1"));
    within("the handler to start", started.acquire())
        .await
        .expect("open")
        .forget();
    running.stop().await.expect("clean shutdown");
    assert!(
        done.load(SeqCst),
        "run_until returned before the handler finished"
    );
    eventually("the client to disconnect", || emulator.live_sockets() == 0).await;
}

#[tokio::test]
async fn shutdown_aborts_handlers_past_the_deadline() {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }

    let (emulator, client) = setup().await;
    let started = Arc::new(Semaphore::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let dispatcher = RtmDispatcher::new(client)
        .shutdown_timeout(Duration::from_millis(50))
        .on(Route::new("team_join"), {
            let (started, dropped) = (started.clone(), dropped.clone());
            move |_: Event| {
                let (started, dropped) = (started.clone(), dropped.clone());
                async move {
                    let _guard = SetOnDrop(dropped);
                    started.add_permits(1);
                    std::future::pending::<()>().await;
                }
            }
        });
    let running = Running::start(dispatcher);

    emulator.push(team_join("U1"));
    within("the handler to start", started.acquire())
        .await
        .expect("open")
        .forget();
    running.stop().await.expect("clean shutdown");
    assert!(dropped.load(SeqCst), "the stuck handler was aborted");
    eventually("the client to disconnect", || emulator.live_sockets() == 0).await;
}

#[tokio::test]
async fn run_returns_ok_on_close_and_err_on_a_fatal_error() {
    let (_emulator, client) = setup().await;
    let task = tokio::spawn(RtmDispatcher::new(client.clone()).run());
    client.disconnect().await;
    within("run to return", task)
        .await
        .expect("no panic")
        .expect("a requested close is Ok");

    let (emulator, client) = setup().await;
    let task = tokio::spawn(RtmDispatcher::new(client).run());
    emulator.revoke_token();
    let error = within("run to return", task)
        .await
        .expect("no panic")
        .expect_err("revoked token is fatal");
    assert_eq!(error.slack_code(), Some("token_revoked"), "{error}");
}

#[tokio::test]
async fn two_dispatchers_on_two_emulators_in_one_runtime() {
    let (emulator_a, client_a) = setup().await;
    let (emulator_b, client_b) = setup().await;
    let (tx, mut seen) = recorder();
    let handler = |name: &'static str, tx: mpsc::UnboundedSender<(&'static str, String)>| {
        move |message: Message| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((name, text(&message)));
            }
        }
    };
    let a = Running::start(RtmDispatcher::new(client_a).on(Route::new("message"), handler("a", tx.clone())));
    let b = Running::start(RtmDispatcher::new(client_b).on(Route::new("message"), handler("b", tx)));

    emulator_a.message("C1", "U1", "for a");
    emulator_b.message("C1", "U1", "for b");
    let mut got = vec![next(&mut seen).await, next(&mut seen).await];
    got.sort();
    assert_eq!(got, [("a", "for a".to_owned()), ("b", "for b".to_owned())]);

    a.stop().await.expect("a stops cleanly");
    // b is unaffected by a's shutdown.
    emulator_b.message("C1", "U1", "still b");
    assert_eq!(next(&mut seen).await, ("b", "still b".to_owned()));
    b.stop().await.expect("b stops cleanly");
}

#[tokio::test]
async fn per_channel_ordering_keeps_each_channels_order() {
    const PER_CHANNEL: usize = 8;
    let (emulator, client) = setup().await;
    let log = Arc::new(Mutex::new(Vec::<(String, usize)>::new()));
    let running_now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let dispatcher = RtmDispatcher::new(client)
        .ordering(Ordering::PerChannel)
        .on(Route::new("message"), {
            let (log, running_now, peak) = (log.clone(), running_now.clone(), peak.clone());
            move |message: Message| {
                let (log, running_now, peak) = (log.clone(), running_now.clone(), peak.clone());
                async move {
                    let now = running_now.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    let index: usize = text(&message).parse().expect("numbered");
                    // Earlier messages take longer: under `Concurrent` they would finish last.
                    tokio::time::sleep(Duration::from_millis(2 * (PER_CHANNEL - index) as u64)).await;
                    log.lock().unwrap().push((message.channel, index));
                    running_now.fetch_sub(1, SeqCst);
                }
            }
        });
    let running = Running::start(dispatcher);

    for i in 0..PER_CHANNEL {
        emulator.message("C1", "U1", &i.to_string());
        emulator.message("C2", "U1", &i.to_string());
    }
    eventually("every message to be handled", || {
        log.lock().unwrap().len() == 2 * PER_CHANNEL
    })
    .await;
    running.stop().await.expect("clean shutdown");

    let log = log.lock().unwrap();
    for channel in ["C1", "C2"] {
        let order: Vec<usize> = log
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, i)| *i)
            .collect();
        assert_eq!(order, (0..PER_CHANNEL).collect::<Vec<_>>(), "order in {channel}");
    }
    assert_eq!(
        peak.load(SeqCst),
        2,
        "the two channels ran concurrently, each one at a time"
    );
}

#[tokio::test]
async fn sequential_ordering_runs_one_call_at_a_time() {
    let (emulator, client) = setup().await;
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let running_now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let dispatcher = RtmDispatcher::new(client)
        .ordering(Ordering::Sequential)
        .on(Route::new("message"), {
            let (log, running_now, peak) = (log.clone(), running_now.clone(), peak.clone());
            move |message: Message| {
                let (log, running_now, peak) = (log.clone(), running_now.clone(), peak.clone());
                async move {
                    peak.fetch_max(running_now.fetch_add(1, SeqCst) + 1, SeqCst);
                    tokio::task::yield_now().await;
                    log.lock().unwrap().push(text(&message));
                    running_now.fetch_sub(1, SeqCst);
                }
            }
        });
    let running = Running::start(dispatcher);

    let sent: Vec<String> = (0..6).map(|i| format!("{i}")).collect();
    for (i, text) in sent.iter().enumerate() {
        emulator.message(if i % 2 == 0 { "C1" } else { "C2" }, "U1", text);
    }
    eventually("every message to be handled", || {
        log.lock().unwrap().len() == sent.len()
    })
    .await;
    running.stop().await.expect("clean shutdown");
    assert_eq!(*log.lock().unwrap(), sent);
    assert_eq!(peak.load(SeqCst), 1);
}

/// Handlers that await their reply while the server floods events: replies travel behind
/// events, so a full event buffer must not stop the client from reading them (before this
/// was handled, every call waited for its reply timeout).
#[tokio::test]
async fn handlers_awaiting_replies_never_deadlock_behind_a_full_buffer() {
    let emulator = emulator().await;
    let client = rtm_tests::connect_with(rtm_tests::config(&emulator).event_buffer(8)).await;
    async fn echo(ctx: Context, message: Message) -> Result<(), BoxError> {
        if message.user.as_deref() == Some("U1") {
            ctx.reply(message.text.as_deref().unwrap_or_default()).await?;
        }
        Ok(())
    }
    let running = Running::start(
        RtmDispatcher::new(client)
            .concurrency_limit(2)
            .on(Route::new("message"), echo),
    );
    for i in 0..300 {
        emulator.message("C1", "U1", &i.to_string());
    }
    // Well under one reply timeout (5 s in the test config) for all 300 round trips.
    let sent = within("300 echoes", emulator.wait_for_sent(300, Duration::from_secs(4))).await;
    assert!(
        sent.is_ok(),
        "echoes stalled behind the full buffer: {:?}",
        sent.err().map(|e| e.received().len())
    );
    running.stop().await.unwrap();
}

/// The application state of the state tests: a log shared by every call, and a name that
/// handlers can take on its own (`FromRef`).
#[derive(Clone, Default)]
struct AppState {
    log: Arc<Mutex<Vec<String>>>,
    name: BotName,
}

#[derive(Clone, Default)]
struct BotName(&'static str);

impl FromRef<AppState> for BotName {
    fn from_ref(state: &AppState) -> BotName {
        state.name.clone()
    }
}

#[rtm_event(type = "message")]
async fn log_with_state(
    ctx: Context,
    State(state): State<AppState>,
    State(BotName(name)): State<BotName>,
    message: Message,
) {
    assert!(ctx.channel().is_some());
    state
        .log
        .lock()
        .unwrap()
        .push(format!("{name}: {}", text(&message)));
}

#[tokio::test]
async fn state_reaches_handlers_whole_and_by_part() {
    let (emulator, client) = setup().await;
    let state = AppState {
        name: BotName("rtmbot"),
        ..AppState::default()
    };
    let dispatcher = RtmDispatcher::new(client)
        .ordering(Ordering::Sequential)
        .with_state(state.clone())
        .handler::<log_with_state>()
        .on(
            Route::new("team_join"),
            |State(state): State<AppState>, join: TeamJoin| async move {
                state
                    .log
                    .lock()
                    .unwrap()
                    .push(format!("joined: {}", join.user.id));
            },
        );
    assert_eq!(dispatcher.state().name.0, "rtmbot");
    let (dispatcher, mut synced) = route_sync(dispatcher);
    let running = Running::start(dispatcher);

    emulator.message("C1", "U1", "one");
    emulator.push(team_join("U2"));
    emulator.message("C1", "U1", "two");
    sync_point(&emulator, &mut synced).await;
    running.stop().await.expect("clean shutdown");

    assert_eq!(
        *state.log.lock().unwrap(),
        ["rtmbot: one", "joined: U2", "rtmbot: two"]
    );
}

#[tokio::test]
async fn message_routes_skip_the_bots_own_messages_unless_asked() {
    let (emulator, client) = setup().await;
    let me = client.info().self_user.id.clone();
    let (plain_tx, mut plain) = recorder();
    let (own_tx, mut own) = recorder();
    let (any_tx, mut any) = recorder();
    let dispatcher = RtmDispatcher::new(client)
        .ordering(Ordering::Sequential)
        .on(Route::new("message"), move |message: Message| {
            let tx = plain_tx.clone();
            async move {
                let _ = tx.send(text(&message));
            }
        })
        .on(
            Route::new("message").with_own_messages(),
            move |message: Message| {
                let tx = own_tx.clone();
                async move {
                    let _ = tx.send(text(&message));
                }
            },
        )
        .on(Route::any(), move |event: Event| {
            let tx = any_tx.clone();
            async move {
                let _ = tx.send(event.kind().to_owned());
            }
        });
    let (dispatcher, mut synced) = route_sync(dispatcher);
    let running = Running::start(dispatcher);

    emulator.message("C1", &me, "mine");
    emulator.message("C1", "U1", "theirs");
    sync_point(&emulator, &mut synced).await;
    running.stop().await.expect("clean shutdown");

    let drain = |rx: &mut mpsc::UnboundedReceiver<String>| {
        let mut all = Vec::new();
        while let Ok(item) = rx.try_recv() {
            all.push(item);
        }
        all
    };
    assert_eq!(drain(&mut plain), ["theirs"]);
    assert_eq!(drain(&mut own), ["mine", "theirs"]);
    assert_eq!(drain(&mut any), ["message", "message", "sync"]);
}

#[tokio::test]
async fn reply_in_thread_sends_the_events_thread() {
    let (emulator, client) = setup().await;
    let dispatcher = RtmDispatcher::new(client).on(
        Route::new("message"),
        |ctx: Context, message: Message| async move {
            ctx.reply_in_thread(&format!("re: {}", text(&message))).await?;
            Ok::<(), BoxError>(())
        },
    );
    let running = Running::start(dispatcher);

    let question = emulator.message("C7", "U1", "question");
    let sent = within("the reply", emulator.wait_for_sent(1, rtm_tests::WAIT))
        .await
        .expect("a reply was sent");
    assert_eq!(sent[0]["type"], "message");
    assert_eq!(sent[0]["channel"], "C7");
    assert_eq!(sent[0]["text"], "re: question");
    assert_eq!(sent[0]["thread_ts"], question["ts"]);
    running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn async_error_hook_can_tell_the_user_in_the_channel() {
    let (emulator, client) = setup().await;
    let dispatcher = RtmDispatcher::new(client)
        .on(Route::new("message"), |_: Message| async {
            Err::<(), _>("the database is down")
        })
        .on_error_async(|error: HandlerError, ctx: Context| async move {
            let _ = ctx.reply(&format!("sorry: {}", error.event_type())).await;
        });
    let running = Running::start(dispatcher);

    emulator.message("C9", "U1", "save this");
    let sent = within("the apology", emulator.wait_for_sent(1, rtm_tests::WAIT))
        .await
        .expect("the hook replied");
    assert_eq!(sent[0]["channel"], "C9");
    assert_eq!(sent[0]["text"], "sorry: message");
    running.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn probe_waits_for_every_call_and_reports_failures() {
    let (emulator, client) = setup().await;
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let (dispatcher, probe) = RtmDispatcher::new(client)
        .on(Route::new("message"), move |message: Message| {
            let counter = Arc::clone(&counter);
            async move {
                // Slow enough that a test without the probe would look too early.
                tokio::time::sleep(Duration::from_millis(50)).await;
                counter.fetch_add(1, SeqCst);
                if text(&message) == "bad" {
                    return Err("cannot handle `bad`");
                }
                Ok(())
            }
        })
        .on(Route::any(), |event: Event| async move {
            assert_ne!(
                event.kind(),
                "rtm_dispatcher_probe_sync",
                "handlers never see the marker"
            );
        })
        .with_probe();
    let running = Running::start(dispatcher);

    emulator.message("C1", "U1", "good");
    emulator.message("C1", "U1", "bad");
    emulator.message("C1", "U1", "good");
    emulator.push(probe.sync_event());
    let errors = within("the dispatcher to settle", probe.settled()).await;
    assert_eq!(handled.load(SeqCst), 3);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("cannot handle `bad`"), "{errors:?}");
    let messages: Vec<_> = emulator
        .sent()
        .into_iter()
        .filter(|frame| frame["type"] == "message")
        .collect();
    assert!(messages.is_empty(), "no handler sent a message: {messages:?}");

    emulator.message("C1", "U1", "good");
    emulator.push(probe.sync_event());
    assert_eq!(
        within("the dispatcher to settle", probe.settled()).await,
        Vec::<String>::new()
    );
    assert_eq!(handled.load(SeqCst), 4);
    running.stop().await.expect("clean shutdown");
}

/// The line a handler logs at INFO, with a subscriber at `level` that outlives the runtime
/// (so that every span, the connection's included, closes where it was opened).
fn handler_log_line(level: tracing::Level) -> String {
    let (logs, _guard) = CapturedLogs::install(level);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (emulator, client) = setup().await;
        let (tx, mut joined) = recorder();
        let dispatcher = RtmDispatcher::new(client).on(Route::new("team_join"), move |_: TeamJoin| {
            let tx = tx.clone();
            async move {
                tracing::info!("welcoming the new member");
                let _ = tx.send(());
            }
        });
        let running = Running::start(dispatcher);
        emulator.push(team_join("U0NEW"));
        next(&mut joined).await;
        running.stop().await.unwrap();
    });
    drop(runtime);
    let text = logs.text();
    text.lines()
        .find(|line| line.contains("welcoming the new member"))
        .unwrap_or_else(|| panic!("the handler's log at {level}: {text}"))
        .to_owned()
}

#[test]
fn a_handlers_logs_carry_its_span_when_rtm_core_logs_at_debug() {
    // The span names the handler's event type; it is at DEBUG, so that a subscriber
    // recording INFO does not pay for a span per event.
    let line = handler_log_line(tracing::Level::DEBUG);
    assert!(
        line.contains("rtm_handler{") && line.contains("event.type=team_join"),
        "{line}"
    );
    let line = handler_log_line(tracing::Level::INFO);
    assert!(!line.contains("rtm_handler{"), "{line}");
}
