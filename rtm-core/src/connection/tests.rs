//! The connection core on a paused clock, over in-memory sockets: keepalive, reply deadlines,
//! the retry schedule and a peer that stops reading, each to the millisecond and without
//! sleeping.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{FutureExt, SinkExt, StreamExt, future::BoxFuture};
use tokio::{
    io::DuplexStream,
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, protocol::Role},
};

use super::{
    Command, Shared,
    backoff::ReconnectPacer,
    dial::{Connected, Connector, wait_for_hello},
    driver,
    protocol::Protocol,
    rtm::Rtm,
    socket_mode::SocketMode,
};
use crate::{
    ClientConfig, ConnectionInfo, Error, ReplyFuture, SendError,
    outgoing::{MessageFrame, Outgoing},
    reply::ReplySlot,
    state::Counters,
};

type Ws = WebSocketStream<DuplexStream>;

const MS: Duration = Duration::from_millis(1);
const INTERVAL: Duration = Duration::from_millis(5000);
const TIMEOUT: Duration = Duration::from_millis(10_000);
const REPLY_TIMEOUT: Duration = Duration::from_millis(30_000);

/// Hands each connection's server end to the test; fails the attempts it is told to.
struct Pipes<P = Rtm> {
    protocol: P,
    servers: mpsc::UnboundedSender<Ws>,
    /// When each attempt started.
    attempts: Mutex<Vec<Instant>>,
    /// Attempts to fail before the next success.
    failures: Mutex<VecDeque<Error>>,
    /// Bytes each direction of a pipe buffers before a write waits.
    pipe_bytes: usize,
}

impl<P: Protocol> Connector for Pipes<P> {
    type Socket = Ws;
    type Protocol = P;

    fn protocol(&self) -> &P {
        &self.protocol
    }

    fn connect(self: Arc<Self>) -> BoxFuture<'static, Result<Connected<Ws>, Error>> {
        async move {
            self.attempts.lock().unwrap().push(Instant::now());
            if let Some(error) = self.failures.lock().unwrap().pop_front() {
                return Err(error);
            }
            let (client, server) = tokio::io::duplex(self.pipe_bytes);
            let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
            let mut server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
            server.send(Message::text(r#"{"type":"hello"}"#)).await.unwrap();
            let _ = self.servers.send(server);
            let (first_events, first_acks) = wait_for_hello(&self.protocol, &mut client).await?;
            let info: ConnectionInfo =
                serde_json::from_str(r#"{"self":{"id":"U1","name":"bot"},"team":{"id":"T1"}}"#).unwrap();
            Ok(Connected {
                socket: client,
                info,
                first_events,
                first_acks,
            })
        }
        .boxed()
    }
}

struct Harness<P = Rtm> {
    pipes: Arc<Pipes<P>>,
    servers: mpsc::UnboundedReceiver<Ws>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    /// Every driver's commands, in socket order (`commands` is the first's).
    all_commands: Vec<mpsc::UnboundedSender<Command>>,
}

fn config() -> crate::ClientConfigBuilder {
    ClientConfig::builder("xoxb-test")
        .keepalive_interval(INTERVAL)
        .keepalive_timeout(TIMEOUT)
        .reply_timeout(REPLY_TIMEOUT)
        .reconnect_backoff(Duration::from_secs(1), Duration::from_secs(8))
}

async fn start_with(pipe_bytes: usize, failures: Vec<Error>) -> Harness {
    start_config(config().build().unwrap(), pipe_bytes, failures).await
}

async fn start_config(config: ClientConfig, pipe_bytes: usize, failures: Vec<Error>) -> Harness {
    start_protocol(Rtm::new(config.clone()), config, pipe_bytes, failures, 1).await
}

async fn start_protocol<P: Protocol>(
    protocol: P,
    config: ClientConfig,
    pipe_bytes: usize,
    failures: Vec<Error>,
    sockets: usize,
) -> Harness<P> {
    let (servers_tx, servers) = mpsc::unbounded_channel();
    let pipes = Arc::new(Pipes {
        protocol,
        servers: servers_tx,
        attempts: Mutex::new(Vec::new()),
        failures: Mutex::new(failures.into()),
        pipe_bytes,
    });
    let pacer = Arc::new(ReconnectPacer::new(100, 20));
    let (shared, all_commands) = driver::start(
        pipes.clone(),
        &config,
        Arc::new(Counters::default()),
        pacer,
        sockets,
    )
    .await
    .unwrap();
    Harness {
        pipes,
        servers,
        shared,
        commands: all_commands[0].clone(),
        all_commands,
    }
}

async fn start() -> Harness {
    start_with(64 * 1024, Vec::new()).await
}

impl<P: Protocol> Harness<P> {
    async fn server(&mut self) -> Ws {
        self.servers.recv().await.expect("a connection")
    }

    fn send(&self, text: &str) -> ReplyFuture {
        let frame = Outgoing::new(
            &MessageFrame {
                kind: "message",
                channel: "C1",
                text,
            },
            64,
        )
        .unwrap();
        let (slot, reply) = ReplySlot::new(Instant::now() + REPLY_TIMEOUT);
        self.commands
            .send(Command::Send {
                frame,
                reply: Some(slot),
            })
            .ok()
            .unwrap();
        reply
    }

    fn attempts(&self) -> Vec<Instant> {
        self.pipes.attempts.lock().unwrap().clone()
    }

    /// Closes every driver, as `SocketModeClient::disconnect` does.
    async fn disconnect(&self) {
        let mut closing = Vec::new();
        for commands in &self.all_commands {
            let (done, closed) = oneshot::channel();
            commands.send(Command::Close { done }).ok().unwrap();
            closing.push(closed);
        }
        for closed in closing {
            closed.await.unwrap();
        }
    }
}

/// The next text frame the server reads, with when it arrived.
async fn next_text(server: &mut Ws) -> (String, Instant) {
    loop {
        match server.next().await {
            Some(Ok(Message::Text(text))) => return (text.to_string(), Instant::now()),
            Some(Ok(_)) => continue,
            other => panic!("server expected a frame, got {other:?}"),
        }
    }
}

/// A server that sends an event every `every`, never reading, until the socket is gone.
async fn keep_sending(mut server: Ws, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if server
            .send(Message::text(r#"{"type":"user_typing"}"#))
            .await
            .is_err()
        {
            break;
        }
    }
}

/// A quiet connection is probed once quiet for the interval, at the next tick of the grid
/// its checks share with every connection of the process.
fn assert_on_next_grid_tick(quiet_for: Duration) {
    let step = INTERVAL / super::keepalive::GRID_PARTS;
    assert!(
        quiet_for >= INTERVAL && quiet_for < INTERVAL + step,
        "probed after {quiet_for:?} of quiet (interval {INTERVAL:?}, grid step {step:?})"
    );
}

fn id_of(frame: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(frame).unwrap()["id"]
        .as_u64()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn connect_returns_with_hello_recorded() {
    let h = start().await;
    assert!(h.shared.state.borrow().is_connected());
    assert_eq!(h.shared.counters.snapshot().events, 1);
    match h.shared.inbox.try_take() {
        crate::inbox::Take::Events(events) => assert_eq!(events[0].kind(), "hello"),
        _ => panic!("hello must be readable when connect() returns"),
    }
}

#[tokio::test(start_paused = true)]
async fn quiet_connection_is_probed_at_the_interval_and_dropped_at_the_timeout() {
    let mut h = start().await;
    let t0 = Instant::now();
    let mut server = h.server().await;
    let (ping, at) = next_text(&mut server).await;
    assert!(ping.contains(r#""type":"ping""#), "{ping}");
    assert_on_next_grid_tick(at - t0);
    // Never answered: the next connection starts exactly at the timeout.
    let _second = h.server().await;
    let attempts = h.attempts();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1] - t0, TIMEOUT);
    assert_eq!(h.shared.counters.snapshot().reconnects, 1);
}

#[tokio::test(start_paused = true)]
async fn an_answered_probe_keeps_the_connection() {
    let mut h = start().await;
    let t0 = Instant::now();
    let mut server = h.server().await;
    let mut first = None;
    for round in 0..3u32 {
        let (ping, at) = next_text(&mut server).await;
        let first = *first.get_or_insert(at);
        assert_on_next_grid_tick(first - t0);
        assert_eq!(at - first, INTERVAL * round, "probes keep a fixed cadence");
        tokio::time::advance(20 * MS).await;
        let pong = format!(r#"{{"type":"pong","reply_to":{}}}"#, id_of(&ping));
        server.send(Message::text(pong)).await.unwrap();
    }
    assert_eq!(h.attempts().len(), 1, "never reconnected");
}

#[tokio::test(start_paused = true)]
async fn an_applications_own_ping_resolves_with_its_pong() {
    let mut h = start().await;
    let mut server = h.server().await;
    let frame = Outgoing::new(&serde_json::json!({"type": "ping"}), 32).unwrap();
    let (slot, reply) = ReplySlot::new(Instant::now() + REPLY_TIMEOUT);
    h.commands
        .send(Command::Send {
            frame,
            reply: Some(slot),
        })
        .ok()
        .unwrap();
    let (ping, _) = next_text(&mut server).await;
    let pong = format!(r#"{{"type":"pong","reply_to":{}}}"#, id_of(&ping));
    server.send(Message::text(pong)).await.unwrap();
    assert_eq!(reply.await.unwrap().reply_to, id_of(&ping));
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_send_times_out_exactly_at_the_reply_timeout() {
    let mut h = start().await;
    let mut server = h.server().await;
    let sent_at = Instant::now();
    let reply = h.send("hi");
    let (frame, _) = next_text(&mut server).await;
    assert!(frame.contains(r#""text":"hi""#));
    // Keep the connection alive meanwhile, so only the reply deadline is at play.
    let keep_alive = tokio::spawn(keep_sending(server, 1000 * MS));
    let error = reply.await.unwrap_err();
    assert!(
        matches!(error, SendError::Timeout(t) if t == REPLY_TIMEOUT),
        "{error}"
    );
    assert_eq!(Instant::now() - sent_at, REPLY_TIMEOUT);
    keep_alive.abort();
}

#[tokio::test(start_paused = true)]
async fn lost_connections_retry_at_once_then_back_off_exponentially() {
    let transient = || Error::Timeout("test");
    let mut h = start_with(64 * 1024, Vec::new()).await;
    let server = h.server().await;
    h.pipes
        .failures
        .lock()
        .unwrap()
        .extend([transient(), transient(), transient()]);
    let lost_at = Instant::now();
    drop(server);
    let _next = h.server().await;
    let attempts = h.attempts();
    assert_eq!(attempts.len(), 5);
    let gaps: Vec<Duration> = attempts[1..].windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        attempts[1] - lost_at,
        Duration::ZERO,
        "a lone loss retries at once"
    );
    for (gap, full) in gaps.iter().zip([1000u64, 2000, 4000]) {
        let full = Duration::from_millis(full);
        assert!(
            *gap >= full / 2 && *gap <= full,
            "gap {gap:?} outside [{:?}, {full:?}]",
            full / 2
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_reading_is_dropped_within_the_keepalive_timeout() {
    // 8 KiB per direction, plus tungstenite's 128 KiB write buffer: 100 sends of 2 KB fill
    // both, and some never reach the socket.
    let mut h = start_with(8 * 1024, Vec::new()).await;
    let server = h.server().await;
    let text = "x".repeat(2000);
    let stuck_from = Instant::now();
    let replies: Vec<ReplyFuture> = (0..100).map(|_| h.send(&text)).collect();
    // The server keeps sending events but never reads: only the stuck write can tell.
    let pusher = tokio::spawn(keep_sending(server, 500 * MS));
    let mut next = h.server().await;
    let detected = h.attempts()[1] - stuck_from;
    assert_eq!(
        detected, TIMEOUT,
        "reconnects exactly when the write has waited the keepalive timeout"
    );
    // The new server reads and answers everything.
    let answering = tokio::spawn(async move {
        while let Some(Ok(message)) = next.next().await {
            if let Message::Text(frame) = message {
                let ok = format!(r#"{{"ok":true,"reply_to":{},"ts":"1.1"}}"#, id_of(&frame));
                next.send(Message::text(ok)).await.unwrap();
            }
        }
    });
    let (mut lost, mut sent_later) = (0, 0);
    for reply in replies {
        match reply.await {
            Err(SendError::ConnectionLost) => lost += 1,
            // Frames that never reached the dead socket go out on the next connection.
            Ok(_) => sent_later += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        lost >= 1,
        "frames written to the dead socket fail with ConnectionLost"
    );
    assert!(sent_later >= 1, "frames the dead socket never took are not lost");
    assert_eq!(lost + sent_later, 100);
    assert_eq!(h.attempts().len(), 2);
    pusher.abort();
    answering.abort();
}

#[tokio::test(start_paused = true)]
async fn sends_queued_while_reconnecting_that_outlive_their_timeout_are_never_sent() {
    let mut h = start().await;
    let server = h.server().await;
    h.pipes
        .failures
        .lock()
        .unwrap()
        .extend((0..10).map(|_| Error::Timeout("test")));
    drop(server);
    tokio::task::yield_now().await;
    let reply = h.send("late");
    let error = reply.await.unwrap_err();
    assert!(
        matches!(error, SendError::NotSent(t) if t == REPLY_TIMEOUT),
        "{error}"
    );
    assert!(error.was_not_sent());
    h.pipes.failures.lock().unwrap().clear();
    let mut next = h.server().await;
    let reply = h.send("on time");
    let (frame, _) = next_text(&mut next).await;
    assert!(
        frame.contains("on time"),
        "the expired send was never written: {frame}"
    );
    let ok = format!(r#"{{"ok":true,"reply_to":{},"ts":"1.1"}}"#, id_of(&frame));
    next.send(Message::text(ok)).await.unwrap();
    assert_eq!(reply.await.unwrap().ts.as_deref(), Some("1.1"));
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn paced_sends_go_out_in_a_burst_then_one_per_interval_and_none_is_refused() {
    let config = config()
        .pace_sends(Duration::from_secs(1), 3)
        .reply_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut h = start_config(config, 64 * 1024, Vec::new()).await;
    let mut server = h.server().await;
    let t0 = Instant::now();
    let replies: Vec<ReplyFuture> = (0..6).map(|i| h.send(&format!("m{i}"))).collect();
    let mut written = Vec::new();
    while written.len() < 6 {
        let (frame, at) = next_text(&mut server).await;
        if frame.contains(r#""type":"ping""#) {
            continue;
        }
        let ok = format!(r#"{{"ok":true,"reply_to":{},"ts":"1.1"}}"#, id_of(&frame));
        server.send(Message::text(ok)).await.unwrap();
        written.push(at - t0);
    }
    let s = Duration::from_secs(1);
    assert_eq!(
        written,
        [Duration::ZERO, Duration::ZERO, Duration::ZERO, s, 2 * s, 3 * s]
    );
    // The last waited 3 s in the queue with a 2 s reply timeout: the timeout counts from the
    // write, so pacing never turns into a refusal.
    for reply in replies {
        assert!(reply.await.is_ok());
    }
}

#[tokio::test(start_paused = true)]
async fn a_reader_waiting_on_a_reply_behind_a_full_buffer_gets_it_after_the_stall() {
    let config = config().event_buffer(2).build().unwrap();
    let mut h = start_config(config, 64 * 1024, Vec::new()).await;
    let mut server = h.server().await;
    for i in 0..5 {
        let event = format!(r#"{{"type":"message","text":"{i}"}}"#);
        server.send(Message::text(event)).await.unwrap();
    }
    // Nobody reads for a minute: the buffer is full, reading paused, and that pause is not
    // silence (the server answers pings only if it can read them; here it cannot).
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.attempts().len(), 1, "a paused connection is not declared dead");
    // The reader sends and awaits the reply before reading on.
    let reply = h.send("behind");
    let waiting_since = Instant::now();
    let server_task = tokio::spawn(async move {
        loop {
            let (frame, _) = next_text(&mut server).await;
            if frame.contains("behind") {
                let ok = format!(r#"{{"ok":true,"reply_to":{},"ts":"1.1"}}"#, id_of(&frame));
                server.send(Message::text(ok)).await.unwrap();
                return server;
            }
            let pong = format!(r#"{{"type":"pong","reply_to":{}}}"#, id_of(&frame));
            server.send(Message::text(pong)).await.unwrap();
        }
    });
    assert!(reply.await.is_ok());
    assert_eq!(
        Instant::now() - waiting_since,
        super::read_gate::READER_STALL,
        "read past the full buffer exactly after the stall"
    );
    assert_eq!(h.attempts().len(), 1);
    drop(server_task);
}

// Socket Mode over the same core.

/// One socket, whatever the config says.
async fn start_socket_mode(config: ClientConfig) -> Harness<SocketMode> {
    start_sockets(config, 1).await
}

async fn start_sockets(config: ClientConfig, sockets: usize) -> Harness<SocketMode> {
    let info: ConnectionInfo =
        serde_json::from_str(r#"{"self":{"id":"U1","name":"bot"},"team":{"id":"T1"}}"#).unwrap();
    let protocol = SocketMode::new(config.clone(), crate::Token::from("xapp-test"), info);
    start_protocol(protocol, config, 64 * 1024, Vec::new(), sockets).await
}

fn envelope(envelope_id: &str, event_id: &str, text: &str) -> Message {
    Message::text(
        serde_json::json!({"envelope_id": envelope_id, "type": "events_api", "retry_attempt": 0, "retry_reason": "",
                           "payload": {"event_id": event_id, "event": {"type": "message", "text": text}}})
        .to_string(),
    )
}

/// Every event buffered so far, by text (`hello` and `disconnect` skipped).
fn buffered_texts(shared: &Shared) -> Vec<String> {
    match shared.inbox.try_take() {
        crate::inbox::Take::Events(events) => events
            .iter()
            .filter(|e| e.kind() == "message")
            .map(|e| {
                e.parse::<serde_json::Value>().unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn socket_mode_acks_at_once_and_a_retiring_socket_still_acks_what_it_delivered() {
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut old = h.server().await;
    let t0 = Instant::now();
    old.send(envelope("e1", "Ev1", "one")).await.unwrap();
    let (ack, at) = next_text(&mut old).await;
    assert_eq!(ack, r#"{"envelope_id":"e1"}"#);
    assert_eq!(at, t0, "acked in the same instant, nobody reading");

    // Refresh: the next socket opens before the old one goes; an envelope the old socket
    // delivers meanwhile is acked, and its redelivery on the new socket is acked, not delivered.
    old.send(Message::text(
        r#"{"type":"disconnect","reason":"refresh_requested"}"#,
    ))
    .await
    .unwrap();
    old.send(envelope("e2", "Ev2", "two")).await.unwrap();
    let mut new = h.server().await;
    new.send(envelope("e3", "Ev2", "two")).await.unwrap();
    new.send(envelope("e4", "Ev3", "three")).await.unwrap();
    // e2's ack goes out on the old socket, or first thing on the new one if the old one was
    // already let go: exactly once either way.
    let mut acks = Vec::new();
    while let Some(Ok(frame)) = old.next().await {
        if let Message::Text(text) = frame {
            acks.push(text.to_string());
        }
    }
    while acks.len() < 3 {
        acks.push(next_text(&mut new).await.0);
    }
    assert_eq!(
        acks,
        [
            r#"{"envelope_id":"e2"}"#,
            r#"{"envelope_id":"e3"}"#,
            r#"{"envelope_id":"e4"}"#
        ]
    );
    assert_eq!(buffered_texts(&h.shared), ["one", "two", "three"]);
    assert_eq!(h.attempts().len(), 2);
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn socket_mode_link_disabled_stops_for_good() {
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut server = h.server().await;
    server.send(envelope("e1", "Ev1", "before")).await.unwrap();
    server
        .send(Message::text(r#"{"type":"disconnect","reason":"link_disabled"}"#))
        .await
        .unwrap();
    let mut texts = Vec::new();
    let error = loop {
        match h.shared.inbox.take().await {
            Ok(Some(events)) => texts.extend(
                events
                    .iter()
                    .filter(|e| e.kind() == "message")
                    .map(|e| e.json().to_owned()),
            ),
            Ok(None) => panic!("ended without the error"),
            Err(error) => break error,
        }
    };
    assert!(matches!(error, Error::LinkDisabled), "{error:?}");
    assert_eq!(texts.len(), 1, "what came before is delivered first");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.attempts().len(), 1, "never reconnects");
}

#[tokio::test(start_paused = true)]
async fn socket_mode_too_many_websockets_backs_off_more_each_time() {
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut waits = Vec::new();
    for _ in 0..4 {
        let mut server = h.server().await;
        let at = Instant::now();
        server
            .send(Message::text(
                r#"{"type":"disconnect","reason":"too_many_websockets"}"#,
            ))
            .await
            .unwrap();
        let next_socket = h.server().await;
        let attempts = h.attempts();
        waits.push(*attempts.last().unwrap() - at);
        drop(server);
        // Hand the new socket back for the next round.
        let _ = h.pipes.servers.send(next_socket);
    }
    // Backoff 1 s..8 s with equal jitter: upper half of 1, 2, 4, 8 s; never at once.
    for (wait, ceiling) in waits.iter().zip([1u64, 2, 4, 8]) {
        let ceiling = Duration::from_secs(ceiling);
        assert!(*wait >= ceiling / 2 && *wait <= ceiling, "{waits:?}");
    }
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn socket_mode_probes_with_websocket_pings_and_drops_a_silent_peer() {
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut server = h.server().await;
    let t0 = Instant::now();
    // The probe is a websocket ping (Socket Mode has no JSON ping), sent when quiet.
    let probe = server.next().await.expect("a frame").expect("readable");
    assert!(matches!(probe, Message::Ping(_)), "{probe:?}");
    assert_on_next_grid_tick(Instant::now() - t0);
    // From now on the peer reads nothing and sends nothing: no pong, so it is dead.
    let _silent = server;
    let _next = h.server().await;
    let attempts = h.attempts();
    assert_eq!(attempts.len(), 2);
    let after = attempts[1] - t0;
    assert!(after > INTERVAL && after <= INTERVAL * 2 + TIMEOUT, "{after:?}");
}

// Several sockets per client (Socket Mode): one driver each, one inbox.

/// What a socket's server reads until the client closes it: text frames, then `"<close>"`
/// for a close frame or `"<gone>"` when the socket just ended.
async fn until_closed(server: &mut Ws) -> Vec<String> {
    let mut frames = Vec::new();
    loop {
        match server.next().await {
            Some(Ok(Message::Text(text))) => frames.push(text.to_string()),
            Some(Ok(Message::Close(_))) => {
                frames.push("<close>".to_owned());
                return frames;
            }
            Some(Ok(_)) => {}
            _ => {
                frames.push("<gone>".to_owned());
                return frames;
            }
        }
    }
}

/// Lets the drivers handle what has arrived, without moving the clock.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

fn open_sockets<P>(h: &Harness<P>) -> usize {
    h.shared.fleet.open()
}

#[tokio::test(start_paused = true)]
async fn two_sockets_open_one_after_another_and_deliver_into_one_inbox() {
    let mut h = start_sockets(config().build().unwrap(), 2).await;
    assert_eq!(open_sockets(&h), 1, "connect returns with the first socket open");
    let mut a = h.server().await;
    let mut b = h.server().await;
    settle().await;
    assert_eq!(open_sockets(&h), 2);
    assert_eq!(h.attempts().len(), 2);

    a.send(envelope("e1", "Ev1", "one")).await.unwrap();
    b.send(envelope("e2", "Ev2", "two")).await.unwrap();
    // Each socket acks what it delivered.
    assert_eq!(next_text(&mut a).await.0, r#"{"envelope_id":"e1"}"#);
    assert_eq!(next_text(&mut b).await.0, r#"{"envelope_id":"e2"}"#);
    settle().await;
    let mut texts = buffered_texts(&h.shared);
    texts.sort();
    assert_eq!(texts, ["one", "two"]);
    let stats = h.shared.counters.snapshot();
    assert_eq!(
        stats.events, 4,
        "two hellos and two events, summed over the sockets"
    );
    assert_eq!(stats.reconnects, 0, "a second socket is not a reconnect");
    assert!(h.shared.state.borrow().is_connected());
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn a_socket_waits_its_turn_while_the_one_before_it_cannot_open() {
    let mut h = start_sockets(config().build().unwrap(), 3).await;
    // The second socket's first attempt fails: the third must not start meanwhile.
    h.pipes.failures.lock().unwrap().push_back(Error::Timeout("test"));
    let _a = h.server().await;
    tokio::time::sleep(100 * MS).await;
    assert_eq!(
        h.attempts().len(),
        2,
        "the third socket waits for the second's hello"
    );
    assert_eq!(open_sockets(&h), 1);
    let _b = h.server().await;
    let _c = h.server().await;
    let attempts = h.attempts();
    assert_eq!(attempts.len(), 4);
    let retry_after = attempts[2] - attempts[1];
    assert!(
        retry_after >= Duration::from_millis(500) && retry_after <= Duration::from_secs(1),
        "a failed socket backs off: {retry_after:?}"
    );
    settle().await;
    assert_eq!(open_sockets(&h), 3);
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn the_same_event_on_two_sockets_is_acked_on_each_and_delivered_once() {
    let mut h = start_sockets(config().build().unwrap(), 2).await;
    let mut a = h.server().await;
    let mut b = h.server().await;
    a.send(envelope("e1", "EvSame", "same")).await.unwrap();
    b.send(envelope("e2", "EvSame", "same")).await.unwrap();
    assert_eq!(next_text(&mut a).await.0, r#"{"envelope_id":"e1"}"#);
    assert_eq!(next_text(&mut b).await.0, r#"{"envelope_id":"e2"}"#);
    settle().await;
    assert_eq!(buffered_texts(&h.shared), ["same"]);
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn refreshing_one_socket_never_leaves_the_client_without_an_open_socket() {
    let mut h = start_sockets(config().build().unwrap(), 2).await;
    let mut a = h.server().await;
    let mut b = h.server().await;
    settle().await;
    let mut sent = 0;
    let mut step = |h: &Harness<SocketMode>, what: &str| {
        assert!(open_sockets(h) >= 1, "{what}: no socket open");
        assert!(h.shared.state.borrow().is_connected(), "{what}");
        sent += 1;
        envelope(&format!("e{sent}"), &format!("Ev{sent}"), &format!("m{sent}"))
    };
    for round in 0..2 {
        // Refresh whichever socket is first now; the other one keeps delivering meanwhile.
        a.send(step(&h, "before")).await.unwrap();
        a.send(Message::text(
            r#"{"type":"disconnect","reason":"refresh_requested"}"#,
        ))
        .await
        .unwrap();
        b.send(step(&h, "refresh sent")).await.unwrap();
        a.send(step(&h, "refresh sent")).await.unwrap();
        let mut replacement = h.server().await;
        b.send(step(&h, "replacement open")).await.unwrap();
        replacement.send(step(&h, "replacement open")).await.unwrap();
        // The client lets the retiring socket go once the replacement said hello (acks it
        // owes go out on the old socket or first thing on the replacement).
        until_closed(&mut a).await;
        settle().await;
        assert_eq!(open_sockets(&h), 2, "round {round}");
        b.send(step(&h, "after")).await.unwrap();
        settle().await;
        a = b;
        b = replacement;
    }
    let mut texts = buffered_texts(&h.shared);
    texts.sort_by_key(|t| t[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (1..=sent).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected, "nothing lost, nothing twice");
    assert_eq!(
        h.attempts().len(),
        4,
        "two sockets plus one replacement per refresh"
    );
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn too_many_websockets_on_one_socket_backs_it_off_while_the_other_delivers() {
    let mut h = start_sockets(config().build().unwrap(), 2).await;
    let mut a = h.server().await;
    let b = {
        let mut b = h.server().await;
        b.send(Message::text(
            r#"{"type":"disconnect","reason":"too_many_websockets"}"#,
        ))
        .await
        .unwrap();
        b
    };
    let over_cap_at = Instant::now();
    settle().await;
    assert_eq!(open_sockets(&h), 1);
    assert!(
        h.shared.state.borrow().is_connected(),
        "still connected through the other socket"
    );
    a.send(envelope("e1", "Ev1", "meanwhile")).await.unwrap();
    assert_eq!(next_text(&mut a).await.0, r#"{"envelope_id":"e1"}"#);
    settle().await;
    assert_eq!(buffered_texts(&h.shared), ["meanwhile"]);
    drop(b);
    let _b2 = h.server().await;
    let waited = *h.attempts().last().unwrap() - over_cap_at;
    assert!(
        waited >= Duration::from_millis(500) && waited <= Duration::from_secs(1),
        "backed off, not at once: {waited:?}"
    );
    assert_eq!(h.attempts().len(), 3);
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn the_state_is_reconnecting_only_when_no_socket_is_open() {
    let mut h = start_sockets(config().build().unwrap(), 2).await;
    let a = h.server().await;
    let b = h.server().await;
    settle().await;
    let mut state = h.shared.state.subscribe();
    // Reconnects keep failing for a while.
    h.pipes
        .failures
        .lock()
        .unwrap()
        .extend((0..4).map(|_| Error::Timeout("test")));
    drop(a);
    settle().await;
    assert!(state.borrow_and_update().is_connected(), "one socket left");
    assert_eq!(open_sockets(&h), 1);
    drop(b);
    settle().await;
    assert!(
        matches!(
            &*state.borrow_and_update(),
            crate::ConnectionState::Reconnecting { .. }
        ),
        "{:?}",
        *state.borrow()
    );
    assert_eq!(open_sockets(&h), 0);
    let _next = h.server().await;
    settle().await;
    assert!(state.borrow_and_update().is_connected());
    let _other = h.server().await;
    settle().await;
    assert_eq!(open_sockets(&h), 2);
    assert_eq!(h.shared.counters.snapshot().reconnects, 2, "one per socket");
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn link_disabled_on_one_socket_stops_every_socket() {
    let mut h = start_sockets(config().build().unwrap(), 2).await;
    let mut a = h.server().await;
    let mut b = h.server().await;
    b.send(envelope("e1", "Ev1", "before")).await.unwrap();
    assert_eq!(next_text(&mut b).await.0, r#"{"envelope_id":"e1"}"#);
    a.send(Message::text(r#"{"type":"disconnect","reason":"link_disabled"}"#))
        .await
        .unwrap();
    // The other socket is closed cleanly, with a close frame.
    assert_eq!(until_closed(&mut b).await, ["<close>"]);
    let mut delivered = 0;
    let error = loop {
        match h.shared.inbox.take().await {
            Ok(Some(events)) => delivered += events.iter().filter(|e| e.kind() == "message").count(),
            Ok(None) => panic!("ended without the error"),
            Err(error) => break error,
        }
    };
    assert!(matches!(error, Error::LinkDisabled), "{error:?}");
    assert_eq!(delivered, 1, "what came before is delivered first");
    assert!(matches!(
        &*h.shared.state.borrow(),
        crate::ConnectionState::Closed {
            error: Some(Error::LinkDisabled)
        }
    ));
    assert_eq!(open_sockets(&h), 0);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.attempts().len(), 2, "no socket reconnects");
    // Both channels are closed: nothing is left running.
    assert!(h.all_commands.iter().all(mpsc::UnboundedSender::is_closed));
}

#[tokio::test(start_paused = true)]
async fn disconnect_closes_every_socket_after_its_acks_and_readers_see_the_end_once() {
    let mut h = start_sockets(config().build().unwrap(), 2).await;
    let mut a = h.server().await;
    let mut b = h.server().await;
    a.send(envelope("e1", "Ev1", "on a")).await.unwrap();
    b.send(envelope("e2", "Ev2", "on b")).await.unwrap();
    settle().await;
    h.disconnect().await;
    assert_eq!(until_closed(&mut a).await, [r#"{"envelope_id":"e1"}"#, "<close>"]);
    assert_eq!(until_closed(&mut b).await, [r#"{"envelope_id":"e2"}"#, "<close>"]);
    let mut texts = buffered_texts(&h.shared);
    texts.sort();
    assert_eq!(texts, ["on a", "on b"]);
    assert!(matches!(h.shared.inbox.take().await, Ok(None)));
    assert!(
        matches!(h.shared.inbox.take().await, Ok(None)),
        "the end stays the end"
    );
    assert!(matches!(
        &*h.shared.state.borrow(),
        crate::ConnectionState::Closed { error: None }
    ));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.attempts().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_socket_not_open_yet_stops_on_disconnect_without_opening() {
    let mut h = start_sockets(config().build().unwrap(), 2).await;
    // The second socket cannot open for now.
    h.pipes
        .failures
        .lock()
        .unwrap()
        .extend((0..10).map(|_| Error::Timeout("test")));
    let _a = h.server().await;
    tokio::time::sleep(100 * MS).await;
    h.disconnect().await;
    let tried = h.attempts().len();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.attempts().len(), tried, "stopped retrying");
    assert!(matches!(h.shared.inbox.try_take(), crate::inbox::Take::Events(_)));
    assert!(matches!(
        h.shared.inbox.try_take(),
        crate::inbox::Take::Ended(Ok(()))
    ));
}

// Socket Mode: acks held for an answer, within the response budget.

const BUDGET: Duration = crate::DEFAULT_RESPONSE_BUDGET;
const RESPONSE_URL: &str = "http://127.0.0.1:9/response_url/r1";

fn slash(envelope_id: &str) -> Message {
    Message::text(
        serde_json::json!({"envelope_id": envelope_id, "type": "slash_commands", "accepts_response_payload": true,
                           "payload": {"command": "/deploy", "text": "now", "response_url": RESPONSE_URL}})
        .to_string(),
    )
}

/// Reads until an event of `kind` arrives.
async fn next_event(shared: &Shared, kind: &str) -> crate::Event {
    loop {
        let events = shared.inbox.take().await.unwrap().expect("not closed");
        if let Some(event) = events.into_iter().find(|e| e.kind() == kind) {
            return event;
        }
    }
}

fn answer(text: &str) -> serde_json::Value {
    serde_json::json!({ "text": text })
}

#[tokio::test(start_paused = true)]
async fn socket_mode_an_answer_inside_the_budget_goes_in_the_ack() {
    use crate::respond::{Outcome, answer as respond};
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut server = h.server().await;
    let t0 = Instant::now();
    server.send(slash("s1")).await.unwrap();
    let event = next_event(&h.shared, "slash_commands").await;
    assert!(event.envelope().unwrap().accepts_response_payload());
    tokio::time::sleep(500 * MS).await;
    assert_eq!(
        respond(&event, answer("deploying")).await.unwrap(),
        Outcome::InAck
    );
    let (ack, at) = next_text(&mut server).await;
    assert_eq!(ack, r#"{"envelope_id":"s1","payload":{"text":"deploying"}}"#);
    assert_eq!(at - t0, 500 * MS);
    // Nothing more goes at the budget; a second answer is a follow-up for the response_url.
    tokio::time::sleep(BUDGET).await;
    server.send(envelope("e1", "Ev1", "after")).await.unwrap();
    assert_eq!(next_text(&mut server).await.0, r#"{"envelope_id":"e1"}"#);
    assert_eq!(
        respond(&event, answer("done")).await.unwrap(),
        Outcome::PostTo {
            url: RESPONSE_URL.into(),
            body: answer("done")
        }
    );
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn socket_mode_an_unanswered_ack_goes_empty_exactly_at_the_budget_even_unread() {
    // hello and the envelope fill the buffer: reading pauses, nobody ever reads.
    let config = config().event_buffer(2).build().unwrap();
    let mut h = start_socket_mode(config).await;
    let mut server = h.server().await;
    let t0 = Instant::now();
    server.send(slash("s1")).await.unwrap();
    let (ack, at) = next_text(&mut server).await;
    assert_eq!(ack, r#"{"envelope_id":"s1"}"#);
    assert_eq!(at - t0, BUDGET, "acked empty exactly when the budget ran out");
    // A shorter budget is honoured the same way.
    let config = self::config().response_budget(300 * MS).build().unwrap();
    let mut h2 = start_socket_mode(config).await;
    let mut server = h2.server().await;
    let t0 = Instant::now();
    server.send(slash("s2")).await.unwrap();
    let (ack, at) = next_text(&mut server).await;
    assert_eq!((ack.as_str(), at - t0), (r#"{"envelope_id":"s2"}"#, 300 * MS));
    assert_eq!(
        h.attempts().len(),
        1,
        "a reader that never reads does not cost the socket"
    );
}

#[tokio::test(start_paused = true)]
async fn socket_mode_a_late_answer_goes_to_the_response_url() {
    use crate::respond::{Outcome, answer as respond};
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut server = h.server().await;
    server.send(slash("s1")).await.unwrap();
    let view = r#"{"envelope_id":"v1","type":"interactive","accepts_response_payload":true,"payload":{"type":"view_submission","response_urls":[]}}"#;
    server.send(Message::text(view)).await.unwrap();
    let mut events = Vec::new();
    while events.len() < 3 {
        events.extend(h.shared.inbox.take().await.unwrap().expect("not closed"));
    }
    let (event, view) = (events[1].clone(), events[2].clone());
    assert_eq!((event.kind(), view.kind()), ("slash_commands", "interactive"));
    assert_eq!(next_text(&mut server).await.0, r#"{"envelope_id":"s1"}"#);
    assert_eq!(next_text(&mut server).await.0, r#"{"envelope_id":"v1"}"#);
    assert_eq!(
        respond(&event, answer("late")).await.unwrap(),
        Outcome::PostTo {
            url: RESPONSE_URL.into(),
            body: answer("late")
        }
    );
    // A view submission without response_urls has nowhere to take a late answer.
    let late = serde_json::json!({"response_action": "clear"});
    assert!(matches!(
        respond(&view, late).await,
        Err(crate::RespondError::NotAnswerable)
    ));
    // Nor has an RTM-style event without an envelope.
    let plain = crate::Event::from_json(r#"{"type":"message"}"#).unwrap();
    assert!(matches!(
        respond(&plain, answer("x")).await,
        Err(crate::RespondError::NotAnswerable)
    ));
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn socket_mode_an_oversize_answer_is_refused_and_the_ack_stays_held() {
    use crate::respond::{Outcome, answer as respond};
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut server = h.server().await;
    let t0 = Instant::now();
    server.send(slash("s1")).await.unwrap();
    let event = next_event(&h.shared, "slash_commands").await;
    let huge = answer(&"x".repeat(super::socket_mode::MAX_ACK_BYTES));
    let error = respond(&event, huge).await.unwrap_err();
    assert!(
        matches!(error, crate::RespondError::TooLarge { len, max } if len > max && max == super::socket_mode::MAX_ACK_BYTES - 1),
        "{error}"
    );
    assert!(event.envelope().unwrap().accepts_response_payload());
    // Still held: a smaller answer goes in the ack, and it is the only ack.
    assert_eq!(respond(&event, answer("short")).await.unwrap(), Outcome::InAck);
    let (ack, at) = next_text(&mut server).await;
    assert_eq!(ack, r#"{"envelope_id":"s1","payload":{"text":"short"}}"#);
    assert_eq!(at, t0);
    tokio::time::sleep(BUDGET * 2).await;
    server.send(envelope("e1", "Ev1", "after")).await.unwrap();
    assert_eq!(next_text(&mut server).await.0, r#"{"envelope_id":"e1"}"#);
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn socket_mode_ack_releases_a_held_ack_early_and_once() {
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut server = h.server().await;
    let t0 = Instant::now();
    server.send(slash("s1")).await.unwrap();
    let event = next_event(&h.shared, "slash_commands").await;
    tokio::time::sleep(100 * MS).await;
    crate::respond::release(&event);
    crate::respond::release(&event);
    let (ack, at) = next_text(&mut server).await;
    assert_eq!((ack.as_str(), at - t0), (r#"{"envelope_id":"s1"}"#, 100 * MS));
    // Past the budget nothing else went for it.
    tokio::time::sleep(BUDGET * 2).await;
    server.send(envelope("e1", "Ev1", "after")).await.unwrap();
    assert_eq!(next_text(&mut server).await.0, r#"{"envelope_id":"e1"}"#);
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn socket_mode_a_held_ack_outlives_a_lost_socket() {
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut old = h.server().await;
    let t0 = Instant::now();
    old.send(slash("s1")).await.unwrap();
    let _event = next_event(&h.shared, "slash_commands").await;
    drop(old);
    let mut new = h.server().await;
    let (ack, at) = next_text(&mut new).await;
    assert_eq!((ack.as_str(), at - t0), (r#"{"envelope_id":"s1"}"#, BUDGET));
    h.disconnect().await;
}

#[tokio::test(start_paused = true)]
async fn socket_mode_an_answer_after_the_connection_stopped_is_connection_gone() {
    let mut h = start_socket_mode(config().build().unwrap()).await;
    let mut server = h.server().await;
    server.send(slash("s1")).await.unwrap();
    let event = next_event(&h.shared, "slash_commands").await;
    server
        .send(Message::text(r#"{"type":"disconnect","reason":"link_disabled"}"#))
        .await
        .unwrap();
    while h.shared.inbox.take().await.is_ok() {}
    let error = crate::respond::answer(&event, answer("too late"))
        .await
        .unwrap_err();
    assert!(matches!(error, crate::RespondError::ConnectionGone), "{error}");
    crate::respond::release(&event); // a no-op, not a panic
}
