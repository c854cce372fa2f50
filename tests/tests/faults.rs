//! Fault injection: every way a Slack connection ends or fails, against the bundled emulator.
//! Timings are short (tens of milliseconds) so the suite runs in seconds.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rtm_core::{ConnectionState, DisconnectCause, Error, RtmClient, SendError, emulator::Emulator};
use rtm_tests::{
    config, connect, connect_with, emulator, eventually, init_tracing, read_events, texts, within,
};
use serde_json::json;
use tokio::sync::watch;

/// Records every state the client publishes (a watch shows the latest; transitions that last
/// at least a scheduler tick are seen).
fn record_states(client: &RtmClient) -> Arc<Mutex<Vec<ConnectionState>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut rx = client.state();
    let log = seen.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let state = rx.borrow_and_update().clone();
            log.lock().unwrap().push(state);
        }
    });
    seen
}

/// The cause of the next `Reconnecting` state.
async fn reconnect_cause(state: &mut watch::Receiver<ConnectionState>) -> DisconnectCause {
    loop {
        state.changed().await.unwrap();
        if let ConnectionState::Reconnecting { cause } = &*state.borrow() {
            return cause.clone();
        }
    }
}

fn push_texts(emu: &Emulator, range: std::ops::Range<usize>) {
    for i in range {
        emu.message("C1", "U1", &i.to_string());
    }
}

fn numbers(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| i.to_string()).collect()
}

#[tokio::test]
async fn abrupt_tcp_drop_reconnects_and_loses_nothing_received() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    push_texts(&emu, 0..5);
    eventually("5 events buffered", || client.stats().events >= 6).await;
    emu.drop_connections();
    eventually("reconnected", || {
        client.stats().reconnects == 1 && emu.live_sockets() == 1
    })
    .await;
    push_texts(&emu, 5..10);
    let events = read_events(&client, 10).await;
    assert_eq!(texts(&events), numbers(0..10));
    assert_eq!(emu.connect_calls(), 2);
}

#[tokio::test]
async fn goodbye_opens_the_next_connection_before_the_old_one_closes() {
    init_tracing();
    let emu = Emulator::builder()
        .goodbye_close_delay(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let client = connect(&emu).await;
    let states = record_states(&client);
    push_texts(&emu, 0..3);
    emu.goodbye();
    // Make before break: the client dials at once instead of waiting for the server's close
    // (500 ms later), and switches without ever being without a connection.
    eventually("switched", || {
        emu.live_sockets() == 1 && client.stats().reconnects == 1
    })
    .await;
    push_texts(&emu, 3..6);
    let events = read_events(&client, 6).await;
    assert_eq!(texts(&events), numbers(0..6));
    assert_eq!(emu.connect_calls(), 2, "exactly one new rtm.connect");
    let states = states.lock().unwrap();
    assert!(
        !states
            .iter()
            .any(|s| matches!(s, ConnectionState::Reconnecting { .. })),
        "no gap: the client never went through Reconnecting: {states:?}"
    );
}

#[tokio::test]
async fn silent_server_is_detected_by_keepalive() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let mut state = client.state();
    push_texts(&emu, 0..3);
    eventually("3 events", || client.stats().events >= 4).await;
    emu.set_silent(true);
    // Keepalive timeout is 300 ms in the test config.
    let cause = within("keepalive timeout", reconnect_cause(&mut state)).await;
    assert_eq!(cause, DisconnectCause::KeepaliveTimeout);
    emu.set_silent(false);
    eventually("reconnected", || client.stats().reconnects == 1).await;
    push_texts(&emu, 3..6);
    let events = read_events(&client, 6).await;
    assert_eq!(texts(&events), numbers(0..6));
}

/// A server stuck above the websocket layer: its websocket library still answers protocol
/// pings, but RTM goes unanswered. Only an RTM `ping` tells the two apart.
#[tokio::test]
async fn server_stalled_above_the_websocket_layer_is_detected() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let mut state = client.state();
    emu.stall_rtm(true);
    let cause = within("keepalive timeout", reconnect_cause(&mut state)).await;
    assert_eq!(cause, DisconnectCause::KeepaliveTimeout);
    emu.stall_rtm(false);
    eventually("reconnected", || client.stats().reconnects == 1).await;
    push_texts(&emu, 0..3);
    assert_eq!(texts(&read_events(&client, 3).await), numbers(0..3));
}

#[tokio::test]
async fn rate_limited_reconnect_waits_exactly_retry_after() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let states = record_states(&client);
    emu.rate_limit_connects(2, 1);
    let started = Instant::now();
    emu.drop_connections();
    eventually("reconnected", || client.stats().reconnects == 1).await;
    let elapsed = started.elapsed();
    assert_eq!(emu.connect_calls(), 1 + 3, "two 429s, then success");
    assert!(
        elapsed >= Duration::from_secs(2),
        "Retry-After not honoured: {elapsed:?}"
    );
    // Not the doubled wait a peer client is known for (generous bound for a busy machine).
    assert!(
        elapsed < Duration::from_millis(3900),
        "waited too long: {elapsed:?}"
    );
    let states = states.lock().unwrap();
    assert!(
        states.iter().any(|s| matches!(
            s,
            ConnectionState::Reconnecting {
                cause: DisconnectCause::Io(_) | DisconnectCause::Closed
            }
        )),
        "{states:?}"
    );
    assert!(
        states.last().is_some_and(ConnectionState::is_connected),
        "{states:?}"
    );
}

#[tokio::test]
async fn rate_limited_first_connect_waits_then_succeeds() {
    let emu = emulator().await;
    emu.rate_limit_connects(1, 1);
    let started = Instant::now();
    let client = connect(&emu).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(emu.connect_calls(), 2);
    assert!(client.state().borrow().is_connected());
}

#[tokio::test]
async fn fatal_connect_errors_are_not_retried() {
    for code in [
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "not_allowed_token_type",
        "missing_scope",
    ] {
        let emu = emulator().await;
        emu.fail_connects(code, None);
        let err = within("connect", RtmClient::connect(config(&emu).build().unwrap()))
            .await
            .unwrap_err();
        assert_eq!(err.slack_code(), Some(code), "{err}");
        assert!(err.to_string().contains(code));
        assert_eq!(emu.connect_calls(), 1, "{code} must not be retried");
    }
}

#[tokio::test]
async fn retryable_connect_errors_are_retried() {
    let emu = emulator().await;
    emu.fail_connects("migration_in_progress", Some(2));
    let _client = connect(&emu).await;
    assert_eq!(emu.connect_calls(), 3);
}

#[tokio::test]
async fn revoked_token_ends_the_read_side_with_a_typed_error_after_pending_events() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    push_texts(&emu, 0..3);
    eventually("3 events", || client.stats().events >= 4).await;
    emu.revoke_token();
    eventually("closed", || client.state().borrow().is_closed()).await;
    // Events received before the fatal error come first, then the error.
    let events = read_events(&client, 3).await;
    assert_eq!(texts(&events), numbers(0..3));
    let err = within("error", client.read()).await.unwrap_err();
    assert_eq!(err.slack_code(), Some("token_revoked"), "{err}");
    match &*client.state().borrow() {
        ConnectionState::Closed { error: Some(e) } => assert_eq!(e.slack_code(), Some("token_revoked")),
        other => panic!("unexpected state {other:?}"),
    }
    // No retry loop: one call for the connection, one that learnt about the revocation.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(emu.connect_calls(), 2);
    let err = client.send_message("C1", "hi").await.unwrap_err();
    assert!(matches!(err, SendError::Closed), "{err}");
}

#[tokio::test]
async fn bad_frames_and_a_two_mebibyte_frame_do_not_break_the_connection() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let big_text = "y".repeat(2 * 1024 * 1024);
    emu.push_text("{not json");
    emu.push_binary(vec![1, 2, 3]);
    emu.push_text("z".repeat(2 * 1024 * 1024));
    emu.push(json!({"type": "message", "channel": "C1", "user": "U1", "text": big_text}));
    emu.message("C1", "U1", "after");
    let events = read_events(&client, 2).await;
    let got = texts(&events);
    assert_eq!(got[0].len(), big_text.len());
    assert_eq!(got[1], "after");
    assert_eq!(client.stats().malformed_frames, 3);
    assert_eq!(client.stats().reconnects, 0);
}

#[tokio::test]
async fn expired_url_error_event_reconnects() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    push_texts(&emu, 0..2);
    emu.send_error_event(1, "Socket URL has expired");
    eventually("reconnected", || client.stats().reconnects == 1).await;
    push_texts(&emu, 2..4);
    let events: Vec<_> = read_events(&client, 5).await;
    // The error event itself reaches the application too, in order.
    let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["message", "message", "error", "message", "message"]);
}

#[tokio::test]
async fn repeated_websocket_restarts_lose_nothing() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    for round in 0..10 {
        push_texts(&emu, round * 3..round * 3 + 3);
        emu.close_connections();
        eventually("reconnected", || {
            client.stats().reconnects == round as u64 + 1 && emu.live_sockets() == 1
        })
        .await;
    }
    let events = read_events(&client, 30).await;
    assert_eq!(texts(&events), numbers(0..30));
    assert_eq!(emu.connect_calls(), 11);
    assert_eq!(
        emu.sockets_opened(),
        11,
        "one socket per attempt, none left behind"
    );
}

#[tokio::test]
async fn unanswered_send_fails_with_connection_lost_when_the_socket_dies() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    emu.set_silent(true); // the server reads our frame but never replies
    let reply = client.send_message("C1", "are you there?");
    within("frame recorded", emu.wait_for_sent(1, Duration::from_secs(5)))
        .await
        .unwrap();
    emu.drop_connections();
    let err = within("send result", reply).await.unwrap_err();
    assert!(matches!(err, SendError::ConnectionLost), "{err}");
    emu.set_silent(false);
    eventually("reconnected", || client.stats().reconnects == 1).await;
    // Never silently re-sent.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let messages = emu.sent().into_iter().filter(|f| f["type"] == "message").count();
    assert_eq!(messages, 1);
}

#[tokio::test]
async fn sends_issued_while_reconnecting_wait_for_the_new_connection() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    emu.rate_limit_connects(1, 1);
    emu.drop_connections();
    eventually("reconnecting", || !client.state().borrow().is_connected()).await;
    let reply = within("reply after reconnect", client.send_message("C1", "queued"))
        .await
        .unwrap();
    assert!(reply.ts.is_some());
    assert_eq!(client.stats().reconnects, 1);
}

#[tokio::test]
async fn sends_that_outlive_the_reply_timeout_while_reconnecting_are_never_written() {
    let emu = emulator().await;
    let client = connect_with(config(&emu).reply_timeout(Duration::from_millis(200))).await;
    emu.rate_limit_connects(1, 1);
    emu.drop_connections();
    eventually("reconnecting", || !client.state().borrow().is_connected()).await;
    let err = client.send_message("C1", "late").await.unwrap_err();
    // Never written, and the error says so: a retry cannot double-post.
    assert!(
        matches!(err, SendError::NotSent(_)) && err.was_not_sent(),
        "{err}"
    );
    eventually("reconnected", || client.stats().reconnects == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !emu.sent().iter().any(|f| f["text"] == "late"),
        "a timed-out send was written later"
    );
}

#[tokio::test]
async fn hello_must_arrive_in_time_and_failed_attempts_leave_no_socket() {
    init_tracing();
    let emu = Emulator::builder()
        .hello_delay(Duration::from_secs(3))
        .start()
        .await
        .unwrap();
    let config = config(&emu)
        .connect_timeout(Duration::from_millis(200))
        .initial_connect_attempts(2);
    let err = within("connect", RtmClient::connect(config.build().unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    assert_eq!(emu.connect_calls(), 2);
    eventually("no socket left open", || emu.live_sockets() == 0).await;
}

#[tokio::test]
async fn soak_fifty_forced_reconnects_with_traffic() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let tasks_before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    let mut expected = 0;
    for round in 0..50u64 {
        push_texts(&emu, expected..expected + 4);
        expected += 4;
        let reply = within("send", client.send_message("C1", &format!("r{round}"))).await;
        assert!(reply.is_ok(), "{reply:?}");
        if round % 2 == 0 {
            emu.drop_connections();
        } else {
            emu.close_connections();
        }
        eventually("reconnected", || {
            client.stats().reconnects == round + 1 && emu.live_sockets() == 1
        })
        .await;
    }
    // Our own echoes come back as message events from the bot; keep only the pushed ones.
    let mut events = Vec::new();
    while events.len() < expected {
        let batch = within("read", client.read()).await.unwrap().unwrap();
        events.extend(
            batch
                .into_iter()
                .filter(|e| e.kind() == "message" && e.parse::<serde_json::Value>().unwrap()["user"] == "U1"),
        );
    }
    assert_eq!(texts(&events), numbers(0..expected));
    assert_eq!(emu.sockets_opened(), 51);
    assert_eq!(emu.live_sockets(), 1);
    let tasks_after = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    assert!(
        tasks_after <= tasks_before + 1,
        "tasks grew from {tasks_before} to {tasks_after}"
    );
}

#[tokio::test]
async fn a_reply_that_never_comes_times_out_on_a_live_connection() {
    let emu = emulator().await;
    let config = config(&emu)
        .keepalive_interval(Duration::from_secs(2))
        .keepalive_timeout(Duration::from_secs(8))
        .reply_timeout(Duration::from_millis(200));
    let client = connect_with(config).await;
    emu.set_silent(true); // reads our frame, never replies
    let started = Instant::now();
    let err = within("reply timeout", client.send_message("C1", "hello?"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::Timeout(t) if t == Duration::from_millis(200)),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        client.stats().reconnects,
        0,
        "a late reply is not a dead connection"
    );
    emu.set_silent(false);
    // The connection still works for the next send.
    within("next reply", client.send_message("C1", "still there"))
        .await
        .unwrap();
}

/// A server that stops reading (its TCP window fills) while the socket stays open: writes
/// block, yet the client notices within the keepalive timeout (+ a margin) and reconnects;
/// sends written to the dead socket fail with `ConnectionLost`.
#[tokio::test]
async fn a_server_that_stops_reading_is_detected_and_replaced() {
    init_tracing();
    let emu = Emulator::builder()
        .broadcast_sent_messages(false)
        .start()
        .await
        .unwrap();
    let client = connect(&emu).await;
    let mut state = client.state();
    emu.stop_reading(true);
    let stopped = Instant::now();
    let text = "x".repeat(2000);
    // Pipelined 2 KB sends: far more than the socket buffers take.
    let sends: Vec<_> = (0..2000).map(|_| client.send_message("C1", &text)).collect();
    let cause = within("keepalive timeout", reconnect_cause(&mut state)).await;
    let detected = stopped.elapsed();
    assert_eq!(cause, DisconnectCause::KeepaliveTimeout);
    // Keepalive timeout is 300 ms in the test config; the margin covers scheduling.
    assert!(
        detected >= Duration::from_millis(300) && detected < Duration::from_millis(800),
        "detected after {detected:?}"
    );
    emu.stop_reading(false);
    let mut lost = 0;
    for send in sends {
        match within("send outcome", send).await {
            Err(SendError::ConnectionLost) => lost += 1,
            // Sends the dead socket never took go out on the new connection.
            Ok(_) => {}
            Err(other) => panic!("unexpected send error: {other}"),
        }
    }
    assert!(
        lost > 0,
        "sends written to the dead socket fail with ConnectionLost"
    );
    eventually("reconnected", || client.stats().reconnects >= 1).await;
    push_texts(&emu, 0..3);
    assert_eq!(texts(&read_events(&client, 3).await), numbers(0..3));
}

/// Make before break does not wait on the old server: once the replacement says `hello`, its
/// events flow at once, even when the old socket is kept open for seconds.
#[tokio::test]
async fn goodbye_with_a_lingering_old_socket_switches_without_waiting_for_its_close() {
    let emu = Emulator::builder()
        .goodbye_close_delay(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let client = connect(&emu).await;
    push_texts(&emu, 0..3);
    assert_eq!(texts(&read_events(&client, 3).await), numbers(0..3));
    emu.goodbye();
    assert!(
        emu.wait_for_connections(2, Duration::from_secs(5)).await,
        "the replacement said hello"
    );
    let hello_at = Instant::now();
    // Pushed only to the new socket (the old one was told goodbye).
    push_texts(&emu, 3..6);
    let events = read_events(&client, 3).await;
    let first_event_after = hello_at.elapsed();
    assert_eq!(texts(&events), numbers(3..6), "nothing lost, nothing duplicated");
    assert!(
        first_event_after < Duration::from_millis(100),
        "first event from the replacement came {first_event_after:?} after its hello"
    );
    assert_eq!(client.stats().reconnects, 1);
    assert_eq!(emu.connect_calls(), 2, "exactly one new rtm.connect");
}

/// A lone connection that drops retries at once: jitter is for storms, not for one client.
/// (The median of five drops, so one slow scheduling on a shared machine does not decide.)
#[tokio::test]
async fn a_lone_drop_retries_at_once() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let mut gaps = Vec::new();
    for round in 1..=5 {
        eventually("connected", || client.state().borrow().is_connected()).await;
        let calls = emu.connect_calls();
        let dropped = Instant::now();
        emu.drop_connections();
        within("next rtm.connect", async {
            while emu.connect_calls() == calls {
                tokio::task::yield_now().await;
            }
        })
        .await;
        gaps.push(dropped.elapsed());
        eventually("reconnected", || client.stats().reconnects == round).await;
    }
    gaps.sort();
    assert!(
        gaps[2] < Duration::from_millis(10),
        "next rtm.connect after {gaps:?}"
    );
}

/// What `connect()` promises holds the moment it returns, on a multi-threaded runtime too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_agrees_with_connect_the_moment_it_returns() {
    let emu = emulator().await;
    for _ in 0..20 {
        let client = RtmClient::connect(config(&emu).build().unwrap()).await.unwrap();
        assert!(client.state().borrow().is_connected());
        assert_eq!(client.stats().events, 1);
        let hello = client.try_read().unwrap().unwrap();
        assert_eq!(hello.iter().next().map(|e| e.kind()), Some("hello"));
        client.disconnect().await;
    }
}

/// An application's own `ping` resolves with its `pong` (keepalive pongs are told apart by id).
#[tokio::test]
async fn an_applications_own_ping_resolves_with_its_pong() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let reply = within("pong", client.send(&json!({"type": "ping", "time": 7}))).await;
    assert!(reply.is_ok(), "{reply:?}");
}

/// A socket that never says `hello` is abandoned at the default connect timeout and a new
/// attempt starts within 10 s of the stuck one (default configuration, real time).
#[tokio::test]
async fn a_socket_that_never_says_hello_is_abandoned_within_ten_seconds() {
    let emu = Emulator::builder()
        .hello_delay(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let config = rtm_core::ClientConfig::builder(emu.token())
        .api_url(emu.api_url())
        .initial_connect_attempts(2)
        .build()
        .unwrap();
    let started = Instant::now();
    let connecting = tokio::spawn(RtmClient::connect(config));
    tokio::time::timeout(Duration::from_secs(12), async {
        while emu.connect_calls() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a second rtm.connect");
    let next_attempt = started.elapsed();
    assert!(
        next_attempt >= rtm_core::DEFAULT_CONNECT_TIMEOUT && next_attempt < Duration::from_secs(10),
        "second attempt after {next_attempt:?}"
    );
    connecting.abort();
}
