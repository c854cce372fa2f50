//! `SocketModeClient` against the bundled emulator: every envelope acked once (even
//! unparseable ones, even while handlers are slow or panic), redeliveries deduped, a retry
//! never delivered delivered, refresh through `disconnect` without loss or duplicates,
//! `link_disabled` fatal, and one `#[rtm_event]` handler running over RTM and Socket Mode.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use rtm_core::{
    BoxError, Context, Error, Event, RtmDispatcher, SocketModeClient,
    emulator::{Emulator, EmulatorBuilder},
    events::Message,
    rtm_event,
};
use rtm_tests::{WAIT, config, eventually, init_tracing, within};
use serde_json::{Value, json};

const CHANNEL: &str = "C0GENERAL";

async fn start(builder: EmulatorBuilder) -> Emulator {
    init_tracing();
    builder.start().await.expect("emulator starts")
}

/// A client with the default number of sockets (two), once both are open.
async fn socket_client(emulator: &Emulator) -> SocketModeClient {
    socket_client_with(emulator, rtm_core::DEFAULT_SOCKET_MODE_CONNECTIONS).await
}

/// A client with `sockets` sockets, once all are open. Tests that assert the order of
/// envelopes use one: Slack defines no order between envelopes on different sockets.
async fn socket_client_with(emulator: &Emulator, sockets: usize) -> SocketModeClient {
    let bot = config(emulator)
        .socket_mode_connections(sockets)
        .build()
        .expect("valid config");
    let client = within("connect", SocketModeClient::connect(emulator.app_token(), bot))
        .await
        .expect("client connects");
    assert!(emulator.wait_for_socket_mode_connections(sockets, WAIT).await);
    client
}

fn message(text: &str) -> Value {
    json!({"type": "message", "channel": CHANNEL, "user": "U0ALICE", "text": text, "ts": "1.000001"})
}

/// Reads until `n` `message` events arrived (other kinds are skipped).
async fn read_messages(client: &SocketModeClient, n: usize) -> Vec<Event> {
    within(&format!("{n} messages"), async {
        let mut events = Vec::new();
        while events.len() < n {
            let batch = client.read().await.expect("no error").expect("not closed");
            events.extend(batch.into_iter().filter(|e| e.kind() == "message"));
        }
        events
    })
    .await
}

fn text_of(event: &Event) -> String {
    event.parse::<Value>().expect("json")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn acked_ids(emulator: &Emulator) -> Vec<String> {
    emulator
        .acks()
        .iter()
        .map(|ack| ack["envelope_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_envelope_is_acked_once_including_unparseable_ones() {
    let emulator = start(Emulator::builder()).await;
    let client = socket_client_with(&emulator, 1).await;

    emulator.push_event_envelope(message("one"));
    let slash = emulator.push_envelope("slash_commands", json!({"command": "/deploy", "text": "now"}));
    let interactive = emulator.push_envelope("interactive", json!({"type": "shortcut", "callback_id": "x"}));
    // Valid JSON whose payload is not an Events API callback, and a frame that is not JSON.
    emulator
        .push_socket_mode_text(r#"{"envelope_id":"bad-payload","type":"events_api","payload":{"nope":1}}"#);
    emulator.push_socket_mode_text(r#"{"envelope_id":"truncated","type":"events_api","payload":{"event":{"#);

    let acks = emulator.wait_for_acks(5, WAIT).await.expect("5 acks");
    let ids = acked_ids(&emulator);
    for id in [slash.as_str(), interactive.as_str(), "bad-payload", "truncated"] {
        assert_eq!(
            ids.iter().filter(|acked| *acked == id).count(),
            1,
            "{id} acked once: {ids:?}"
        );
    }
    assert!(acks.iter().all(|ack| ack.get("payload").is_none()), "{acks:?}");

    // The readable ones reached the reader; the unreadable ones did not.
    let kinds = within("three events", async {
        let mut kinds = Vec::new();
        while kinds.len() < 3 {
            let batch = client.read().await.unwrap().unwrap();
            kinds.extend(
                batch
                    .into_iter()
                    .map(|e| e.kind().to_owned())
                    .filter(|k| k != "hello"),
            );
        }
        kinds
    })
    .await;
    assert_eq!(kinds, ["message", "slash_commands", "interactive"]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(emulator.acks().len(), 5, "nothing acked twice");
    assert_eq!(client.stats().malformed_frames, 0);
    client.disconnect().await;
}

#[tokio::test]
async fn a_redelivered_event_is_acked_but_delivered_once_and_a_retry_never_delivered_is_delivered() {
    let emulator =
        start(Emulator::builder().socket_mode_retries(Duration::from_millis(100), [Duration::ZERO])).await;
    // Pushed while no socket is open: its retry (retry_attempt 1) is its only delivery.
    emulator.push_event_envelope(message("sent while offline"));
    let client = socket_client_with(&emulator, 1).await;
    let got = read_messages(&client, 1).await;
    assert_eq!(text_of(&got[0]), "sent while offline");

    // The same event twice, as Slack redelivers it (a new envelope, retry_attempt 1).
    let event = |envelope_id: &str, retry_attempt: u32| {
        json!({"envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": false,
               "retry_attempt": retry_attempt, "retry_reason": if retry_attempt > 0 { "timeout" } else { "" },
               "payload": {"type": "event_callback", "event_id": "EvDUP", "event": message("dup")}})
        .to_string()
    };
    emulator.push_socket_mode_text(event("first", 0));
    emulator.push_socket_mode_text(event("second", 1));
    emulator.push_event_envelope(message("after"));
    let got = read_messages(&client, 2).await;
    assert_eq!(got.iter().map(text_of).collect::<Vec<_>>(), ["dup", "after"]);
    // The offline event's retry, both copies of the duplicate, and the last one.
    assert!(emulator.wait_for_acks(4, WAIT).await.is_some());
    let ids = acked_ids(&emulator);
    assert!(
        ids.contains(&"first".to_owned()) && ids.contains(&"second".to_owned()),
        "both envelopes acked: {ids:?}"
    );
    client.disconnect().await;
}

#[tokio::test]
async fn refresh_through_disconnect_loses_nothing_and_duplicates_nothing_under_traffic() {
    let emulator = start(
        Emulator::builder()
            .socket_mode_retries(
                Duration::from_millis(300),
                [Duration::ZERO, Duration::from_millis(100)],
            )
            .socket_mode_disconnect_close_delay(Duration::from_millis(100)),
    )
    .await;
    let client = socket_client(&emulator).await;
    const N: usize = 300;
    let pusher = {
        let emulator = emulator.clone();
        tokio::spawn(async move {
            for i in 0..N {
                emulator.push_event_envelope(message(&format!("m{i}")));
                if i % 100 == 50 {
                    emulator.socket_mode_disconnect(if i < 100 { "warning" } else { "refresh_requested" });
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let got = read_messages(&client, N).await;
    within("pusher", pusher).await.unwrap();
    let texts: Vec<String> = got.iter().map(text_of).collect();
    let distinct: HashSet<&String> = texts.iter().collect();
    assert_eq!(distinct.len(), N, "no duplicates");
    for i in 0..N {
        assert!(distinct.contains(&format!("m{i}")), "m{i} delivered");
    }
    assert!(emulator.socket_mode_sockets_opened() >= 3, "replaced twice");
    // Nothing more arrives (a late redelivery would be a duplicate).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = client.try_read().unwrap().unwrap();
    assert_eq!(late.into_iter().filter(|e| e.kind() == "message").count(), 0);
    client.disconnect().await;
}

#[tokio::test]
async fn link_disabled_stops_the_client_with_a_typed_error() {
    let emulator = start(Emulator::builder()).await;
    let client = socket_client(&emulator).await;
    emulator.socket_mode_disconnect("link_disabled");
    let error = within("the end", async {
        loop {
            match client.read().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("closed without an error"),
                Err(error) => break error,
            }
        }
    })
    .await;
    assert!(matches!(error, Error::LinkDisabled), "{error:?}");
    assert!(!error.is_retryable());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        emulator.socket_mode_sockets_opened(),
        2,
        "no reconnect after link_disabled (of either socket)"
    );
}

#[tokio::test]
async fn a_wrong_app_token_is_refused_with_slacks_code() {
    let emulator = start(Emulator::builder()).await;
    let bot = config(&emulator).initial_connect_attempts(1).build().unwrap();
    let error = within("connect", SocketModeClient::connect("xapp-wrong", bot))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::SocketModeRefused { code } if code == "invalid_auth"),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains("xapp-wrong"), "token not shown");
}

#[tokio::test]
async fn too_many_websockets_backs_off_instead_of_storming() {
    let emulator = start(Emulator::builder().socket_mode_max_sockets(0)).await;
    // One socket: the bound below is one socket's backoff (socket_mode_sockets.rs has two).
    let bot = config(&emulator)
        .socket_mode_connections(1)
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .unwrap();
    let client = within("connect", SocketModeClient::connect(emulator.app_token(), bot))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let opened = emulator.socket_mode_sockets_opened();
    // Waits of at least 25, 50, 100, 100, … ms: a handful in 600 ms, never hundreds.
    assert!((2..=15).contains(&opened), "{opened} sockets in 600 ms");
    client.disconnect().await;
}

/// One handler for both transports: replies with the message's text.
#[rtm_event(type = "message")]
async fn echo(ctx: Context, message: Message) -> Result<(), BoxError> {
    ctx.reply(&format!("echo: {}", message.text.unwrap_or_default()))
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_same_rtm_event_handler_runs_over_rtm_and_over_socket_mode() {
    // RTM.
    let emulator = rtm_tests::emulator().await;
    let rtm = rtm_tests::connect(&emulator).await;
    let running = tokio::spawn(RtmDispatcher::new(rtm.clone()).handler::<echo>().run());
    emulator.message(CHANNEL, "U0ALICE", "over rtm");
    let posts = emulator.wait_for_posts(1, WAIT).await.expect("rtm reply");
    assert_eq!(posts[0].text, "echo: over rtm");
    rtm.disconnect().await;
    within("rtm dispatcher", running).await.unwrap().unwrap();

    // Socket Mode: the reply goes through chat.postMessage, and the bot's own post (which
    // comes back as an events_api envelope) is not answered.
    let emulator = start(Emulator::builder()).await;
    let client = socket_client(&emulator).await;
    let running = tokio::spawn(RtmDispatcher::socket_mode(client.clone()).handler::<echo>().run());
    emulator.push_event_envelope(message("over socket mode"));
    let posts = emulator.wait_for_posts(1, WAIT).await.expect("socket mode reply");
    assert_eq!(posts[0].text, "echo: over socket mode");
    assert_eq!(posts[0].channel, CHANNEL);
    // The own post came back as an envelope and was acked, but not answered.
    assert!(emulator.wait_for_acks(2, WAIT).await.is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(emulator.posts().len(), 1);
    client.disconnect().await;
    within("socket mode dispatcher", running).await.unwrap().unwrap();
}

/// Bots run on `#[tokio::main]`'s multi-threaded runtime. There, a handler's panic must not
/// hold acks back even while the panic hook is slow: printing a backtrace on a cold machine
/// takes seconds, and CI once saw exactly that delay the acks on a single-threaded runtime.
/// The hook here stalls the panicking worker for longer than the acks may take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_and_a_panicking_handler_never_delay_acks() {
    const PANIC_TEXT: &str = "handler panics on purpose";
    let previous_hook = Arc::new(std::panic::take_hook());
    let hook = Arc::clone(&previous_hook);
    std::panic::set_hook(Box::new(move |info| {
        if info.payload_as_str() == Some(PANIC_TEXT) {
            std::thread::sleep(Duration::from_secs(3));
        }
        hook(info);
    }));
    let emulator = start(Emulator::builder()).await;
    let client = socket_client(&emulator).await;
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (s, f) = (started.clone(), finished.clone());
    let dispatcher = RtmDispatcher::socket_mode(client.clone())
        .shutdown_timeout(Duration::from_millis(100))
        .on(rtm_core::Route::new("message"), move |message: Message| {
            let (s, f) = (s.clone(), f.clone());
            async move {
                s.fetch_add(1, SeqCst);
                if message.text.as_deref() == Some("panic") {
                    panic!("{PANIC_TEXT}");
                }
                tokio::time::sleep(Duration::from_secs(10)).await;
                f.fetch_add(1, SeqCst);
            }
        });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(dispatcher.run_until(async {
        let _ = stopped.await;
    }));
    emulator.push_event_envelope(message("slow"));
    eventually("slow handler started", || started.load(SeqCst) == 1).await;
    emulator.push_event_envelope(message("panic"));
    emulator.push_event_envelope(message("slow again"));
    // All three acked while the slow handlers are still sleeping their 10 s.
    let acks = within("acks", emulator.wait_for_acks(3, Duration::from_secs(2)))
        .await
        .expect("acked at once");
    assert_eq!(acks.len(), 3);
    eventually("every handler started", || started.load(SeqCst) == 3).await;
    assert_eq!(finished.load(SeqCst), 0, "the slow handlers are still running");
    let _ = stop.send(());
    within("dispatcher stops", running).await.unwrap().unwrap();
}
