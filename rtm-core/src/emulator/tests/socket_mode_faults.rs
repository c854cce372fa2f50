//! The emulator's Socket Mode faults, over loopback with a plain tokio-tungstenite client.

use std::collections::HashMap;

use super::*;

type WsError = tokio_tungstenite::tungstenite::Error;

/// A fresh `apps.connections.open` URL.
async fn link_url(emu: &Emulator) -> String {
    let answer = apps_connections_open(emu, emu.app_token()).await;
    assert_eq!(answer["ok"], true, "{answer}");
    answer["url"].as_str().expect("url").to_owned()
}

/// Connects to `url` and returns the socket with its `hello`.
async fn open_link(url: &str) -> (Client, Value) {
    let mut ws = open_url(url).await;
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    (ws, hello)
}

fn is_409(result: &Result<(Client, impl std::fmt::Debug), WsError>) -> bool {
    matches!(result, Err(WsError::Http(response)) if response.status() == 409)
}

fn message(text: &str) -> Value {
    json!({"type": "message", "channel": "C0GENERAL", "user": "U0ALICE", "text": text})
}

#[tokio::test]
async fn ghosts_count_in_num_connections_and_against_the_cap_until_they_expire() {
    let emu = Emulator::builder()
        .socket_mode_max_sockets(2)
        .socket_mode_ghost_lifetime(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    // A socket cut by the network (the emulator's drop fault) becomes a ghost.
    let (mut a, hello) = open_socket_mode(&emu).await;
    assert_eq!(hello["num_connections"], 1);
    emu.socket_mode_drop_connections();
    let (frames, end) = read_to_end(&mut a).await;
    assert!(frames.is_empty() && end == End::Cut, "{frames:?} {end:?}");
    eventually(|| emu.socket_mode_ghosts() == 1).await;
    assert_eq!(emu.socket_mode_connections(), 0, "a ghost is not an open socket");

    // A client whose TCP connection dies without a close frame leaves one too.
    let (b, hello) = open_socket_mode(&emu).await;
    assert_eq!(hello["num_connections"], 2, "the ghost is counted");
    drop(b);
    eventually(|| emu.socket_mode_ghosts() == 2).await;

    // Over the cap with ghosts alone: too_many_websockets, then a close.
    let (mut over, hello) = open_socket_mode(&emu).await;
    assert_eq!(hello["num_connections"], 3);
    let (frames, end) = read_to_end(&mut over).await;
    assert_eq!(frames[0]["reason"], "too_many_websockets", "{frames:?}");
    assert!(matches!(end, End::Closed(CloseCode::Normal)), "{end:?}");
    assert_eq!(
        emu.socket_mode_ghosts(),
        2,
        "refused over the cap: closed, not a ghost"
    );

    // Once they expire, sockets are admitted again; a close handshake leaves no ghost.
    eventually(|| emu.socket_mode_ghosts() == 0).await;
    let (mut c, hello) = open_socket_mode(&emu).await;
    assert_eq!(hello["num_connections"], 1);
    within(c.close(None)).await.unwrap();
    let _ = read_to_end(&mut c).await;
    eventually(|| emu.socket_mode_connections() == 0).await;
    assert_eq!(emu.socket_mode_ghosts(), 0);
    let (_d, hello) = open_socket_mode(&emu).await;
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(emu.socket_mode_peak_connections(), 1);
}

#[tokio::test]
async fn envelopes_routed_to_ghosts_are_lost_and_events_api_ones_come_back() {
    let emu = Emulator::builder()
        .socket_mode_ghost_lifetime(Duration::from_secs(60))
        .socket_mode_retries(Duration::from_millis(100), [Duration::ZERO, Duration::ZERO])
        .start()
        .await
        .unwrap();
    emu.socket_mode_route_to_ghosts(true);
    let (ghost, _) = open_socket_mode(&emu).await;
    drop(ghost);
    eventually(|| emu.socket_mode_ghosts() == 1).await;
    let (mut live, hello) = open_socket_mode(&emu).await;
    assert_eq!(hello["num_connections"], 2);

    // Envelopes alternate between the ghost and the live socket: half are lost at first.
    let slash = [
        emu.push_envelope("slash_commands", json!({"command": "/a"})),
        emu.push_envelope("slash_commands", json!({"command": "/b"})),
    ];
    let pushed: Vec<String> = (0..4)
        .map(|i| emu.push_event_envelope(message(&format!("m{i}"))))
        .collect();
    let mut seen = HashMap::new();
    let mut slash_seen = 0;
    within(async {
        while seen.len() < pushed.len() {
            let frame = next_json(&mut live).await;
            if frame["type"] == "slash_commands" {
                slash_seen += 1;
                continue;
            }
            send(&mut live, json!({"envelope_id": frame["envelope_id"]})).await;
            let event_id = frame["payload"]["event_id"].as_str().unwrap().to_owned();
            seen.entry(event_id).or_insert(frame);
        }
    })
    .await;
    assert_eq!(
        slash_seen, 1,
        "one of {slash:?} went to the ghost and is never redelivered"
    );
    let retried: Vec<&Value> = seen.values().filter(|f| f["retry_attempt"] != 0).collect();
    assert!(!retried.is_empty(), "some events came back as retries: {seen:?}");
    assert!(retried.iter().all(|f| f["retry_reason"] == "timeout"));

    // Routing to ghosts off: everything goes to the live socket.
    emu.socket_mode_route_to_ghosts(false);
    let id = emu.push_event_envelope(message("direct"));
    let frame = next_json(&mut live).await;
    assert_eq!(
        (frame["payload"]["event_id"].as_str(), &frame["retry_attempt"]),
        (Some(id.as_str()), &json!(0))
    );
}

#[tokio::test]
async fn used_expired_and_refused_tickets_get_409() {
    let emu = Emulator::builder()
        .socket_mode_ticket_ttl(Duration::from_millis(150))
        .start()
        .await
        .unwrap();
    // Used once, then refused.
    let url = link_url(&emu).await;
    let (_first, _) = open_link(&url).await;
    assert!(is_409(&within(connect_async(url.as_str())).await));
    // Expired.
    let url = link_url(&emu).await;
    sleep(Duration::from_millis(250)).await;
    assert!(is_409(&within(connect_async(url.as_str())).await));
    // The next two upgrades are refused whatever their ticket, then they work again.
    emu.socket_mode_refuse_upgrades(2);
    for _ in 0..2 {
        let url = link_url(&emu).await;
        assert!(is_409(&within(connect_async(url.as_str())).await));
    }
    let url = link_url(&emu).await;
    let (_second, hello) = open_link(&url).await;
    assert_eq!(hello["num_connections"], 2);
    assert_eq!(
        emu.socket_mode_sockets_opened(),
        2,
        "refused upgrades open no socket"
    );
}

#[tokio::test]
async fn debug_reconnects_refreshes_a_socket_after_its_short_lifetime() {
    let emu = Emulator::builder()
        .socket_mode_debug_reconnects_lifetime(Duration::from_millis(200))
        .socket_mode_disconnect_close_delay(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    // Without the flag, no refresh.
    let (mut plain, _) = open_socket_mode(&emu).await;
    let url = format!("{}&debug_reconnects=true", link_url(&emu).await);
    let (mut debug, _) = open_link(&url).await;
    let (frames, end) = read_to_end(&mut debug).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "disconnect");
    assert_eq!(frames[0]["reason"], "refresh_requested");
    assert!(matches!(end, End::Closed(CloseCode::Normal)), "{end:?}");
    assert_quiet(&mut plain).await;

    // The builder option does the same for every socket.
    let emu = Emulator::builder()
        .socket_mode_debug_reconnects(true)
        .socket_mode_debug_reconnects_lifetime(Duration::from_millis(100))
        .socket_mode_disconnect_close_delay(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let (mut ws, _) = open_socket_mode(&emu).await;
    let (frames, _) = read_to_end(&mut ws).await;
    assert_eq!(frames[0]["reason"], "refresh_requested", "{frames:?}");
    eventually(|| emu.socket_mode_connections() == 0).await;
    assert_eq!(emu.socket_mode_ghosts(), 0, "a server-side close leaves no ghost");
}

#[tokio::test]
async fn silence_holds_everything_and_stall_stops_reading() {
    let emu = Emulator::builder()
        .socket_mode_ping_interval(Duration::from_millis(30))
        .start()
        .await
        .unwrap();
    let (mut ws, _) = open_socket_mode(&emu).await;

    // Silence: no envelope and no ping, and the client's ping gets no pong.
    emu.socket_mode_set_silent(true);
    let id = emu.push_event_envelope(message("held"));
    within(ws.send(Message::Ping(b"are you there".to_vec().into())))
        .await
        .unwrap();
    match timeout(QUIET, ws.next()).await {
        Err(_) => {}
        Ok(other) => panic!("expected nothing at all, got {other:?}"),
    }
    emu.socket_mode_set_silent(false);
    let frame = next_json(&mut ws).await;
    assert_eq!(frame["payload"]["event_id"], id.as_str(), "held, then sent");

    // Stall: envelopes still go out, but the client's frames (acks, pings) are not read.
    emu.socket_mode_stop_reading(true);
    send(&mut ws, json!({"envelope_id": frame["envelope_id"]})).await;
    let id = emu.push_event_envelope(message("while stalled"));
    let frame = next_json(&mut ws).await;
    assert_eq!(frame["payload"]["event_id"], id.as_str());
    within(ws.send(Message::Ping(b"ping".to_vec().into())))
        .await
        .unwrap();
    let pong = timeout(QUIET, async {
        loop {
            if let Some(Ok(Message::Pong(_))) = ws.next().await {
                return;
            }
        }
    })
    .await;
    assert!(pong.is_err(), "no pong while stalled");
    assert!(emu.acks().is_empty(), "no ack read while stalled");
    emu.socket_mode_stop_reading(false);
    assert!(
        emu.wait_for_acks(1, WAIT).await.is_some(),
        "read once the stall ends"
    );
}

#[tokio::test]
async fn the_socket_cap_can_be_changed_while_running() {
    let emu = Emulator::start().await.unwrap();
    let (_open, _) = open_socket_mode(&emu).await;
    emu.socket_mode_limit_sockets(Some(1));
    let (mut over, hello) = open_socket_mode(&emu).await;
    assert_eq!(hello["num_connections"], 2);
    let (frames, _) = read_to_end(&mut over).await;
    assert_eq!(frames[0]["reason"], "too_many_websockets", "{frames:?}");
    emu.socket_mode_limit_sockets(None);
    let (mut fine, _) = open_socket_mode(&emu).await;
    assert_quiet(&mut fine).await;
    assert_eq!(emu.socket_mode_connections(), 2);
}

#[tokio::test]
async fn posts_by_people_and_other_bots_reach_socket_mode_apps_as_events_api() {
    let emu = Emulator::builder()
        .other_poster("xoxb-other-app", "U0OTHER", Some("B0OTHER"))
        .start()
        .await
        .unwrap();
    let (mut ws, _) = open_socket_mode(&emu).await;
    // Another app's bot posts with chat.postMessage.
    let url = format!("{}chat.postMessage", emu.api_url());
    let answer = body(
        within(
            http()
                .post(url)
                .bearer_auth("xoxb-other-app")
                .json(&json!({"channel": "C0GENERAL", "text": "from another bot"}))
                .send(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    let frame = next_json(&mut ws).await;
    assert_eq!(frame["type"], "events_api");
    let event = &frame["payload"]["event"];
    assert_eq!(
        (
            &event["user"],
            &event["bot_id"],
            &event["text"],
            &event["channel"]
        ),
        (
            &json!("U0OTHER"),
            &json!("B0OTHER"),
            &json!("from another bot"),
            &json!("C0GENERAL")
        )
    );
    assert!(emu.posts().is_empty(), "not one of the bot's own posts");
    // A person's message too.
    emu.message("C0GENERAL", "U0ALICE", "from a person");
    let frame = next_json(&mut ws).await;
    assert_eq!(frame["payload"]["event"]["user"], "U0ALICE");
    assert_eq!(frame["payload"]["event"]["text"], "from a person");
}
