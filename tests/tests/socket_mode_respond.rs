//! Answering Socket Mode envelopes against the bundled emulator: a slash command answered in
//! its ack, a late answer through the `response_url`, an unanswered envelope acked empty
//! within Slack's window even when nobody reads, `ack()` releasing early, and the envelope
//! metadata (`retry_attempt`, `retry_reason`) visible on events.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rtm_core::{
    Answered, ClientConfigBuilder, EnvelopeKind, Event, RespondError, SocketModeClient,
    emulator::{Emulator, EmulatorBuilder},
};
use rtm_tests::{WAIT, config, init_tracing, within};
use serde_json::{Value, json};

/// Slack's ack window (protocol §7.3).
const SLACK_ACK_WINDOW: Duration = Duration::from_secs(3);

async fn start(builder: EmulatorBuilder) -> Emulator {
    init_tracing();
    builder.start().await.expect("emulator starts")
}

async fn socket_client(emulator: &Emulator, config: ClientConfigBuilder) -> SocketModeClient {
    let bot = config.build().expect("valid config");
    let client = within("connect", SocketModeClient::connect(emulator.app_token(), bot))
        .await
        .expect("client connects");
    assert!(emulator.wait_for_socket_mode_connections(1, WAIT).await);
    client
}

/// Reads until an event of `kind` arrives (others are skipped).
async fn next_of_kind(client: &SocketModeClient, kind: &str) -> Event {
    within(kind, async {
        loop {
            let batch = client.read().await.expect("no error").expect("not closed");
            if let Some(event) = batch.into_iter().find(|e| e.kind() == kind) {
                return event;
            }
        }
    })
    .await
}

fn slash_command() -> Value {
    json!({"command": "/deploy", "text": "prod", "user_id": "U0ALICE", "channel_id": "C0GENERAL",
           "trigger_id": "111.222.xxx"})
}

fn acks_of(emulator: &Emulator, envelope_id: &str) -> Vec<Value> {
    emulator
        .acks()
        .into_iter()
        .filter(|ack| ack["envelope_id"] == envelope_id)
        .collect()
}

#[tokio::test]
async fn a_slash_command_answered_in_time_is_answered_in_its_ack() {
    let emulator = start(Emulator::builder()).await;
    // The longest budget, so a loaded machine cannot make the answer late.
    let config = config(&emulator).response_budget(rtm_core::MAX_RESPONSE_BUDGET);
    let client = socket_client(&emulator, config).await;
    let mut events = client.events();
    let envelope_id = emulator.push_envelope("slash_commands", slash_command());
    let event = within("the slash command", async {
        loop {
            let event = events.next().await.expect("stream open").expect("no error");
            if event.kind() == "slash_commands" {
                return event;
            }
        }
    })
    .await;
    let envelope = event.envelope().expect("envelope metadata");
    assert_eq!(envelope.id(), envelope_id);
    assert_eq!(envelope.kind(), EnvelopeKind::SlashCommands);
    assert!(envelope.accepts_response_payload());

    let answer = json!({"response_type": "ephemeral", "text": "Deploying prod"});
    let answered = within("respond", client.respond(&event, &answer)).await;
    assert_eq!(answered.expect("answered"), Answered::InAck);
    let acks = emulator.wait_for_acks(1, WAIT).await.expect("the ack");
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0], json!({"envelope_id": envelope_id, "payload": answer}));

    // A second answer is a follow-up through the response_url.
    let follow_up = within("follow-up", client.respond(&event, "Done")).await;
    assert_eq!(follow_up.expect("posted"), Answered::ResponseUrl);
    let posts = emulator
        .wait_for_response_url_posts(1, WAIT)
        .await
        .expect("the follow-up");
    assert_eq!(posts[0].body, json!({"text": "Done"}));
    assert_eq!(acks_of(&emulator, &envelope_id).len(), 1, "acked once");
    client.disconnect().await;
}

#[tokio::test]
async fn a_late_answer_goes_to_the_response_url() {
    let emulator = start(Emulator::builder()).await;
    let budget = Duration::from_millis(100);
    let client = socket_client(&emulator, config(&emulator).response_budget(budget)).await;
    let envelope_id = emulator.push_envelope("slash_commands", slash_command());
    let event = next_of_kind(&client, "slash_commands").await;
    // Nobody answered within the budget: the client acked it empty.
    let acks = emulator.wait_for_acks(1, WAIT).await.expect("the empty ack");
    assert_eq!(acks, [json!({"envelope_id": envelope_id})]);

    let answer = json!({"text": "Deployed prod", "response_type": "in_channel"});
    let answered = within("respond", client.respond(&event, &answer)).await;
    assert_eq!(answered.expect("posted"), Answered::ResponseUrl);
    let posts = emulator
        .wait_for_response_url_posts(1, WAIT)
        .await
        .expect("the POST");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].envelope_id, envelope_id);
    assert_eq!(posts[0].body, answer);
    assert!(posts[0].accepted);

    // A block action never takes an answer in its ack: straight to its response_url.
    let action_id = emulator.push_envelope(
        "interactive",
        json!({"type": "block_actions", "actions": [{"action_id": "approve"}]}),
    );
    let action = next_of_kind(&client, "interactive").await;
    assert!(!action.envelope().expect("envelope").accepts_response_payload());
    let answered = within("respond", client.respond(&action, &json!({"text": "Approved"}))).await;
    assert_eq!(answered.expect("posted"), Answered::ResponseUrl);
    let posts = emulator
        .wait_for_response_url_posts(2, WAIT)
        .await
        .expect("2 POSTs");
    assert_eq!(posts[1].envelope_id, action_id);

    // A shortcut has neither a held ack nor a response_url.
    emulator.push_envelope("interactive", json!({"type": "shortcut", "callback_id": "x"}));
    let shortcut = next_of_kind(&client, "interactive").await;
    let refused = within("respond", client.respond(&shortcut, "hi")).await;
    assert!(matches!(refused, Err(RespondError::NotAnswerable)), "{refused:?}");
    client.disconnect().await;
}

#[tokio::test]
async fn a_reader_that_never_answers_or_reads_still_gets_the_empty_ack_in_time() {
    let emulator = start(Emulator::builder()).await;
    let budget = Duration::from_secs(1);
    let client = socket_client(&emulator, config(&emulator).response_budget(budget)).await;
    let pushed = Instant::now();
    let envelope_id = emulator.push_envelope("slash_commands", slash_command());
    // Nothing reads the client meanwhile.
    let acks = emulator
        .wait_for_acks(1, SLACK_ACK_WINDOW)
        .await
        .expect("acked within Slack's window");
    let elapsed = pushed.elapsed();
    assert_eq!(acks, [json!({"envelope_id": envelope_id})], "empty");
    assert!(elapsed >= budget, "held for the answer first ({elapsed:?})");
    client.disconnect().await;
}

#[tokio::test]
async fn ack_releases_a_held_ack_before_the_budget() {
    let emulator = start(Emulator::builder()).await;
    let config = config(&emulator).response_budget(rtm_core::MAX_RESPONSE_BUDGET);
    let client = socket_client(&emulator, config).await;
    let envelope_id = emulator.push_envelope(
        "interactive",
        json!({"type": "view_submission", "view": {"callback_id": "deploy"}}),
    );
    let event = next_of_kind(&client, "interactive").await;
    assert!(event.envelope().expect("envelope").accepts_response_payload());
    client.ack(&event);
    client.ack(&event);
    // Released before this answer reached the connection (whatever the budget left): the
    // answer cannot go in the ack any more, and a view submission has no response_url here.
    let late = within(
        "respond",
        client.respond(&event, &json!({"response_action": "clear"})),
    )
    .await;
    assert!(matches!(late, Err(RespondError::NotAnswerable)), "{late:?}");
    let acks = emulator.wait_for_acks(1, WAIT).await.expect("released");
    assert_eq!(acks, [json!({"envelope_id": envelope_id})], "empty");
    // Nothing else goes for it when the budget runs out.
    tokio::time::sleep(rtm_core::MAX_RESPONSE_BUDGET).await;
    assert_eq!(acks_of(&emulator, &envelope_id).len(), 1);
    client.disconnect().await;
}

#[tokio::test]
async fn events_carry_their_envelopes_retry_attempt_and_reason() {
    let emulator = start(Emulator::builder()).await;
    let client = socket_client(&emulator, config(&emulator)).await;
    let first_delivery = emulator.push_event_envelope(
        json!({"type": "message", "channel": "C0GENERAL", "user": "U0ALICE", "text": "first", "ts": "1.000001"}),
    );
    let event = next_of_kind(&client, "message").await;
    let envelope = event
        .envelope()
        .expect("an events_api event carries its envelope");
    assert_eq!(envelope.kind(), EnvelopeKind::EventsApi);
    assert_eq!((envelope.retry_attempt(), envelope.retry_reason()), (0, None));
    assert!(!envelope.accepts_response_payload());
    assert!(!first_delivery.is_empty());

    emulator.push_socket_mode_text(
        json!({"envelope_id": "retried-1", "type": "events_api", "accepts_response_payload": false,
               "retry_attempt": 2, "retry_reason": "timeout",
               "payload": {"type": "event_callback", "event_id": "EvRETRIED",
                           "event": {"type": "message", "channel": "C0GENERAL", "user": "U0ALICE",
                                     "text": "retried", "ts": "1.000002"}}})
        .to_string(),
    );
    let event = next_of_kind(&client, "message").await;
    let envelope = event.envelope().expect("envelope");
    assert_eq!(envelope.id(), "retried-1");
    assert_eq!(
        (envelope.retry_attempt(), envelope.retry_reason()),
        (2, Some("timeout"))
    );
    // Acked on receipt, as every envelope that takes no answer; nothing to answer here.
    let refused = within("respond", client.respond(&event, "hi")).await;
    assert!(matches!(refused, Err(RespondError::NotAnswerable)), "{refused:?}");
    assert!(emulator.wait_for_acks(2, WAIT).await.is_some());
    client.disconnect().await;
}
