//! Tests of the emulator over loopback, with reqwest for HTTP and tokio-tungstenite for the
//! websocket, as a client would use it. Every await is bounded.

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use super::*;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Bound for anything that should happen.
const WAIT: Duration = Duration::from_secs(5);
/// How long to listen to make sure something does not happen.
const QUIET: Duration = Duration::from_millis(300);

async fn within<F: Future>(fut: F) -> F::Output {
    timeout(WAIT, fut).await.expect("timed out")
}

/// A plain-HTTP client. reqwest is built without a default crypto provider, so it gets a
/// ring-based rustls config even though no TLS is used here.
fn http() -> reqwest::Client {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .expect("plain HTTP client")
}

async fn body(response: reqwest::Response) -> Value {
    within(response.json()).await.expect("JSON body")
}

async fn get(url: String) -> reqwest::Response {
    within(http().get(url).send()).await.expect("request")
}

async fn rtm_connect(emu: &Emulator) -> Value {
    let url = format!("{}rtm.connect", emu.api_url());
    let request = http().get(url).bearer_auth(emu.token()).send();
    body(within(request).await.expect("request")).await
}

async fn socket_url(emu: &Emulator) -> String {
    let answer = rtm_connect(emu).await;
    assert_eq!(answer["ok"], true, "{answer}");
    answer["url"].as_str().expect("url").to_owned()
}

async fn open_url(url: &str) -> Client {
    within(connect_async(url)).await.expect("websocket").0
}

/// Connects and checks that `hello` is the first frame.
async fn open(emu: &Emulator) -> Client {
    let mut ws = open_url(&socket_url(emu).await).await;
    assert_eq!(next_json(&mut ws).await, json!({"type": "hello"}));
    ws
}

/// The next text frame as JSON, skipping websocket control frames.
async fn next_json(ws: &mut Client) -> Value {
    serde_json::from_str(&next_text(ws).await).expect("JSON frame")
}

async fn next_text(ws: &mut Client) -> String {
    loop {
        match within(ws.next()).await {
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn send(ws: &mut Client, frame: Value) {
    within(ws.send(Message::Text(frame.to_string().into())))
        .await
        .expect("send");
}

/// Asserts that no data frame arrives for a while.
async fn assert_quiet(ws: &mut Client) {
    let deadline = Instant::now() + QUIET;
    loop {
        match timeout(deadline.saturating_duration_since(Instant::now()), ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(other) => panic!("expected silence, got {other:?}"),
        }
    }
}

/// How a socket ended.
#[derive(Debug, PartialEq)]
enum End {
    /// A close frame with this code arrived.
    Closed(CloseCode),
    /// The connection ended without a close frame.
    Cut,
}

/// Reads until the socket ends; data frames before the end are returned too. After a close
/// frame it keeps reading, as a client must, so tungstenite sends the close reply.
async fn read_to_end(ws: &mut Client) -> (Vec<Value>, End) {
    let mut frames = Vec::new();
    let mut end = End::Cut;
    loop {
        match within(ws.next()).await {
            Some(Ok(Message::Text(text))) => frames.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                end = End::Closed(frame.map_or(CloseCode::Status, |f| f.code));
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (frames, end),
        }
    }
}

/// Polls a condition until it holds.
async fn eventually(mut condition: impl FnMut() -> bool) {
    within(async {
        while !condition() {
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// Sends raw bytes over plain TCP, ends the request side, and returns everything the server
/// answers until it closes.
async fn raw_http(emu: &Emulator, request: Vec<u8>) -> String {
    let addr = emu.shared().addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.write_all(&request).unwrap();
        tcp.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer);
        answer
    });
    String::from_utf8_lossy(&within(answer).await.unwrap()).into_owned()
}

// ---------------------------------------------------------------------------- rtm.connect

#[tokio::test]
async fn rtm_connect_succeeds_with_header_form_and_query_tokens() {
    let emu = Emulator::start().await.unwrap();
    let answer = rtm_connect(&emu).await;
    let prefix = format!("ws://{}/websocket/", emu.shared().addr);
    assert!(answer["url"].as_str().unwrap().starts_with(&prefix), "{answer}");
    assert_eq!(
        answer["team"],
        json!({"id": "T0EMU", "name": "Emulated Team", "domain": "emulated"})
    );
    assert_eq!(answer["self"], json!({"id": "U0BOT", "name": "rtm-bot"}));

    let form = http()
        .post(format!("{}rtm.connect", emu.api_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("batch_presence_aware=1&token={}", emu.token()))
        .send();
    let response = within(form).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("application/json"));
    assert_eq!(body(response).await["ok"], true);

    let query = get(format!("{}rtm.start?token={}", emu.api_url(), emu.token())).await;
    assert_eq!(body(query).await["ok"], true);
    assert_eq!(emu.connect_calls(), 3);
    assert!(emu.api_url().ends_with("/api/"));
}

#[tokio::test]
async fn rtm_connect_rejects_bad_tokens_and_unknown_methods() {
    let emu = Emulator::builder().token("xoxb-right").start().await.unwrap();
    assert_eq!(emu.token(), "xoxb-right");
    let none = get(format!("{}rtm.connect", emu.api_url())).await;
    assert_eq!(none.status(), 200);
    assert_eq!(body(none).await, json!({"ok": false, "error": "not_authed"}));

    let wrong = http()
        .get(format!("{}rtm.connect", emu.api_url()))
        .bearer_auth("xoxb-wrong")
        .send();
    let wrong = body(within(wrong).await.unwrap()).await;
    assert_eq!(wrong, json!({"ok": false, "error": "invalid_auth"}));

    let unknown = get(format!("{}files.bogusMethod?token=xoxb-right", emu.api_url())).await;
    assert_eq!(body(unknown).await["error"], "unknown_method");
    assert_eq!(emu.connect_calls(), 2);

    let auth = get(format!("{}auth.test?token=xoxb-right", emu.api_url())).await;
    let auth = body(auth).await;
    assert_eq!(auth["user_id"], "U0BOT");
    assert_eq!(auth["team_id"], "T0EMU");
}

#[tokio::test]
async fn rate_limited_connects_get_429_with_retry_after() {
    let emu = Emulator::start().await.unwrap();
    emu.rate_limit_connects(2, 7);
    for _ in 0..2 {
        let request = http()
            .get(format!("{}rtm.connect", emu.api_url()))
            .bearer_auth(emu.token())
            .send();
        let response = within(request).await.unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(body(response).await, json!({"ok": false, "error": "ratelimited"}));
    }
    assert_eq!(rtm_connect(&emu).await["ok"], true);
    assert_eq!(emu.connect_calls(), 3);
}

#[tokio::test]
async fn connects_over_the_per_second_limit_get_429() {
    let emu = Emulator::builder()
        .max_connects_per_sec(Some(2))
        .start()
        .await
        .unwrap();
    assert_eq!(rtm_connect(&emu).await["ok"], true);
    assert_eq!(rtm_connect(&emu).await["ok"], true);
    let request = http()
        .get(format!("{}rtm.connect", emu.api_url()))
        .bearer_auth(emu.token())
        .send();
    let response = within(request).await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
}

#[tokio::test]
async fn scripted_connect_failures() {
    let emu = Emulator::start().await.unwrap();
    emu.fail_connects("migration_in_progress", Some(1));
    assert_eq!(
        rtm_connect(&emu).await,
        json!({"ok": false, "error": "migration_in_progress"})
    );
    assert_eq!(rtm_connect(&emu).await["ok"], true);
    emu.fail_connects("not_allowed_token_type", None);
    for _ in 0..3 {
        assert_eq!(rtm_connect(&emu).await["error"], "not_allowed_token_type");
    }
    emu.clear_connect_faults();
    assert_eq!(rtm_connect(&emu).await["ok"], true);
}

#[tokio::test]
async fn revoked_token_closes_sockets_and_fails_connects() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    let unused = socket_url(&emu).await;
    emu.revoke_token();
    let (_, end) = read_to_end(&mut ws).await;
    assert_eq!(end, End::Closed(CloseCode::Normal));
    assert_eq!(
        rtm_connect(&emu).await,
        json!({"ok": false, "error": "token_revoked"})
    );
    let mut late = open_url(&unused).await;
    assert_eq!(next_json(&mut late).await["error"]["code"], 1);
}

// ---------------------------------------------------------------------------- session

#[tokio::test]
async fn hello_first_then_ping_pong_with_echoed_fields() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    assert!(emu.wait_for_connections(1, WAIT).await);
    assert_eq!((emu.sockets_opened(), emu.live_sockets()), (1, 1));

    send(
        &mut ws,
        json!({"id": 1, "type": "ping", "time": 1403299273342_u64}),
    )
    .await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "pong", "reply_to": 1, "time": 1403299273342_u64})
    );
    assert_eq!(
        emu.sent(),
        [json!({"id": 1, "type": "ping", "time": 1403299273342_u64})]
    );
    // Pings do not count for wait_for_sent.
    let err = emu.wait_for_sent(1, Duration::from_millis(50)).await.unwrap_err();
    assert_eq!((err.wanted(), err.received().len()), (1, 0));
}

#[tokio::test]
async fn websocket_pings_get_pongs() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    within(ws.send(Message::Ping(b"beat".to_vec().into())))
        .await
        .unwrap();
    match within(ws.next()).await {
        Some(Ok(Message::Pong(data))) => assert_eq!(&data[..], b"beat"),
        other => panic!("expected a pong, got {other:?}"),
    }
}

#[tokio::test]
async fn messages_get_replies_and_are_broadcast() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    send(
        &mut ws,
        json!({"id": 1, "type": "message", "channel": "C1", "text": "hi"}),
    )
    .await;
    let reply = next_json(&mut ws).await;
    assert_eq!(
        (reply["ok"].clone(), reply["reply_to"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(reply["text"], "hi");
    let ts = reply["ts"].as_str().unwrap().to_owned();
    let event = next_json(&mut ws).await;
    assert_eq!(event["type"], "message");
    assert_eq!(event["user"], "U0BOT");
    assert_eq!(event["channel"], "C1");
    assert_eq!(event["text"], "hi");
    assert_eq!(event["ts"], ts.as_str());
    assert_eq!(event["event_ts"], ts.as_str());
    assert_eq!(event["team"], "T0EMU");

    send(
        &mut ws,
        json!({"id": 2, "type": "message", "channel": "D1", "text": "again"}),
    )
    .await;
    let second = next_json(&mut ws).await;
    assert!(second["ts"].as_str().unwrap() > ts.as_str());
    next_json(&mut ws).await;

    send(&mut ws, json!({"id": 3, "type": "message", "channel": "C1"})).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"ok": false, "reply_to": 3, "error": {"code": 2, "msg": "message text is missing"}})
    );
    send(
        &mut ws,
        json!({"id": 4, "type": "message", "channel": "nope", "text": "x"}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["error"]["code"], 0);
    send(&mut ws, json!({"id": 5, "type": "bogus"})).await;
    assert_eq!(next_json(&mut ws).await["error"]["code"], 3);
    // No reply to typing, presence or id-less frames: the next frame answers the ping.
    send(&mut ws, json!({"id": 6, "type": "typing", "channel": "C1"})).await;
    send(&mut ws, json!({"type": "presence_sub", "ids": ["U1"]})).await;
    send(&mut ws, json!({"type": "bogus"})).await;
    send(&mut ws, json!({"id": 7, "type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["reply_to"], 7);

    let sent = emu.wait_for_sent(8, WAIT).await.unwrap();
    assert_eq!(sent.len(), 8);
    assert_eq!(sent[0]["text"], "hi");
    assert_eq!(emu.sent().len(), 9);
}

#[tokio::test]
async fn messages_without_id_are_posted_silently() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    send(
        &mut ws,
        json!({"type": "message", "channel": "C1", "text": "quiet"}),
    )
    .await;
    let event = next_json(&mut ws).await;
    assert_eq!(
        (event["type"].clone(), event["text"].clone()),
        (json!("message"), json!("quiet"))
    );
}

#[tokio::test]
async fn broadcast_can_be_turned_off() {
    let emu = Emulator::builder()
        .broadcast_sent_messages(false)
        .self_id("U0ME")
        .team_id("T0US")
        .start()
        .await
        .unwrap();
    assert_eq!((emu.self_id(), emu.team_id()), ("U0ME", "T0US"));
    let mut ws = open(&emu).await;
    send(
        &mut ws,
        json!({"id": 1, "type": "message", "channel": "C1", "text": "hi"}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["ok"], true);
    assert_quiet(&mut ws).await;
}

#[tokio::test]
async fn message_rate_limit_answers_slow_down() {
    let emu = Emulator::builder()
        .message_rate_limit(Some((1, 2)))
        .broadcast_sent_messages(false)
        .start()
        .await
        .unwrap();
    let mut ws = open(&emu).await;
    for id in 1..=3 {
        send(
            &mut ws,
            json!({"id": id, "type": "message", "channel": "C1", "text": "x"}),
        )
        .await;
    }
    assert_eq!(next_json(&mut ws).await["ok"], true);
    assert_eq!(next_json(&mut ws).await["ok"], true);
    let slow = next_json(&mut ws).await;
    assert_eq!(slow["reply_to"], 3);
    assert_eq!(
        slow["error"],
        json!({"code": -1, "msg": "slow down, too many messages..."})
    );
}

#[tokio::test]
async fn junk_client_frames_are_ignored() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    within(ws.send(Message::Text("not json {".into()))).await.unwrap();
    within(ws.send(Message::Binary(vec![0, 1, 2].into())))
        .await
        .unwrap();
    send(&mut ws, json!([1, 2])).await;
    send(&mut ws, json!({"id": 1, "type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["reply_to"], 1);
    assert_eq!(emu.sent(), [json!([1, 2]), json!({"id": 1, "type": "ping"})]);
}

#[tokio::test]
async fn hello_waits_for_hello_delay() {
    let emu = Emulator::builder()
        .hello_delay(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let mut ws = open_url(&socket_url(&emu).await).await;
    assert!(!emu.wait_for_connections(1, Duration::from_millis(50)).await);
    assert_eq!(next_json(&mut ws).await, json!({"type": "hello"}));
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(emu.wait_for_connections(1, WAIT).await);
}

// ---------------------------------------------------------------------------- tickets

#[tokio::test]
async fn reused_expired_and_unknown_tickets_get_error_1() {
    let emu = Emulator::start().await.unwrap();
    let expired = json!({"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}});

    let url = socket_url(&emu).await;
    let _first = open(&emu).await;
    let _second = open_url(&url).await;
    let mut reused = open_url(&url).await;
    let (frames, end) = read_to_end(&mut reused).await;
    assert_eq!(
        (frames, end),
        (vec![expired.clone()], End::Closed(CloseCode::Normal))
    );

    let url = socket_url(&emu).await;
    emu.expire_tickets();
    let (frames, _) = read_to_end(&mut open_url(&url).await).await;
    assert_eq!(frames, std::slice::from_ref(&expired));

    let unknown = format!("ws://{}/websocket/made-up", emu.shared().addr);
    let (frames, _) = read_to_end(&mut open_url(&unknown).await).await;
    assert_eq!(frames, std::slice::from_ref(&expired));
    assert_eq!(emu.sockets_opened(), 5);
    assert!(emu.wait_for_connections(2, WAIT).await);
}

#[tokio::test]
async fn tickets_expire_after_their_ttl() {
    let emu = Emulator::builder()
        .ticket_ttl(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let url = socket_url(&emu).await;
    sleep(Duration::from_millis(100)).await;
    let (frames, end) = read_to_end(&mut open_url(&url).await).await;
    assert_eq!(frames[0]["error"]["code"], 1);
    assert_eq!(end, End::Closed(CloseCode::Normal));
    assert!(!emu.wait_for_connections(1, Duration::from_millis(10)).await);
}

// ---------------------------------------------------------------------------- pushes

#[tokio::test]
async fn pushes_reach_every_socket_in_order() {
    let emu = Emulator::start().await.unwrap();
    let mut a = open(&emu).await;
    let mut b = open(&emu).await;
    assert!(emu.wait_for_connections(2, WAIT).await);
    for n in 0..1000 {
        emu.push(json!({"type": "counter", "n": n}));
    }
    emu.push_text("not json");
    emu.push_binary(vec![9, 8]);
    let sent = emu.message("C9", "U9", "hello bot");
    for ws in [&mut a, &mut b] {
        for n in 0..1000 {
            assert_eq!(next_json(ws).await["n"], n);
        }
        assert_eq!(next_text(ws).await, "not json");
        match within(ws.next()).await {
            Some(Ok(Message::Binary(bytes))) => assert_eq!(&bytes[..], [9, 8]),
            other => panic!("expected binary, got {other:?}"),
        }
        assert_eq!(next_json(ws).await, sent);
    }
    assert_eq!(sent["user"], "U9");
    assert_eq!(sent["team"], "T0EMU");
    assert!(sent["client_msg_id"].is_string() && sent["ts"] == sent["event_ts"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trip_on_a_multi_thread_runtime() {
    let emu = Emulator::builder()
        .broadcast_sent_messages(false)
        .start()
        .await
        .unwrap();
    let ws = open(&emu).await;
    let (mut tx, mut rx) = ws.split();
    const N: usize = 2000;
    // Echo every message event back, and keep reading until the emulator stops: closing a
    // socket with unread replies would reset it and discard echoes the server has not read.
    let echo = tokio::spawn(async move {
        let mut id = 0;
        while let Some(Ok(frame)) = rx.next().await {
            let Message::Text(text) = frame else { continue };
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["type"] == "message" {
                id += 1;
                let echo = json!({"id": id, "type": "message", "channel": event["channel"],
                                  "text": event["text"]});
                if tx.send(Message::Text(echo.to_string().into())).await.is_err() {
                    break;
                }
            }
        }
        id
    });
    for n in 0..N {
        emu.message("C1", "U1", &n.to_string());
    }
    let sent = emu.wait_for_sent(N, WAIT).await.unwrap();
    assert_eq!(sent[N - 1]["text"], (N - 1).to_string());
    emu.shutdown();
    assert_eq!(within(echo).await.unwrap(), N);
}

// ---------------------------------------------------------------------------- faults

#[tokio::test]
async fn drop_connections_cuts_without_close_frame() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    assert!(emu.wait_for_connections(1, WAIT).await);
    emu.drop_connections();
    assert_eq!(read_to_end(&mut ws).await, (vec![], End::Cut));
    eventually(|| emu.live_sockets() == 0).await;
    assert!(!emu.wait_for_connections(1, Duration::from_millis(10)).await);
    // The emulator still serves new sessions.
    open(&emu).await;
    assert_eq!(emu.sockets_opened(), 2);
}

#[tokio::test]
async fn goodbye_then_close_after_delay() {
    let emu = Emulator::builder()
        .goodbye_close_delay(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let mut ws = open(&emu).await;
    emu.goodbye();
    let start = Instant::now();
    assert_eq!(next_json(&mut ws).await, json!({"type": "goodbye"}));
    // A socket told goodbye stays open until the delay but gets no new events: they go to
    // the replacement (here there is none yet, so nobody gets this one).
    emu.push(json!({"type": "after_goodbye"}));
    let (frames, end) = read_to_end(&mut ws).await;
    assert!(start.elapsed() >= Duration::from_millis(90));
    assert_eq!(frames, Vec::<serde_json::Value>::new());
    assert_eq!(end, End::Closed(CloseCode::Normal));
    eventually(|| emu.live_sockets() == 0).await;
}

#[tokio::test]
async fn close_connections_is_a_clean_restart() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    emu.push(json!({"type": "before"}));
    emu.close_connections();
    let (frames, end) = read_to_end(&mut ws).await;
    assert_eq!(frames, [json!({"type": "before"})]);
    assert_eq!(end, End::Closed(CloseCode::Restart));
    eventually(|| emu.live_sockets() == 0).await;
}

#[tokio::test]
async fn error_event_then_close() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    emu.send_error_event(4, "cannot process message");
    let (frames, end) = read_to_end(&mut ws).await;
    assert_eq!(
        frames,
        [json!({"type": "error", "error": {"code": 4, "msg": "cannot process message"}})]
    );
    assert_eq!(end, End::Closed(CloseCode::Normal));
}

#[tokio::test]
async fn silence_holds_everything_until_lifted() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    emu.set_silent(true);
    send(&mut ws, json!({"id": 1, "type": "ping"})).await;
    within(ws.send(Message::Ping(b"ws".to_vec().into())))
        .await
        .unwrap();
    send(
        &mut ws,
        json!({"id": 2, "type": "message", "channel": "C1", "text": "x"}),
    )
    .await;
    emu.push(json!({"type": "held"}));
    // Nothing at all arrives, not even the websocket pong.
    match timeout(QUIET, ws.next()).await {
        Err(_) => {}
        Ok(other) => panic!("expected silence, got {other:?}"),
    }
    // Frames sent meanwhile are still recorded, but not answered.
    assert_eq!(emu.wait_for_sent(1, WAIT).await.unwrap()[0]["id"], 2);
    emu.set_silent(false);
    assert_eq!(next_json(&mut ws).await, json!({"type": "held"}));
    assert_quiet(&mut ws).await;
    send(&mut ws, json!({"id": 3, "type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["reply_to"], 3);
}

#[tokio::test]
async fn drop_connections_works_while_silent() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    emu.set_silent(true);
    emu.push(json!({"type": "held"}));
    emu.drop_connections();
    assert_eq!(read_to_end(&mut ws).await, (vec![], End::Cut));
    eventually(|| emu.live_sockets() == 0).await;
}

#[tokio::test]
async fn oversized_client_frame_closes_the_socket() {
    let emu = Emulator::start().await.unwrap();
    let mut ws = open(&emu).await;
    // Just under the limit is fine.
    let text = "a".repeat(16_000);
    send(
        &mut ws,
        json!({"id": 1, "type": "message", "channel": "C1", "text": text}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["ok"], true);
    next_json(&mut ws).await;
    let big = "b".repeat(17 * 1024);
    // The send itself may fail if the server already closed.
    let _ = within(ws.send(Message::Text(big.into()))).await;
    let (frames, end) = read_to_end(&mut ws).await;
    assert!(frames.is_empty());
    assert!(matches!(end, End::Closed(CloseCode::Size) | End::Cut), "{end:?}");
    eventually(|| emu.live_sockets() == 0).await;
}

// ---------------------------------------------------------------------------- HTTP robustness

#[tokio::test]
async fn malformed_http_gets_4xx_and_the_server_survives() {
    let emu = Emulator::start().await.unwrap();
    let garbage = raw_http(&emu, b"GARBAGE\r\n\r\n".to_vec()).await;
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    let huge = raw_http(&emu, vec![b'x'; 20_000]).await;
    assert!(huge.starts_with("HTTP/1.1 431"), "{huge}");
    let body = raw_http(
        &emu,
        b"POST /api/rtm.connect HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n".to_vec(),
    )
    .await;
    assert!(body.starts_with("HTTP/1.1 413"), "{body}");
    let not_ws = raw_http(&emu, b"GET /websocket/x HTTP/1.1\r\n\r\n".to_vec()).await;
    assert!(not_ws.starts_with("HTTP/1.1 400"), "{not_ws}");
    // A client that disconnects mid-request.
    let _ = raw_http(&emu, b"GET /api/rtm.connect HTTP/1.1\r\nHost".to_vec()).await;
    assert_eq!(rtm_connect(&emu).await["ok"], true);
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let emu = Emulator::start().await.unwrap();
    let one = format!(
        "POST /api/rtm.connect HTTP/1.1\r\nHost: x\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\ntoken={}",
        "token=".len() + emu.token().len(),
        emu.token()
    );
    let last = "GET /api/auth.test HTTP/1.1\r\nConnection: close\r\n\r\n";
    let answer = raw_http(&emu, format!("{one}{one}{last}").into_bytes()).await;
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 3, "{answer}");
    assert_eq!(answer.matches("\"ok\":true").count(), 2, "{answer}");
    assert!(answer.contains("not_authed"));
    assert_eq!(emu.connect_calls(), 2);
}

// ---------------------------------------------------------------------------- lifetime

#[tokio::test]
async fn dropping_the_last_handle_stops_everything() {
    let emu = Emulator::start().await.unwrap();
    let addr = emu.shared().addr;
    let mut ws = open(&emu).await;
    let clone = emu.clone();
    drop(emu);
    // A clone keeps it alive.
    send(&mut ws, json!({"id": 1, "type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["reply_to"], 1);
    drop(clone);
    assert_eq!(read_to_end(&mut ws).await.1, End::Cut);
    within(async {
        while TcpStream::connect(addr).await.is_ok() {
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn shutdown_refuses_new_sessions() {
    let emu = Emulator::start().await.unwrap();
    let addr = emu.shared().addr;
    let url = socket_url(&emu).await;
    emu.shutdown();
    emu.shutdown();
    within(async {
        while TcpStream::connect(addr).await.is_ok() {
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(within(connect_async(url.as_str())).await.is_err());
    assert!(format!("{emu:?}").contains("Emulator"));
    assert!(!format!("{:?}", Emulator::builder()).contains(DEFAULT_TOKEN));
}

#[tokio::test]
async fn every_task_ends_after_shutdown() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let emu = Emulator::start().await.unwrap();
    let request = format!(
        "GET /api/rtm.connect?token={} HTTP/1.1\r\nConnection: close\r\n\r\n",
        emu.token()
    );
    let answer = raw_http(&emu, request.into_bytes()).await;
    let (_, body) = answer.split_once("\r\n\r\n").expect("a complete response");
    let url = serde_json::from_str::<Value>(body).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut good = open_url(&url).await;
    assert_eq!(next_json(&mut good).await["type"], "hello");
    let mut rejected = open_url(&url).await;
    assert_eq!(next_json(&mut rejected).await["type"], "error");
    // A stalled session with held frames, and an idle keep-alive HTTP connection.
    emu.set_silent(true);
    emu.push(json!({"type": "held"}));
    let idle = TcpStream::connect(emu.shared().addr).await.unwrap();
    eventually(|| metrics.num_alive_tasks() >= baseline + 4).await;

    drop(emu);
    assert_eq!(read_to_end(&mut good).await.1, End::Cut);
    read_to_end(&mut rejected).await;
    eventually(|| metrics.num_alive_tasks() == baseline).await;
    drop(idle);
}

// ---------------------------------------------------------------------------- Web API

async fn post(emu: &Emulator, method: &str, content_type: &str, body: &str) -> reqwest::Response {
    let request = http()
        .post(format!("{}{method}", emu.api_url()))
        .bearer_auth(emu.token())
        .header("content-type", content_type)
        .body(body.to_owned())
        .send();
    within(request).await.expect("request")
}

#[tokio::test]
async fn json_sent_to_a_form_only_method_is_silently_ignored() {
    let emu = Emulator::start().await.unwrap();
    let json = post(&emu, "users.info", "application/json", r#"{"user":"U0ALICE"}"#).await;
    assert_eq!(
        body(json).await["error"],
        "user_not_found",
        "as Slack: the body is dropped"
    );
    let form = post(
        &emu,
        "users.info",
        "application/x-www-form-urlencoded",
        "user=U0ALICE",
    )
    .await;
    assert_eq!(body(form).await["user"]["name"], "alice");
    let calls = emu.web_calls();
    let shown: Vec<_> = calls.iter().map(|c| (c.method.as_str(), c.encoding)).collect();
    assert_eq!(shown, [("users.info", "json"), ("users.info", "form")]);
    assert_eq!(calls[0].args, json!({"user": "U0ALICE"}), "recorded as sent");
    let bad = post(&emu, "chat.postMessage", "application/json", "[1]").await;
    assert_eq!(body(bad).await["error"], "json_not_object");
    let bad = post(&emu, "chat.postMessage", "application/json", "{").await;
    assert_eq!(body(bad).await["error"], "invalid_json");
}

#[tokio::test]
async fn web_faults_apply_to_their_method_in_order() {
    let emu = Emulator::start().await.unwrap();
    emu.inject_web_fault("auth.test", WebFault::RateLimited { retry_after_secs: 4 }, 1);
    emu.inject_web_fault("auth.test", WebFault::Status(502), 1);
    let form = "application/x-www-form-urlencoded";
    let info = post(&emu, "conversations.info", form, "channel=C0GENERAL").await;
    assert_eq!(
        body(info).await["channel"]["name"],
        "general",
        "other methods unaffected"
    );
    let limited = post(&emu, "auth.test", form, "").await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "4");
    let proxy = post(&emu, "auth.test", form, "").await;
    assert_eq!(proxy.status(), 502);
    assert!(within(proxy.text()).await.unwrap().contains("<html>"));
    let fine = post(&emu, "auth.test", form, "").await;
    assert_eq!(body(fine).await["bot_id"], DEFAULT_BOT_ID);
}

// ---------------------------------------------------------------------------- Socket Mode

async fn apps_connections_open(emu: &Emulator, token: &str) -> Value {
    let url = format!("{}apps.connections.open", emu.api_url());
    body(
        within(http().post(url).bearer_auth(token).send())
            .await
            .expect("request"),
    )
    .await
}

async fn open_socket_mode(emu: &Emulator) -> (Client, Value) {
    let answer = apps_connections_open(emu, emu.app_token()).await;
    assert_eq!(answer["ok"], true, "{answer}");
    let url = answer["url"].as_str().expect("url");
    assert!(url.contains("/link/?ticket="), "{url}");
    let mut ws = open_url(url).await;
    let hello = next_json(&mut ws).await;
    (ws, hello)
}

#[tokio::test]
async fn apps_connections_open_takes_only_the_app_token_as_a_bearer_header_on_post() {
    let emu = Emulator::start().await.unwrap();
    assert_eq!(
        apps_connections_open(&emu, emu.token()).await["error"],
        "invalid_auth"
    );
    let url = format!("{}apps.connections.open", emu.api_url());
    let no_header = http()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={}", emu.app_token()))
        .send();
    assert_eq!(
        body(within(no_header).await.unwrap()).await["error"],
        "not_authed"
    );
    let as_get = http().get(&url).bearer_auth(emu.app_token()).send();
    assert_eq!(
        body(within(as_get).await.unwrap()).await["error"],
        "insecure_request"
    );

    // A ticket works once.
    let answer = apps_connections_open(&emu, emu.app_token()).await;
    let url = answer["url"].as_str().unwrap();
    let mut first = open_url(url).await;
    let hello = next_json(&mut first).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(hello["debug_info"]["approximate_connection_time"], 18060);
    // A reused ticket's upgrade is refused with HTTP 409.
    let refused = within(connect_async(url)).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 409),
        "{refused:?}"
    );
}

#[tokio::test]
async fn acks_are_recorded_and_unacked_events_come_back_with_retry_fields() {
    let emu = Emulator::builder()
        .socket_mode_retries(
            Duration::from_millis(50),
            [Duration::ZERO, Duration::from_millis(20)],
        )
        .socket_mode_ping_interval(Duration::from_millis(30))
        .start()
        .await
        .unwrap();
    let (mut ws, _) = open_socket_mode(&emu).await;
    let event_id = emu.push_event_envelope(json!({"type": "message", "text": "hi", "channel": "C0GENERAL"}));
    let first = next_json(&mut ws).await;
    assert_eq!(first["type"], "events_api");
    assert_eq!(first["retry_attempt"], 0);
    assert_eq!(first["retry_reason"], "");
    assert_eq!(first["payload"]["event_id"], event_id.as_str());
    assert_eq!(first["payload"]["event"]["text"], "hi");
    // Not acked: two retries (new envelopes), then no more.
    let retry1 = next_json(&mut ws).await;
    let retry2 = next_json(&mut ws).await;
    assert_eq!(
        (retry1["retry_attempt"].clone(), retry2["retry_attempt"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(retry1["retry_reason"], "timeout");
    assert_ne!(retry1["envelope_id"], first["envelope_id"]);
    assert_eq!(retry2["payload"]["event_id"], event_id.as_str());

    // An acked event is not redelivered; acks are recorded with their payloads.
    emu.push_event_envelope(json!({"type": "message", "text": "again", "channel": "C0GENERAL"}));
    let envelope = next_json(&mut ws).await;
    send(
        &mut ws,
        json!({"envelope_id": envelope["envelope_id"], "payload": {}}),
    )
    .await;
    let acks = emu
        .wait_for_acks(1, Duration::from_secs(5))
        .await
        .expect("ack recorded");
    assert_eq!(
        acks[0],
        json!({"envelope_id": envelope["envelope_id"], "payload": {}})
    );
    assert_quiet(&mut ws).await; // pings only

    // The emulator pings; a frame at the 20,480-byte cap closes the socket with 1009.
    let big = format!(r#"{{"envelope_id":"{}"}}"#, "x".repeat(20_480));
    let _ = within(ws.send(Message::Text(big.into()))).await;
    let (_, end) = read_to_end(&mut ws).await;
    assert!(matches!(end, End::Closed(CloseCode::Size) | End::Cut), "{end:?}");
    eventually(|| emu.socket_mode_connections() == 0).await;
}

#[tokio::test]
async fn the_socket_cap_and_disconnect_reasons() {
    let emu = Emulator::builder()
        .socket_mode_max_sockets(1)
        .start()
        .await
        .unwrap();
    let (mut ws, hello) = open_socket_mode(&emu).await;
    assert_eq!(hello["num_connections"], 1);
    let (mut over, hello) = open_socket_mode(&emu).await;
    assert_eq!(hello["num_connections"], 2);
    let (frames, _) = read_to_end(&mut over).await;
    assert_eq!(frames[0]["reason"], "too_many_websockets", "{frames:?}");
    emu.socket_mode_disconnect("link_disabled");
    let (frames, end) = read_to_end(&mut ws).await;
    assert_eq!(frames[0]["type"], "disconnect");
    assert_eq!(frames[0]["reason"], "link_disabled");
    assert!(matches!(end, End::Closed(_) | End::Cut));
}

/// Socket Mode faults: ghosts, tickets and 409s, `debug_reconnects`, drop, silence, stall.
mod socket_mode_faults;
