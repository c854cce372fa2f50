//! `SocketModeClient` under faults, against the bundled emulator: what users rely on when the
//! network or Slack misbehaves. Nothing is lost, nothing is handed over twice, the right
//! error or cause is reported, the client reconnects, and it never storms Slack with
//! `apps.connections.open` calls or holds more sockets than it was configured for.
//!
//! The number of sockets a client keeps is read from the emulator once it has connected
//! (not assumed), so these tests hold whatever that number is configured to be.
//! Un-acked `events_api` envelopes come back on a compressed schedule (ack timeout 200 ms,
//! retries after 0 s, 1 s and 3 s), so an event pushed while no socket can take it is
//! delivered by a retry.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rtm_core::{
    ClientConfigBuilder, ConnectionState, DisconnectCause, Error, Route, RtmDispatcher, SocketModeClient,
    emulator::{Emulator, EmulatorBuilder},
    events::Message,
};
use rtm_tests::{config, eventually, init_tracing, within};
use serde_json::{Value, json};

const CHANNEL: &str = "C0GENERAL";

/// An emulator with the compressed redelivery schedule.
fn emulator() -> EmulatorBuilder {
    Emulator::builder().socket_mode_retries(
        Duration::from_millis(200),
        [Duration::ZERO, Duration::from_secs(1), Duration::from_secs(3)],
    )
}

async fn start(builder: EmulatorBuilder) -> Emulator {
    init_tracing();
    builder.start().await.expect("emulator starts")
}

async fn connect(emulator: &Emulator, config: ClientConfigBuilder) -> SocketModeClient {
    let bot = config.build().expect("valid config");
    within("connect", SocketModeClient::connect(emulator.app_token(), bot))
        .await
        .expect("client connects")
}

/// How many sockets the client keeps: what the emulator sees once the count is steady.
async fn configured_sockets(emulator: &Emulator) -> usize {
    within("the client's sockets", async {
        loop {
            let now = emulator.socket_mode_connections();
            tokio::time::sleep(Duration::from_millis(300)).await;
            if now > 0 && emulator.socket_mode_connections() == now {
                return now;
            }
        }
    })
    .await
}

/// Waits until the client holds `n` sockets again.
async fn back_to(emulator: &Emulator, n: usize) {
    eventually("the client's sockets are back", || {
        emulator.socket_mode_connections() == n
    })
    .await;
}

/// Cuts every socket and waits until the client has replaced them all.
async fn drop_and_recover(emulator: &Emulator, n: usize) {
    let opened = emulator.socket_mode_sockets_opened();
    emulator.socket_mode_drop_connections();
    eventually("new sockets", || {
        emulator.socket_mode_sockets_opened() >= opened + n
    })
    .await;
    back_to(emulator, n).await;
}

fn message(text: &str) -> Value {
    json!({"type": "message", "channel": CHANNEL, "user": "U0ALICE", "text": text, "ts": "1.000001"})
}

/// Pushes `n` `events_api` messages with texts `{prefix}{i}`; returns the texts.
fn push(emulator: &Emulator, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let text = format!("{prefix}{i}");
            emulator.push_event_envelope(message(&text));
            text
        })
        .collect()
}

/// Reads the client on a task of its own: counts every `message` text handed over, and
/// every connection state the client went through.
struct Collector {
    texts: Arc<Mutex<HashMap<String, usize>>>,
    states: Arc<Mutex<Vec<ConnectionState>>>,
    end: Arc<Mutex<Option<Result<(), Error>>>>,
}

impl Collector {
    fn start(client: &SocketModeClient) -> Collector {
        let collector = Collector {
            texts: Arc::default(),
            states: Arc::default(),
            end: Arc::default(),
        };
        let (texts, end) = (collector.texts.clone(), collector.end.clone());
        let reader = client.clone();
        tokio::spawn(async move {
            let result = loop {
                match reader.read().await {
                    Ok(Some(batch)) => {
                        for event in batch.into_iter().filter(|e| e.kind() == "message") {
                            let text = event.parse::<Value>().expect("json")["text"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned();
                            *texts.lock().unwrap().entry(text).or_default() += 1;
                        }
                    }
                    Ok(None) => break Ok(()),
                    Err(error) => break Err(error),
                }
            };
            *end.lock().unwrap() = Some(result);
        });
        let states = collector.states.clone();
        let mut watch = client.state();
        tokio::spawn(async move {
            loop {
                states.lock().unwrap().push(watch.borrow_and_update().clone());
                if watch.changed().await.is_err() {
                    break;
                }
            }
        });
        collector
    }

    /// Waits until every one of `texts` was handed over.
    async fn wait_for(&self, texts: &[String]) {
        eventually(&format!("{} events handed over", texts.len()), || {
            let seen = self.texts.lock().unwrap();
            texts.iter().all(|t| seen.contains_key(t))
        })
        .await;
    }

    /// Asserts that exactly `texts` were handed over, each once, after a pause in which a
    /// late duplicate would have shown up.
    async fn assert_each_once(&self, texts: &[String]) {
        self.wait_for(texts).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = self.texts.lock().unwrap();
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "handed over more than once: {twice:?}");
        assert_eq!(seen.len(), texts.len(), "nothing unexpected: {seen:?}");
    }

    fn saw_cause(&self, wanted: impl Fn(&DisconnectCause) -> bool) -> bool {
        self.states
            .lock()
            .unwrap()
            .iter()
            .any(|s| matches!(s, ConnectionState::Reconnecting { cause } if wanted(cause)))
    }
}

#[tokio::test]
async fn a_dropped_connection_is_replaced_and_nothing_is_lost_or_duplicated() {
    let emulator = start(emulator()).await;
    let client = connect(&emulator, config(&emulator)).await;
    let n = configured_sockets(&emulator).await;
    let seen = Collector::start(&client);
    let mut texts = push(&emulator, "before", 20);
    seen.wait_for(&texts).await;

    let opened = emulator.socket_mode_sockets_opened();
    emulator.socket_mode_drop_connections();
    texts.extend(push(&emulator, "during", 20));
    eventually("new sockets", || {
        emulator.socket_mode_sockets_opened() >= opened + n
    })
    .await;
    back_to(&emulator, n).await;
    texts.extend(push(&emulator, "after", 20));
    seen.assert_each_once(&texts).await;
    assert!(
        seen.saw_cause(|c| matches!(c, DisconnectCause::Io(_) | DisconnectCause::Closed)),
        "the loss was reported: {:?}",
        seen.states.lock().unwrap()
    );
    assert_eq!(emulator.socket_mode_connections(), n);
    client.disconnect().await;
}

#[tokio::test]
async fn silence_is_detected_by_the_keepalive_without_waiting_for_a_close() {
    let emulator = start(emulator()).await;
    let client = connect(&emulator, config(&emulator)).await;
    let n = configured_sockets(&emulator).await;
    let seen = Collector::start(&client);
    let mut texts = push(&emulator, "before", 10);
    seen.wait_for(&texts).await;

    let opened = emulator.socket_mode_sockets_opened();
    emulator.socket_mode_set_silent(true);
    texts.extend(push(&emulator, "during", 10));
    // No close, no frame, no pong ever comes: only the client's keepalive can notice.
    eventually("a new socket while the old ones are silent", || {
        emulator.socket_mode_sockets_opened() > opened
    })
    .await;
    assert!(
        seen.saw_cause(|c| *c == DisconnectCause::KeepaliveTimeout),
        "reported as a keepalive timeout: {:?}",
        seen.states.lock().unwrap()
    );
    emulator.socket_mode_set_silent(false);
    back_to(&emulator, n).await;
    texts.extend(push(&emulator, "after", 10));
    seen.assert_each_once(&texts).await;
    client.disconnect().await;
}

#[tokio::test]
async fn a_server_that_stops_reading_is_detected_and_its_redeliveries_are_deduped() {
    let emulator = start(emulator()).await;
    let client = connect(&emulator, config(&emulator)).await;
    let n = configured_sockets(&emulator).await;
    let seen = Collector::start(&client);

    let opened = emulator.socket_mode_sockets_opened();
    emulator.socket_mode_stop_reading(true);
    // Envelopes still arrive; their acks and the client's pings are never read, so the
    // events come back as retries.
    let mut texts = push(&emulator, "stalled", 10);
    seen.wait_for(&texts).await;
    eventually("a new socket while the server does not read", || {
        emulator.socket_mode_sockets_opened() > opened
    })
    .await;
    emulator.socket_mode_stop_reading(false);
    back_to(&emulator, n).await;
    texts.extend(push(&emulator, "after", 10));
    seen.assert_each_once(&texts).await;
    client.disconnect().await;
}

#[tokio::test]
async fn warning_and_refresh_requested_replace_sockets_under_traffic_without_loss() {
    let emulator = start(emulator().socket_mode_disconnect_close_delay(Duration::from_millis(100))).await;
    let client = connect(&emulator, config(&emulator)).await;
    let n = configured_sockets(&emulator).await;
    let seen = Collector::start(&client);
    let opened = emulator.socket_mode_sockets_opened();
    let pusher = {
        let emulator = emulator.clone();
        tokio::spawn(async move {
            let mut texts = Vec::new();
            for i in 0..200 {
                texts.extend(push(&emulator, &format!("m{i}-"), 1));
                match i {
                    50 => emulator.socket_mode_disconnect("warning"),
                    120 => emulator.socket_mode_disconnect("refresh_requested"),
                    _ => {}
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            texts
        })
    };
    let texts = within("pusher", pusher).await.unwrap();
    seen.assert_each_once(&texts).await;
    assert!(
        emulator.socket_mode_sockets_opened() >= opened + 2 * n,
        "every socket replaced twice"
    );
    back_to(&emulator, n).await;
    client.disconnect().await;
}

#[tokio::test]
async fn debug_reconnects_refreshes_keep_steady_traffic_whole() {
    let emulator = start(
        emulator()
            .socket_mode_debug_reconnects(true)
            .socket_mode_debug_reconnects_lifetime(Duration::from_millis(300))
            .socket_mode_disconnect_close_delay(Duration::from_millis(50)),
    )
    .await;
    let client = connect(&emulator, config(&emulator)).await;
    let seen = Collector::start(&client);
    let pusher = {
        let emulator = emulator.clone();
        tokio::spawn(async move {
            let mut texts = Vec::new();
            for i in 0..300 {
                texts.extend(push(&emulator, &format!("steady{i}-"), 1));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            texts
        })
    };
    let texts = within("pusher", pusher).await.unwrap();
    seen.assert_each_once(&texts).await;
    assert!(
        emulator.socket_mode_sockets_opened() >= 3,
        "refreshed several times: {}",
        emulator.socket_mode_sockets_opened()
    );
    client.disconnect().await;
}

#[tokio::test]
async fn link_disabled_is_fatal_and_never_reconnects() {
    let emulator = start(emulator()).await;
    let client = connect(&emulator, config(&emulator)).await;
    let n = configured_sockets(&emulator).await;
    let seen = Collector::start(&client);
    let texts = push(&emulator, "before", 5);
    seen.wait_for(&texts).await;
    let calls = emulator.connect_calls();
    emulator.socket_mode_disconnect("link_disabled");
    eventually("the reader sees the end", || seen.end.lock().unwrap().is_some()).await;
    let end = seen.end.lock().unwrap().take().unwrap();
    assert!(matches!(end, Err(Error::LinkDisabled)), "{end:?}");
    assert!(matches!(
        &*client.state().borrow(),
        ConnectionState::Closed {
            error: Some(Error::LinkDisabled)
        }
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        emulator.connect_calls(),
        calls,
        "no apps.connections.open after link_disabled"
    );
    assert_eq!(emulator.socket_mode_sockets_opened(), n);
    assert_eq!(emulator.socket_mode_connections(), 0);
}

#[tokio::test]
async fn too_many_websockets_backs_off_reports_and_never_storms() {
    let emulator = start(emulator()).await;
    let bot = config(&emulator).reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400));
    let client = connect(&emulator, bot).await;
    let n = configured_sockets(&emulator).await;
    let seen = Collector::start(&client);

    // Slack says the app is over its limit, and keeps saying so for every new socket.
    emulator.socket_mode_limit_sockets(Some(0));
    emulator.socket_mode_disconnect("too_many_websockets");
    let calls = emulator.connect_calls();
    let window = Duration::from_secs(2);
    tokio::time::sleep(window).await;
    let in_window = emulator.connect_calls() - calls;
    // Waits of at least 25, 50, 100, 200, 200, … ms: about ten per socket in 2 s. A client
    // that reconnected at once would make hundreds.
    assert!(
        (1..=15 * n).contains(&in_window),
        "{in_window} apps.connections.open calls in {window:?} for {n} socket(s)"
    );
    assert!(
        seen.saw_cause(|c| *c == DisconnectCause::TooManyWebsockets),
        "reported: {:?}",
        seen.states.lock().unwrap()
    );

    // Once under the limit again, the client recovers and delivers.
    emulator.socket_mode_limit_sockets(None);
    back_to(&emulator, n).await;
    let texts = push(&emulator, "recovered", 10);
    seen.assert_each_once(&texts).await;
    client.disconnect().await;
}

#[tokio::test]
async fn a_handler_sees_each_event_once_through_redeliveries_and_handles_retries_never_delivered() {
    let emulator = start(emulator().socket_mode_ghost_lifetime(Duration::from_secs(60))).await;
    // A keepalive timeout longer than the stall below, so only redelivery is at work.
    let bot = config(&emulator)
        .keepalive_interval(Duration::from_millis(500))
        .keepalive_timeout(Duration::from_secs(5));
    let client = connect(&emulator, bot).await;
    let n = configured_sockets(&emulator).await;
    let handled: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counts = handled.clone();
    let dispatcher =
        RtmDispatcher::socket_mode(client.clone()).on(Route::new("message"), move |m: Message| {
            let counts = counts.clone();
            async move {
                *counts
                    .lock()
                    .unwrap()
                    .entry(m.text.unwrap_or_default())
                    .or_default() += 1;
            }
        });
    let running = tokio::spawn(dispatcher.run());
    let all_handled = |texts: &[String]| {
        let handled = handled.lock().unwrap();
        texts.iter().all(|t| handled.contains_key(t))
    };

    // Acks unread for 1.5 s: every event comes back once or twice.
    emulator.socket_mode_stop_reading(true);
    let mut texts = push(&emulator, "redelivered", 10);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    emulator.socket_mode_stop_reading(false);
    eventually("redelivered events handled", || all_handled(&texts)).await;
    eventually("the events were redelivered (and every copy acked)", || {
        emulator.acks().len() > texts.len()
    })
    .await;

    // Envelopes routed to ghosts are never delivered; their retries are, once.
    drop_and_recover(&emulator, n).await;
    emulator.socket_mode_route_to_ghosts(true);
    let lost_first = push(&emulator, "via-retry", 6);
    emulator.socket_mode_route_to_ghosts(false);
    texts.extend(lost_first);
    eventually("retried events handled", || all_handled(&texts)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let handled = handled.lock().unwrap().clone();
    let twice: Vec<_> = handled.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
    assert_eq!(handled.len(), texts.len());
    client.disconnect().await;
    within("dispatcher stops", running).await.unwrap().unwrap();
}

#[tokio::test]
async fn ghosts_at_the_cap_the_client_recovers_once_they_expire_with_bounded_opens() {
    let emulator = start(emulator().socket_mode_ghost_lifetime(Duration::from_millis(1500))).await;
    let bot = config(&emulator).reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400));
    let client = connect(&emulator, bot).await;
    let n = configured_sockets(&emulator).await;
    let seen = Collector::start(&client);
    // Room for the client's sockets and one set of ghosts.
    emulator.socket_mode_limit_sockets(Some(2 * n));
    drop_and_recover(&emulator, n).await;
    assert_eq!(emulator.socket_mode_ghosts(), n);

    // A second cut: the ghosts fill the cap, so new sockets get too_many_websockets until
    // the first ghosts expire.
    let calls = emulator.connect_calls();
    emulator.socket_mode_drop_connections();
    let texts = push(&emulator, "over-cap", 10);
    eventually("over the cap", || {
        seen.saw_cause(|c| *c == DisconnectCause::TooManyWebsockets)
    })
    .await;
    back_to(&emulator, n).await;
    let opens = emulator.connect_calls() - calls;
    // About 1.5 s of backoff from 25 ms up to 400 ms: a handful per socket.
    assert!(
        opens <= 15 * n,
        "{opens} apps.connections.open calls to recover {n} socket(s)"
    );
    seen.assert_each_once(&texts).await;
    assert_eq!(emulator.socket_mode_connections(), n);
    assert!(
        emulator.socket_mode_peak_connections() <= n,
        "never more than {n} socket(s) open, saw {}",
        emulator.socket_mode_peak_connections()
    );
    client.disconnect().await;
}

#[tokio::test]
async fn a_409_on_upgrade_is_retried_with_a_fresh_url_and_never_doubles_sockets() {
    let emulator = start(emulator().socket_mode_ghost_lifetime(Duration::ZERO)).await;
    // Refused at the first connect: connect() retries with fresh URLs.
    emulator.socket_mode_refuse_upgrades(2);
    let client = connect(&emulator, config(&emulator)).await;
    let n = configured_sockets(&emulator).await;
    assert!(emulator.connect_calls() >= n + 2, "a fresh URL per attempt");
    let seen = Collector::start(&client);

    // Refused while reconnecting.
    let calls = emulator.connect_calls();
    emulator.socket_mode_refuse_upgrades(3);
    drop_and_recover(&emulator, n).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        emulator.connect_calls() >= calls + n + 3,
        "each refused URL replaced"
    );
    assert_eq!(emulator.socket_mode_connections(), n, "settled at {n} socket(s)");
    assert!(
        emulator.socket_mode_peak_connections() <= n,
        "never more than {n} socket(s) open, saw {}",
        emulator.socket_mode_peak_connections()
    );
    let texts = push(&emulator, "after-409", 10);
    seen.assert_each_once(&texts).await;
    client.disconnect().await;
}
