//! `SocketModeClient` with several sockets, against the bundled emulator: the default client
//! holds two; a refresh of one socket under a stream of events loses nothing and duplicates
//! nothing; `too_many_websockets` on one socket backs it off while the other delivers;
//! `link_disabled` on one stops all; `disconnect` closes all; more than Slack's ten is refused.

use std::{collections::HashSet, time::Duration};

use rtm_core::{
    ClientConfig, ConnectionState, Error, Event, SocketModeClient,
    emulator::{Emulator, EmulatorBuilder},
};
use rtm_tests::{WAIT, config, eventually, init_tracing, within};
use serde_json::{Value, json};

async fn start(builder: EmulatorBuilder) -> Emulator {
    init_tracing();
    builder.start().await.expect("emulator starts")
}

/// A client with the test timings and every other option at its default.
async fn connect(emulator: &Emulator) -> SocketModeClient {
    let bot = config(emulator).build().expect("valid config");
    within("connect", SocketModeClient::connect(emulator.app_token(), bot))
        .await
        .expect("client connects")
}

fn message(text: &str) -> Value {
    json!({"type": "message", "channel": "C0GENERAL", "user": "U0ALICE", "text": text, "ts": "1.000001"})
}

fn text_of(event: &Event) -> String {
    event.parse::<Value>().expect("json")["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Reads until `n` `message` events arrived (other kinds are skipped).
async fn read_messages(client: &SocketModeClient, n: usize) -> Vec<String> {
    within(&format!("{n} messages"), async {
        let mut texts = Vec::new();
        while texts.len() < n {
            let batch = client.read().await.expect("no error").expect("not closed");
            texts.extend(
                batch
                    .into_iter()
                    .filter(|e| e.kind() == "message")
                    .map(|e| text_of(&e)),
            );
        }
        texts
    })
    .await
}

#[tokio::test]
async fn a_client_with_the_default_config_holds_two_sockets() {
    assert_eq!(
        ClientConfig::builder("xoxb-1")
            .build()
            .unwrap()
            .socket_mode_connections(),
        2
    );
    let emulator = start(Emulator::builder()).await;
    let client = connect(&emulator).await;
    assert!(emulator.wait_for_socket_mode_connections(2, WAIT).await);
    eventually("both sockets open at the client", || client.open_sockets() == 2).await;
    assert!(client.state().borrow().is_connected());

    // Envelopes spread over both sockets all reach the one reader.
    for i in 0..20 {
        emulator.push_event_envelope(message(&format!("m{i}")));
    }
    let texts: HashSet<String> = read_messages(&client, 20).await.into_iter().collect();
    assert_eq!(texts.len(), 20);
    assert!(emulator.wait_for_acks(20, WAIT).await.is_some());

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(emulator.socket_mode_sockets_opened(), 2, "two, not more");
    assert_eq!(emulator.socket_mode_most_open(), 2);
    let stats = client.stats();
    assert_eq!(stats.connect_calls, 2, "one apps.connections.open per socket");
    assert_eq!(stats.reconnects, 0);
    client.disconnect().await;
}

#[tokio::test]
async fn refreshing_one_socket_under_a_stream_of_events_loses_nothing_and_duplicates_nothing() {
    let emulator = start(
        Emulator::builder()
            // Whatever lands on a socket as it goes comes back soon, as Slack's retries do.
            .socket_mode_retries(
                Duration::from_millis(300),
                [Duration::ZERO, Duration::from_millis(100)],
            )
            .socket_mode_disconnect_close_delay(Duration::from_millis(100)),
    )
    .await;
    let client = connect(&emulator).await;
    assert!(emulator.wait_for_socket_mode_connections(2, WAIT).await);
    const N: usize = 300;
    let pusher = {
        let emulator = emulator.clone();
        tokio::spawn(async move {
            let mut refreshes = 0;
            for i in 0..N {
                emulator.push_event_envelope(message(&format!("m{i}")));
                if i % 100 == 50 {
                    // One refresh at a time, as Slack recycles an app's sockets.
                    eventually("the previous refresh done", || {
                        emulator.socket_mode_connections() == 2
                    })
                    .await;
                    assert!(emulator.socket_mode_disconnect_one("refresh_requested"));
                    refreshes += 1;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            refreshes
        })
    };
    let texts = read_messages(&client, N).await;
    let refreshes = within("pusher", pusher).await.unwrap();
    let distinct: HashSet<&String> = texts.iter().collect();
    assert_eq!(distinct.len(), N, "no duplicates");
    for i in 0..N {
        assert!(distinct.contains(&format!("m{i}")), "m{i} delivered");
    }
    assert_eq!(refreshes, 3);
    eventually("the last replacement open", || {
        emulator.socket_mode_connections() == 2
    })
    .await;
    assert_eq!(
        emulator.socket_mode_sockets_opened(),
        2 + refreshes,
        "one replacement per refresh"
    );
    assert!(
        emulator.socket_mode_most_open() <= 3,
        "at most one socket more than configured, while one is replaced: {}",
        emulator.socket_mode_most_open()
    );
    assert!(client.state().borrow().is_connected());
    // Nothing more arrives (a late redelivery would be a duplicate).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = client.try_read().unwrap().unwrap();
    assert_eq!(late.into_iter().filter(|e| e.kind() == "message").count(), 0);
    client.disconnect().await;
}

#[tokio::test]
async fn too_many_websockets_on_one_socket_backs_it_off_while_the_other_delivers() {
    // Room for one socket: the second is refused with too_many_websockets, every time.
    let emulator = start(Emulator::builder().socket_mode_max_sockets(1)).await;
    let bot = config(&emulator)
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let client = within("connect", SocketModeClient::connect(emulator.app_token(), bot))
        .await
        .unwrap();
    for i in 0..10 {
        emulator.push_event_envelope(message(&format!("m{i}")));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            client.state().borrow().is_connected(),
            "the first socket keeps the client connected"
        );
    }
    let texts: HashSet<String> = read_messages(&client, 10).await.into_iter().collect();
    assert_eq!(texts.len(), 10);
    let opened = emulator.socket_mode_sockets_opened();
    let elapsed = started.elapsed();
    // The refused socket waits at least 25, 50, 100, 100, … ms between tries: about ten per
    // second, never hundreds (however slow the machine made this test).
    let most = 4 + elapsed.as_millis() as usize / 100;
    assert!((2..=most).contains(&opened), "{opened} sockets in {elapsed:?}");
    assert!(client.open_sockets() <= 1);
    client.disconnect().await;
}

#[tokio::test]
async fn link_disabled_on_one_socket_stops_the_whole_client() {
    let emulator = start(Emulator::builder()).await;
    let client = connect(&emulator).await;
    assert!(emulator.wait_for_socket_mode_connections(2, WAIT).await);
    assert!(emulator.socket_mode_disconnect_one("link_disabled"));
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
    assert!(matches!(
        &*client.state().borrow(),
        ConnectionState::Closed {
            error: Some(Error::LinkDisabled)
        }
    ));
    eventually("the other socket closed too", || {
        emulator.socket_mode_connections() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(emulator.socket_mode_sockets_opened(), 2, "no reconnect");
    assert_eq!(client.open_sockets(), 0);
}

#[tokio::test]
async fn disconnect_closes_every_socket_and_readers_see_the_end_once() {
    let emulator = start(Emulator::builder()).await;
    let client = connect(&emulator).await;
    assert!(emulator.wait_for_socket_mode_connections(2, WAIT).await);
    emulator.push_event_envelope(message("last"));
    assert_eq!(read_messages(&client, 1).await, ["last"]);
    within("disconnect", client.disconnect()).await;
    eventually("every socket closed", || emulator.socket_mode_connections() == 0).await;
    assert!(matches!(client.read().await, Ok(None)));
    assert!(matches!(client.read().await, Ok(None)), "the end stays the end");
    assert!(matches!(
        &*client.state().borrow(),
        ConnectionState::Closed { error: None }
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(emulator.socket_mode_sockets_opened(), 2, "nothing reopened");
}

#[tokio::test]
async fn more_sockets_than_slack_allows_per_app_are_refused() {
    let emulator = start(Emulator::builder()).await;
    for refused in [0, 11] {
        let error = config(&emulator)
            .socket_mode_connections(refused)
            .build()
            .unwrap_err();
        assert!(
            matches!(&error, Error::Config(m) if m.contains("1 to 10")),
            "{error}"
        );
    }
    // Ten, Slack's limit, is accepted, and the client opens all ten.
    let bot = config(&emulator).socket_mode_connections(10).build().unwrap();
    let client = within("connect", SocketModeClient::connect(emulator.app_token(), bot))
        .await
        .unwrap();
    assert!(emulator.wait_for_socket_mode_connections(10, WAIT).await);
    eventually("ten open", || client.open_sockets() == 10).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(emulator.socket_mode_most_open(), 10);
    client.disconnect().await;
    eventually("every socket closed", || emulator.socket_mode_connections() == 0).await;
}
