//! Gateways and workers against a real `nats-server -js` and the bundled Slack emulator,
//! all on 127.0.0.1. Each test starts its own server (random port, temporary store).
//!
//! Without a `nats-server` binary these tests print why and pass, unless
//! `RTM_REQUIRE_NATS=1` (set by `.ci/run`, which installs the server), where they fail.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream;
use futures::StreamExt;
use rtm_core::{
    Answered, BoxError, ClientConfig, Context, Event, RtmClient, RtmDispatcher, SocketModeClient, State,
    WebClient,
    emulator::Emulator,
    events::Message,
    interactive::{MessageResponse, SlashCommand},
    rtm_event, slash_command,
};
use rtm_jetstream::{DELIVERIES_HEADER, ERROR_HEADER, Gateway, JetStreamConfig, NatsServer, Worker};

const CHANNEL: &str = "C0GENERAL";

/// A real server, or `None` (test skipped) when none is installed and CI does not require it.
async fn nats() -> Option<NatsServer> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    match NatsServer::start().await {
        Ok(server) => Some(server),
        Err(error) if std::env::var_os("RTM_REQUIRE_NATS").is_none() => {
            eprintln!("SKIPPED: {error}");
            None
        }
        Err(error) => panic!("RTM_REQUIRE_NATS is set but: {error}"),
    }
}

async fn within<F: std::future::Future>(what: &str, limit: Duration, fut: F) -> F::Output {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
}

/// Waits until `done()` holds, checking every 20 ms, for at most `limit`.
async fn eventually(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    within(what, limit, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn bot_config(emulator: &Emulator) -> ClientConfig {
    ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .keepalive_interval(Duration::from_millis(200))
        .keepalive_timeout(Duration::from_secs(2))
        .build()
        .expect("valid config")
}

/// A Socket Mode client for a gateway: acks only once the gateway stored the event.
async fn socket_mode(emulator: &Emulator) -> SocketModeClient {
    gateway_client(&emulator.api_url(), emulator.app_token(), emulator.token()).await
}

/// As [`socket_mode`], from the emulator's Web API URL and tokens (what a gateway process gets).
async fn gateway_client(api_url: &str, app_token: &str, bot_token: &str) -> SocketModeClient {
    let config = ClientConfig::builder(bot_token)
        .api_url(api_url)
        .keepalive_interval(Duration::from_millis(200))
        .keepalive_timeout(Duration::from_secs(2))
        .manual_acks(true)
        .build()
        .expect("valid config");
    SocketModeClient::connect(app_token, config)
        .await
        .expect("socket mode connects")
}

fn message(text: &str, ts: u64) -> serde_json::Value {
    serde_json::json!({"type": "message", "channel": CHANNEL, "user": "U0ALICE", "text": text, "ts": format!("{ts}.000100")})
}

/// How many times each text was handled.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<HashMap<String, usize>>>);

impl Seen {
    fn distinct(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn count(&self, text: &str) -> usize {
        self.0.lock().unwrap().get(text).copied().unwrap_or(0)
    }
    fn most(&self) -> usize {
        self.0.lock().unwrap().values().copied().max().unwrap_or(0)
    }
}

#[rtm_event(type = "message")]
async fn record(State(seen): State<Seen>, message: Message) {
    *seen
        .0
        .lock()
        .unwrap()
        .entry(message.text.unwrap_or_default())
        .or_default() += 1;
}

fn recording_handlers(seen: &Seen) -> rtm_core::Handlers {
    RtmDispatcher::detached()
        .with_state(seen.clone())
        .handler::<record>()
        .into_handlers()
}

/// A Socket Mode client on `emulator` and a gateway storing what it reads, on a task of its
/// own.
async fn socket_mode_gateway(
    server: &NatsServer,
    emulator: &Emulator,
    config: JetStreamConfig,
) -> tokio::task::JoinHandle<Result<(), rtm_jetstream::JetStreamError>> {
    let client = socket_mode(emulator).await;
    let gateway = Gateway::connect(server.url(), config).await.unwrap();
    tokio::spawn(async move { gateway.run_socket_mode(&client).await })
}

fn spawn_worker(
    worker: Worker,
    handlers: rtm_core::Handlers,
) -> tokio::task::JoinHandle<Result<(), rtm_jetstream::JetStreamError>> {
    tokio::spawn(worker.run(handlers))
}

async fn stream_messages(server: &NatsServer, stream: &str) -> u64 {
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    js.get_stream(stream)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gateway_and_three_workers_handle_ten_thousand_events_once() {
    let Some(server) = nats().await else { return };
    let emulator = Emulator::start().await.unwrap();
    let client = socket_mode(&emulator).await;
    let gateway = Gateway::connect(server.url(), JetStreamConfig::default())
        .await
        .unwrap();
    let seen = Seen::default();
    let mut workers = Vec::new();
    for _ in 0..3 {
        let worker = Worker::connect(server.url(), JetStreamConfig::default())
            .await
            .unwrap();
        workers.push(spawn_worker(worker, recording_handlers(&seen)));
    }

    // The whole burst is buffered before the gateway reads, so its first read is one batch
    // larger than async-nats's 5,000 unconfirmed publishes (a gateway that published a
    // batch whole before awaiting confirmations waited on itself forever).
    const N: u64 = 10_000;
    for n in 0..N {
        emulator.push_event_envelope(message(&n.to_string(), 1_700_000_000 + n));
    }
    eventually("the client buffered the burst", Duration::from_secs(30), || {
        client.stats().events >= N
    })
    .await;
    let gateway_task = tokio::spawn({
        let (gateway, client) = (gateway.clone(), client.clone());
        async move { gateway.run_socket_mode(&client).await }
    });
    eventually("every event handled", Duration::from_secs(120), || {
        seen.distinct() == N as usize
    })
    .await;
    // Let any duplicate that was on its way arrive before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.distinct(), N as usize);
    assert_eq!(seen.most(), 1, "no event was handled twice");
    assert_eq!(
        stream_messages(&server, "SLACK_EVENTS").await,
        N,
        "each event stored once"
    );

    client.disconnect().await;
    within("gateway stops", Duration::from_secs(10), gateway_task)
        .await
        .unwrap()
        .unwrap();
    for worker in workers {
        worker.abort();
    }
}

#[rtm_event(type = "message")]
async fn always_fails(State(seen): State<Seen>, message: Message) -> Result<(), BoxError> {
    *seen
        .0
        .lock()
        .unwrap()
        .entry(message.text.unwrap_or_default())
        .or_default() += 1;
    Err("the database is down".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_always_fails_sends_the_event_to_the_dead_letters_with_the_error() {
    let Some(server) = nats().await else { return };
    let emulator = Emulator::start().await.unwrap();
    let config = || {
        JetStreamConfig::builder()
            .max_deliver(3)
            .backoff([Duration::from_millis(50)])
            .build()
    };
    let _gateway = socket_mode_gateway(&server, &emulator, config()).await;
    let seen = Seen::default();
    let handlers = RtmDispatcher::detached()
        .with_state(seen.clone())
        .handler::<always_fails>()
        .into_handlers();
    let worker = spawn_worker(Worker::connect(server.url(), config()).await.unwrap(), handlers);

    emulator.push_event_envelope(message("poison", 1));
    let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let dead = js.get_stream("SLACK_DEAD_LETTERS").await.unwrap();
    let consumer = dead
        .create_consumer(jetstream::consumer::pull::Config::default())
        .await
        .unwrap();
    let mut letters = consumer.messages().await.unwrap();
    let letter = within("a dead letter", Duration::from_secs(20), letters.next())
        .await
        .unwrap()
        .unwrap();
    let headers = letter.headers.clone().unwrap();
    assert!(
        headers
            .get(ERROR_HEADER)
            .unwrap()
            .as_str()
            .contains("the database is down"),
        "{headers:?}"
    );
    assert_eq!(headers.get(DELIVERIES_HEADER).unwrap().as_str(), "3");
    let event = Event::from_json(std::str::from_utf8(&letter.payload).unwrap()).unwrap();
    assert_eq!(event.parse::<Message>().unwrap().text.as_deref(), Some("poison"));
    assert!(
        letter.subject.starts_with("slack-dead.slack."),
        "{}",
        letter.subject
    );
    // Three deliveries, then never again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen.count("poison"), 3);
    worker.abort();
}

#[rtm_event(type = "message")]
async fn slow(State(seen): State<Seen>, message: Message) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    *seen
        .0
        .lock()
        .unwrap()
        .entry(message.text.unwrap_or_default())
        .or_default() += 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_longer_than_the_ack_wait_is_not_redelivered_while_it_runs() {
    let Some(server) = nats().await else { return };
    let emulator = Emulator::start().await.unwrap();
    let config = || {
        JetStreamConfig::builder()
            .ack_wait(Duration::from_millis(300))
            .build()
    };
    let _gateway = socket_mode_gateway(&server, &emulator, config()).await;
    let seen = Seen::default();
    let slow_handlers = || {
        RtmDispatcher::detached()
            .with_state(seen.clone())
            .handler::<slow>()
            .into_handlers()
    };
    // Two workers: a redelivery would reach the idle one at once.
    let a = spawn_worker(
        Worker::connect(server.url(), config()).await.unwrap(),
        slow_handlers(),
    );
    let b = spawn_worker(
        Worker::connect(server.url(), config()).await.unwrap(),
        slow_handlers(),
    );

    emulator.push_event_envelope(message("long", 1));
    eventually("the slow handler finished", Duration::from_secs(10), || {
        seen.count("long") == 1
    })
    .await;
    // Five ack waits after it started: a redelivery would have run (and finished) by now.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        seen.count("long"),
        1,
        "handled once, although it ran for 5 ack waits"
    );
    a.abort();
    b.abort();
}

#[rtm_event(type = "message")]
async fn echo(ctx: Context, message: Message) -> Result<(), BoxError> {
    let reply = ctx
        .reply(&format!("echo: {}", message.text.unwrap_or_default()))
        .await?;
    assert!(reply.ts.is_some(), "the reply carries Slack's ts");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_answers_an_rtm_event_through_the_gateway_holding_the_socket() {
    let Some(server) = nats().await else { return };
    let emulator = Emulator::start().await.unwrap();
    let client = RtmClient::connect(bot_config(&emulator)).await.unwrap();
    let gateway = Gateway::connect(server.url(), JetStreamConfig::default())
        .await
        .unwrap();
    let _gateway = tokio::spawn({
        let client = client.clone();
        async move { gateway.run_rtm(&client).await }
    });
    let seen = Seen::default();
    let handlers = RtmDispatcher::detached()
        .with_state(seen.clone())
        .handler::<echo>()
        .handler::<record>()
        .into_handlers();
    let worker = spawn_worker(
        Worker::connect(server.url(), JetStreamConfig::default())
            .await
            .unwrap(),
        handlers,
    );

    emulator.push(emulator.message(CHANNEL, "U0ALICE", "hello"));
    eventually(
        "the echo was sent on the RTM socket",
        Duration::from_secs(10),
        || {
            emulator
                .sent()
                .iter()
                .any(|frame| frame["text"] == "echo: hello" && frame["channel"] == CHANNEL)
        },
    )
    .await;
    // The echo handler succeeded (its reply resolved with a ts), so nothing is redelivered
    // and the echo's own message is not answered (own messages are skipped).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.count("hello"), 1);
    assert_eq!(
        emulator
            .sent()
            .iter()
            .filter(|f| f["text"] == "echo: hello")
            .count(),
        1
    );
    worker.abort();
}

#[slash_command("/deploy")]
async fn deploy(ctx: Context, command: SlashCommand) -> Result<(), BoxError> {
    let answered = ctx
        .respond(&MessageResponse::ephemeral(format!("deploying {}", command.text)))
        .await?;
    // The gateway acked the envelope when it was stored: the answer takes the slow way.
    assert_eq!(answered, Answered::ResponseUrl);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_answers_a_slash_command_through_its_response_url() {
    let Some(server) = nats().await else { return };
    let emulator = Emulator::start().await.unwrap();
    let _gateway = socket_mode_gateway(&server, &emulator, JetStreamConfig::default()).await;
    let web = WebClient::builder(emulator.token())
        .api_url(emulator.api_url())
        .build()
        .unwrap();
    let failures = Arc::new(Mutex::new(Vec::new()));
    let handlers = RtmDispatcher::detached()
        .handler::<deploy>()
        .on_error({
            let failures = failures.clone();
            move |error| failures.lock().unwrap().push(error.to_string())
        })
        .into_handlers();
    let worker = spawn_worker(
        Worker::connect(server.url(), JetStreamConfig::default())
            .await
            .unwrap()
            .web(web),
        handlers,
    );

    let envelope_id = emulator.push_slash_command("/deploy", "v42", "U0ALICE", CHANNEL);
    let posts = emulator
        .wait_for_response_url_posts(1, Duration::from_secs(10))
        .await
        .expect("the worker's answer reached the response_url");
    assert_eq!(posts[0].envelope_id, envelope_id);
    assert_eq!(posts[0].body["text"], "deploying v42", "{:?}", posts[0].body);
    assert_eq!(posts[0].body["response_type"], "ephemeral");
    assert!(posts[0].accepted);
    let acks: Vec<_> = emulator
        .acks()
        .into_iter()
        .filter(|ack| ack["envelope_id"] == envelope_id)
        .collect();
    assert_eq!(acks.len(), 1, "acked once, by the gateway: {acks:?}");
    assert!(acks[0].get("payload").is_none(), "an empty ack: {acks:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(failures.lock().unwrap().is_empty(), "{failures:?}");
    assert_eq!(emulator.response_url_posts().len(), 1, "answered once");
    worker.abort();
}

/// State of the worker process the kill test starts: where it reports what it finished.
#[derive(Clone)]
struct Reporter(async_nats::Client);

#[rtm_event(type = "message")]
async fn report_done(State(Reporter(nats)): State<Reporter>, message: Message) -> Result<(), BoxError> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    nats.publish("test.done", message.text.unwrap_or_default().into())
        .await?;
    nats.flush().await?;
    Ok(())
}

/// Not a test of its own: the worker process `a_worker_killed_with_sigkill…` starts and kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of a_worker_killed_with_sigkill_loses_nothing"]
async fn worker_process() {
    let Ok(url) = std::env::var("RTM_TEST_NATS_URL") else {
        return;
    };
    let config = JetStreamConfig::builder()
        .ack_wait(Duration::from_secs(1))
        .build();
    let nats = async_nats::connect(&url).await.unwrap();
    let handlers = RtmDispatcher::detached()
        .with_state(Reporter(nats))
        .handler::<report_done>()
        .into_handlers();
    let worker = Worker::connect(&url, config).await.unwrap().concurrency(16);
    worker.run(handlers).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_with_sigkill_loses_nothing() {
    let Some(server) = nats().await else { return };
    let emulator = Emulator::start().await.unwrap();
    let config = || {
        JetStreamConfig::builder()
            .ack_wait(Duration::from_secs(1))
            .build()
    };
    let _gateway = socket_mode_gateway(&server, &emulator, config()).await;

    let watcher = async_nats::connect(server.url()).await.unwrap();
    let mut done_there = watcher.subscribe("test.done").await.unwrap();
    watcher.flush().await.unwrap();
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["worker_process", "--exact", "--ignored", "--quiet"])
        .env("RTM_TEST_NATS_URL", server.url())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    const N: usize = 400;
    for n in 0..N {
        emulator.push_event_envelope(message(&n.to_string(), 1_700_000_000 + n as u64));
    }
    let mut finished_there = std::collections::HashSet::new();
    within(
        "the worker process finished some events",
        Duration::from_secs(30),
        async {
            while finished_there.len() < 40 {
                let done = done_there.next().await.unwrap();
                finished_there.insert(String::from_utf8(done.payload.to_vec()).unwrap());
            }
        },
    )
    .await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    while let Ok(Some(done)) = tokio::time::timeout(Duration::from_millis(100), done_there.next()).await {
        finished_there.insert(String::from_utf8(done.payload.to_vec()).unwrap());
    }
    assert!(finished_there.len() < N, "the kill came mid-burst");

    let seen = Seen::default();
    let survivor = spawn_worker(
        Worker::connect(server.url(), config()).await.unwrap(),
        recording_handlers(&seen),
    );
    eventually("every event finished somewhere", Duration::from_secs(30), || {
        (0..N).all(|n| {
            let text = n.to_string();
            finished_there.contains(&text) || seen.count(&text) > 0
        })
    })
    .await;
    // Everything the dead worker did not finish was handled by the survivor.
    assert!(seen.distinct() >= N - finished_there.len());
    survivor.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtm_gateway_that_dies_hands_its_workspace_to_another_within_the_lease() {
    let Some(server) = nats().await else { return };
    let emulator = Emulator::start().await.unwrap();
    let lease = Duration::from_millis(900);
    let workspaces = vec![rtm_jetstream::Workspace::new("W1", bot_config(&emulator))];
    let first = Gateway::connect(server.url(), JetStreamConfig::default())
        .await
        .unwrap();
    let first = tokio::spawn({
        let workspaces = workspaces.clone();
        async move { first.run_rtm_leased(workspaces, lease).await }
    });
    eventually("the first gateway connected", Duration::from_secs(10), || {
        emulator.live_sockets() == 1
    })
    .await;
    let second = Gateway::connect(server.url(), JetStreamConfig::default())
        .await
        .unwrap();
    let _second = tokio::spawn(async move { second.run_rtm_leased(workspaces, lease).await });
    let seen = Seen::default();
    let worker = spawn_worker(
        Worker::connect(server.url(), JetStreamConfig::default())
            .await
            .unwrap(),
        recording_handlers(&seen),
    );

    emulator.push(emulator.message(CHANNEL, "U0ALICE", "before"));
    eventually(
        "an event through the first gateway",
        Duration::from_secs(10),
        || seen.count("before") == 1,
    )
    .await;
    // Two lease periods: the second gateway never connected while the first held the lease.
    tokio::time::sleep(lease * 2).await;
    assert_eq!(emulator.connect_calls(), 1, "one gateway per workspace");

    first.abort();
    let died = tokio::time::Instant::now();
    eventually("the second gateway took over", Duration::from_secs(10), || {
        emulator.connect_calls() == 2
    })
    .await;
    let took = died.elapsed();
    assert!(
        took <= lease * 2,
        "took over {took:?} after the first gateway died (lease {lease:?})"
    );
    eventually("the new socket is up", Duration::from_secs(10), || {
        emulator.live_sockets() == 1
    })
    .await;
    emulator.push(emulator.message(CHANNEL, "U0ALICE", "after"));
    eventually(
        "an event through the second gateway",
        Duration::from_secs(10),
        || seen.count("after") == 1,
    )
    .await;
    worker.abort();
}

/// Each channel's texts in the order handlers got them.
#[derive(Clone, Default)]
struct Order(Arc<Mutex<HashMap<String, Vec<u64>>>>);

#[rtm_event(type = "message")]
async fn in_order(State(order): State<Order>, message: Message) {
    // A little work, so that a handler for a later event could overtake this one.
    tokio::time::sleep(Duration::from_millis(u64::from(fastrand_like(&message.ts)) % 3)).await;
    let n = message.text.unwrap_or_default().parse().unwrap();
    order
        .0
        .lock()
        .unwrap()
        .entry(message.channel)
        .or_default()
        .push(n);
}

/// A cheap varying delay from the message's `ts`.
fn fastrand_like(ts: &str) -> u8 {
    ts.bytes().fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_workers_handle_each_channel_in_order() {
    let Some(server) = nats().await else { return };
    let emulator = Emulator::start().await.unwrap();
    let _gateway = socket_mode_gateway(&server, &emulator, JetStreamConfig::default()).await;
    let order = Order::default();
    let mut workers = Vec::new();
    for _ in 0..3 {
        let handlers = RtmDispatcher::detached()
            .with_state(order.clone())
            .handler::<in_order>()
            .into_handlers();
        let worker = Worker::connect(server.url(), JetStreamConfig::default())
            .await
            .unwrap()
            .ordered(true);
        workers.push(spawn_worker(worker, handlers));
    }
    const PER_CHANNEL: u64 = 100;
    let channels = ["C1", "C2", "C3", "C4"];
    for n in 0..PER_CHANNEL {
        for channel in channels {
            emulator.push_event_envelope(serde_json::json!({
                "type": "message", "channel": channel, "user": "U0ALICE", "text": n.to_string(), "ts": format!("{n}.{channel}"),
            }));
        }
    }
    let total = || order.0.lock().unwrap().values().map(Vec::len).sum::<usize>();
    eventually("every event handled", Duration::from_secs(60), || {
        total() == channels.len() * PER_CHANNEL as usize
    })
    .await;
    for (channel, seen) in order.0.lock().unwrap().iter() {
        assert_eq!(
            *seen,
            (0..PER_CHANNEL).collect::<Vec<_>>(),
            "channel {channel} out of order"
        );
    }
    for worker in workers {
        worker.abort();
    }
}

/// Where the Socket Mode gateway process says it is live (both sockets open, NATS connected).
const GATEWAY_READY: &str = "test.gateway.ready";

/// Not a test of its own: the Socket Mode gateway process
/// `a_socket_mode_gateway_killed_mid_burst…` starts and kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of a_socket_mode_gateway_killed_mid_burst_loses_nothing_and_its_retries_are_stored_once"]
async fn socket_mode_gateway_process() {
    let var = |name: &str| std::env::var(name).ok();
    let (Some(nats_url), Some(api_url), Some(app_token), Some(bot_token)) = (
        var("RTM_TEST_GATEWAY_NATS_URL"),
        var("RTM_TEST_SLACK_API_URL"),
        var("RTM_TEST_SLACK_APP_TOKEN"),
        var("RTM_TEST_SLACK_BOT_TOKEN"),
    ) else {
        return;
    };
    // Straight to stderr (the parent's), not to the test harness's capture.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let client = gateway_client(&api_url, &app_token, &bot_token).await;
    eventually(
        "both sockets of the gateway process open",
        Duration::from_secs(10),
        || client.open_sockets() == 2,
    )
    .await;
    let gateway = Gateway::connect(&nats_url, JetStreamConfig::default())
        .await
        .unwrap();
    let nats = async_nats::connect(&nats_url).await.unwrap();
    nats.publish(GATEWAY_READY, "".into()).await.unwrap();
    nats.flush().await.unwrap();
    gateway.run_socket_mode(&client).await.unwrap();
}

/// Messages in `stream` now.
async fn stored(js: &jetstream::Context, stream: &str) -> u64 {
    js.get_stream(stream)
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap()
        .state
        .messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_mode_gateway_killed_mid_burst_loses_nothing_and_its_retries_are_stored_once() {
    let Some(server) = nats().await else { return };
    // Slack's retries, compressed: an envelope not acked within 500 ms comes back.
    let emulator = Emulator::builder()
        .socket_mode_retries(
            Duration::from_millis(500),
            [
                Duration::from_millis(50),
                Duration::from_millis(500),
                Duration::from_secs(1),
            ],
        )
        .start()
        .await
        .unwrap();
    let survivor = socket_mode(&emulator).await;
    let _survivor_gateway = tokio::spawn({
        let (url, survivor) = (server.url().to_owned(), survivor.clone());
        async move {
            let gateway = Gateway::connect(&url, JetStreamConfig::default()).await.unwrap();
            gateway.run_socket_mode(&survivor).await
        }
    });
    let seen = Seen::default();
    let worker = spawn_worker(
        Worker::connect(server.url(), JetStreamConfig::default())
            .await
            .unwrap(),
        recording_handlers(&seen),
    );

    // The doomed gateway: a process of its own, with its own two sockets.
    let watcher = async_nats::connect(server.url()).await.unwrap();
    let mut ready = watcher.subscribe(GATEWAY_READY).await.unwrap();
    watcher.flush().await.unwrap();
    let mut doomed = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["socket_mode_gateway_process", "--exact", "--ignored", "--quiet"])
        .env("RTM_TEST_GATEWAY_NATS_URL", server.url())
        .env("RTM_TEST_SLACK_API_URL", emulator.api_url())
        .env("RTM_TEST_SLACK_APP_TOKEN", emulator.app_token())
        .env("RTM_TEST_SLACK_BOT_TOKEN", emulator.token())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    within("the gateway process is live", Duration::from_secs(30), async {
        tokio::select! {
            live = ready.next() => live.expect("the watcher's subscription is open"),
            status = doomed.wait() => panic!("the gateway process ended before it was live: {status:?}"),
        }
    })
    .await;
    // Both processes' sockets are open: envelopes go round-robin over all four.
    assert!(
        emulator
            .wait_for_socket_mode_connections(4, Duration::from_secs(10))
            .await,
        "{} sockets open, not 4",
        emulator.socket_mode_connections()
    );

    const N: u64 = 2_000;
    const CHUNK: u64 = 10;
    let js = jetstream::new(watcher.clone());
    let push = |n: u64| {
        emulator.push_event_envelope(message(&n.to_string(), 1_700_000_000 + n));
    };
    // First a paced burst, until the doomed gateway provably stored some events: the
    // survivor cannot have stored more distinct events than its client took in (each is
    // counted before a reader sees it), so the rest of the stream was stored by the process.
    let mut pushed = 0;
    let mut stored_by_doomed = 0;
    within(
        "the gateway process stored some events",
        Duration::from_secs(60),
        async {
            while stored_by_doomed < N / 20 {
                if pushed < N / 2 {
                    (pushed..pushed + CHUNK).for_each(push);
                    pushed += CHUNK;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let in_stream = stored(&js, "SLACK_EVENTS").await;
                stored_by_doomed = in_stream.saturating_sub(survivor.stats().events);
            }
        },
    )
    .await;
    // Then a burst, and SIGKILL right after it: half of the burst went to the process's
    // sockets, and what it had not acknowledged when it died (unread, read but not stored,
    // stored but not acknowledged) only Slack's retries bring to the survivor.
    (pushed..pushed + N / 4).for_each(push);
    pushed += N / 4;
    doomed.start_kill().unwrap(); // SIGKILL
    let killed = tokio::time::Instant::now();
    let status = within("the gateway process dies", Duration::from_secs(10), doomed.wait())
        .await
        .unwrap();
    assert!(!status.success(), "killed, not finished: {status:?}");
    assert!(pushed < N, "the kill came mid-burst");
    (pushed..N).for_each(push);

    eventually("every event handled", Duration::from_secs(60), || {
        seen.distinct() == N as usize
    })
    .await;
    eprintln!(
        "SIGKILL after {pushed} of {N} envelopes (the process had stored at least \
         {stored_by_doomed}); every event handled {:?} later",
        killed.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await; // the last retries
    assert_eq!(seen.distinct(), N as usize, "none lost");
    assert_eq!(seen.most(), 1, "none handled twice");
    assert_eq!(
        stream_messages(&server, "SLACK_EVENTS").await,
        N,
        "each stored once"
    );
    worker.abort();
}
