//! The core client against the bundled emulator: connect, drain-all reads, sends and replies.

use std::time::Duration;

use futures::StreamExt;
use rtm_core::{ClientConfig, Error, MAX_FRAME_BYTES, RtmClient, SendError};
use rtm_tests::{config, connect, connect_with, emulator, eventually, read_events, texts, within};
use serde_json::json;

#[tokio::test]
async fn connect_returns_after_hello_with_connection_info() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let info = client.info();
    assert_eq!(info.self_user.id, emu.self_id());
    assert_eq!(info.team.id, emu.team_id());
    assert!(client.state().borrow().is_connected());
    assert_eq!(emu.connect_calls(), 1);
    // The token went in the Authorization header, not the URL.
    assert_eq!(client.stats().connect_calls, 1);
}

#[tokio::test]
async fn invalid_token_is_a_typed_error_without_the_token() {
    let emu = emulator().await;
    let config = ClientConfig::builder("xoxb-wrong-secret-token")
        .api_url(emu.api_url())
        .build()
        .unwrap();
    let err = within("connect", RtmClient::connect(config)).await.unwrap_err();
    assert_eq!(err.slack_code(), Some("invalid_auth"), "{err}");
    assert!(!err.is_retryable());
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("invalid_auth"), "{shown}");
    assert!(!shown.contains("wrong-secret"), "token leaked: {shown}");
    assert_eq!(emu.connect_calls(), 1, "a fatal error is not retried");
}

#[tokio::test]
async fn events_sent_before_hello_are_delivered_after_it_in_order() {
    // Slack sends `hello` first; a lenient server may not. Nothing it sent is lost.
    let emu = rtm_core::emulator::Emulator::builder()
        .frames_before_hello([
            r#"{"type":"presence_change","user":"U1","presence":"away"}"#,
            r#"{"type":"user_typing","channel":"C1","user":"U2"}"#,
        ])
        .start()
        .await
        .unwrap();
    let client = within("connect", RtmClient::connect(config(&emu).build().unwrap()))
        .await
        .unwrap();
    let first = within("read", client.read()).await.unwrap().unwrap();
    let kinds: Vec<&str> = first.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, ["hello", "presence_change", "user_typing"]);
    emu.message("C1", "U1", "after");
    assert_eq!(texts(&read_events(&client, 1).await), ["after"]);
}

#[tokio::test]
async fn one_read_returns_everything_buffered_in_order() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    for i in 0..1000 {
        emu.message("C1", "U1", &format!("m{i}"));
    }
    // Wait until all 1000 (plus hello) have reached the client's buffer, then read once.
    eventually("1000 events buffered", || client.stats().events >= 1001).await;
    let batch = within("read", client.read()).await.unwrap().unwrap();
    assert_eq!(batch.len(), 1000);
    let events: Vec<_> = batch.into_iter().collect();
    let expected: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&events), expected);
}

#[tokio::test]
async fn batch_is_a_stream() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    emu.message("C1", "U1", "a");
    emu.message("C1", "U1", "b");
    eventually("2 events", || client.stats().events >= 3).await;
    let mut batch = client.read().await.unwrap().unwrap();
    assert_eq!(
        batch.next().await.map(|e| e.kind().to_owned()),
        Some("message".into())
    );
    assert_eq!(
        batch.next().await.map(|e| e.kind().to_owned()),
        Some("message".into())
    );
    assert!(batch.next().await.is_none());
}

#[tokio::test]
async fn try_read_on_an_empty_buffer_returns_an_empty_batch() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let batch = client.try_read().unwrap().unwrap();
    assert!(batch.is_empty());
    emu.message("C1", "U1", "x");
    eventually("1 event", || client.stats().events >= 2).await;
    let batch = client.try_read().unwrap().unwrap();
    assert_eq!(texts(&batch.into_iter().collect::<Vec<_>>()), ["x"]);
}

#[tokio::test]
async fn send_message_resolves_with_the_servers_reply() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let reply = within("reply", client.send_message("C024BE91L", "Hello world"))
        .await
        .unwrap();
    assert!(reply.ts.as_deref().is_some_and(|ts| !ts.is_empty()));
    assert_eq!(reply.text.as_deref(), Some("Hello world"));
    let sent = within("sent", emu.wait_for_sent(1, Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(sent[0]["type"], "message");
    assert_eq!(sent[0]["channel"], "C024BE91L");
    assert_eq!(sent[0]["text"], "Hello world");
    assert_eq!(sent[0]["id"].as_u64(), Some(reply.reply_to));
    assert!(reply.reply_to > 0);
}

#[tokio::test]
async fn pipelined_sends_keep_call_order_with_fresh_ids() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let futures: Vec<_> = (0..50)
        .map(|i| client.send_message("C1", &format!("n{i}")))
        .collect();
    let replies = within("50 replies", futures::future::join_all(futures)).await;
    let mut ts: Vec<String> = replies.into_iter().map(|r| r.unwrap().ts.unwrap()).collect();
    let sent = emu.wait_for_sent(50, Duration::from_secs(5)).await.unwrap();
    let sent_texts: Vec<&str> = sent.iter().map(|f| f["text"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..50).map(|i| format!("n{i}")).collect();
    assert_eq!(sent_texts, expected, "written in call order");
    let ids: Vec<u64> = sent.iter().map(|f| f["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    ts.dedup();
    assert_eq!(ts.len(), 50, "each send got its own reply");
}

#[tokio::test]
async fn error_reply_is_a_typed_error() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let err = within("reply", client.send_message("C1", "")).await.unwrap_err();
    match err {
        SendError::Slack { code, msg } => {
            assert_eq!(code, 2);
            assert!(msg.contains("text"), "{msg}");
        }
        other => panic!("unexpected {other}"),
    }
    let err = within(
        "reply",
        client.send(&json!({"type": "message", "channel": "X1", "text": "hi"})),
    )
    .await;
    assert!(matches!(err, Err(SendError::Slack { code: 0, .. })), "{err:?}");
}

#[tokio::test]
async fn oversized_message_is_refused_before_sending() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let big = "x".repeat(MAX_FRAME_BYTES);
    let err = client.send_message("C1", &big).await.unwrap_err();
    assert!(
        matches!(
            err,
            SendError::TooLarge {
                max: MAX_FRAME_BYTES,
                ..
            }
        ),
        "{err}"
    );
    // The connection is still fine and nothing oversized reached the server.
    within("reply", client.send_message("C1", "small")).await.unwrap();
    let sent = emu.wait_for_sent(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["text"], "small");
}

#[tokio::test]
async fn frames_without_reply_are_written() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    client
        .send_without_reply(&json!({"type": "typing", "channel": "C1"}))
        .unwrap();
    let sent = within("typing", emu.wait_for_sent(1, Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(sent[0]["type"], "typing");
    assert!(sent[0]["id"].as_u64().is_some_and(|id| id > 0));
    assert!(matches!(
        client.send_without_reply(&"not an object"),
        Err(SendError::InvalidFrame(_))
    ));
}

#[tokio::test]
async fn malformed_frames_are_skipped_and_counted() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    emu.push_text("this is not json");
    emu.push_binary(vec![0, 159, 146, 150]);
    emu.push_text(r#"{"no_type": true}"#);
    emu.push(json!({"type": "brand_new_event", "x": 1}));
    emu.message("C1", "U1", "after");
    let events = read_events(&client, 2).await;
    assert_eq!(
        events[0].kind(),
        "brand_new_event",
        "unknown events are delivered, not dropped"
    );
    assert_eq!(texts(&events[1..]), ["after"]);
    assert_eq!(client.stats().malformed_frames, 3);
    assert!(client.state().borrow().is_connected());
}

#[tokio::test]
async fn disconnect_ends_reads_and_fails_sends() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    emu.message("C1", "U1", "before close");
    eventually("event buffered", || client.stats().events >= 2).await;
    within("disconnect", client.disconnect()).await;
    // What was buffered is still delivered, then the end.
    let batch = client.read().await.unwrap().unwrap();
    assert_eq!(texts(&batch.into_iter().collect::<Vec<_>>()), ["before close"]);
    assert!(client.read().await.unwrap().is_none());
    assert!(client.try_read().unwrap().is_none());
    let err = client.send_message("C1", "too late").await.unwrap_err();
    assert!(matches!(err, SendError::Closed), "{err}");
    assert!(client.state().borrow().is_closed());
    eventually("socket closed", || emu.live_sockets() == 0).await;
}

#[tokio::test]
async fn events_stream_yields_in_order_and_ends_on_disconnect() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    let mut events = client.events();
    for i in 0..20 {
        emu.message("C1", "U1", &i.to_string());
    }
    let mut got = Vec::new();
    while got.len() < 20 {
        got.push(within("event", events.next()).await.unwrap().unwrap());
    }
    assert_eq!(texts(&got), (0..20).map(|i| i.to_string()).collect::<Vec<_>>());
    client.disconnect().await;
    assert!(within("end", events.next()).await.is_none());
}

#[tokio::test]
async fn slow_reader_with_small_buffer_loses_nothing() {
    let emu = emulator().await;
    let client = connect_with(config(&emu).event_buffer(8)).await;
    for i in 0..500 {
        emu.message("C1", "U1", &i.to_string());
    }
    // Do not read for several keepalive timeouts: the client must pause reading, not drop
    // events and not declare the (healthy) connection dead.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let events = read_events(&client, 500).await;
    assert_eq!(
        texts(&events),
        (0..500).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(
        client.stats().reconnects,
        0,
        "backpressure caused a false keepalive timeout"
    );
}

/// A loop of its own that awaits each reply before reading on, while the server floods
/// events: the replies sit behind events the full buffer refuses, so the client must read
/// past it once the reader stalls (a reader that keeps draining never needs that).
#[tokio::test]
async fn reader_awaiting_each_reply_keeps_going_behind_a_full_buffer() {
    let emu = emulator().await;
    let client = connect_with(config(&emu).event_buffer(8)).await;
    for i in 0..200 {
        emu.message("C1", "U1", &i.to_string());
    }
    let echoed = within("200 echoes, each awaited", async {
        let mut echoed = Vec::new();
        while echoed.len() < 200 {
            let batch = client.read().await.unwrap().unwrap();
            for event in batch {
                let message: serde_json::Value = event.parse().unwrap();
                if message["user"] != "U1" {
                    continue; // our own echoes, broadcast back by the emulator
                }
                let text = message["text"].as_str().unwrap().to_owned();
                client.send_message("C1", &text).await.unwrap();
                echoed.push(text);
            }
        }
        echoed
    })
    .await;
    assert_eq!(echoed, (0..200).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(client.stats().reconnects, 0);
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output() {
    let emu = emulator().await;
    let config = config(&emu).build().unwrap();
    let client = connect(&emu).await;
    let token = emu.token().to_owned();
    let secret_part = token.split('-').skip(1).collect::<Vec<_>>().join("-");
    let err = Error::Slack {
        code: "invalid_auth".into(),
    };
    for shown in [
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{err:?} {err}"),
    ] {
        assert!(!shown.contains(&secret_part), "token leaked: {shown}");
    }
}

/// Slack's message rate limit: without pacing, a burst past it is refused ("slow down",
/// recognisable); with `pace_sends` at Slack's pace, every message of the same burst is posted.
#[tokio::test]
async fn pacing_turns_rate_limit_refusals_into_waiting() {
    let emu = rtm_core::emulator::Emulator::builder()
        .message_rate_limit(Some((4, 2)))
        .broadcast_sent_messages(false)
        .start()
        .await
        .unwrap();
    let unpaced = connect(&emu).await;
    let results =
        futures::future::join_all((0..6).map(|i| unpaced.send_message("C1", &format!("u{i}")))).await;
    let refused: Vec<SendError> = results.into_iter().filter_map(Result::err).collect();
    assert!(!refused.is_empty(), "the emulator's limit refuses a burst");
    assert!(
        refused.iter().all(|e| e.is_rate_limited() && e.was_not_sent()),
        "{refused:?}"
    );
    unpaced.disconnect().await;

    // Let the emulator's bucket refill, then the same burst, paced.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let paced = connect_with(config(&emu).pace_sends(Duration::from_millis(300), 2)).await;
    let results = within(
        "paced sends",
        futures::future::join_all((0..6).map(|i| paced.send_message("C1", &format!("p{i}")))),
    )
    .await;
    for result in results {
        assert!(result.is_ok(), "{result:?}");
    }
}

/// Fire and forget: dropping the reply future never cancels the send, even while the client is
/// reconnecting.
#[tokio::test]
async fn a_dropped_reply_future_still_sends() {
    let emu = emulator().await;
    let client = connect(&emu).await;
    drop(client.send_message("C1", "connected"));
    within("written", emu.wait_for_sent(1, Duration::from_secs(5)))
        .await
        .expect("first frame written");
    // The reconnect is held for a second by a 429, so the next send surely waits for it;
    // subscribed before the drop, so the state change is seen however fast it comes.
    emu.rate_limit_connects(1, 1);
    let mut state = client.state();
    emu.drop_connections();
    within("reconnecting", state.wait_for(|s| !s.is_connected()))
        .await
        .expect("client alive");
    drop(client.send_message("C1", "while reconnecting"));
    let sent = within("both posted", emu.wait_for_sent(2, Duration::from_secs(5)))
        .await
        .expect("both frames written");
    let texts: Vec<&str> = sent.iter().filter_map(|f| f["text"].as_str()).collect();
    assert_eq!(texts, ["connected", "while reconnecting"]);
}
