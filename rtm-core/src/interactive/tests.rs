//! Parsing Slack's sample payloads (protocol §7.2) and the usual interaction payloads, and
//! the JSON of the answers.

use serde_json::json;

use super::*;
use crate::{Event, FromEvent};

/// The `slash_commands` envelope of §7.2.
const SLASH: &str = r#"{"envelope_id": "1d3c79ab-0ffb-41f3-a080-d19e85f53649", "type": "slash_commands",
 "accepts_response_payload": true,
 "payload": {"token": "verification-token", "team_id": "T111", "team_domain": "xxx",
             "channel_id": "C111", "channel_name": "random", "user_id": "U111",
             "user_name": "testxyz", "command": "/hello-socket-mode", "text": "",
             "api_app_id": "A111", "response_url": "https://hooks.slack.com/commands/T111/111/xxx",
             "trigger_id": "111.222.xxx"}}"#;

/// The `interactive` (`shortcut`) envelope of §7.2.
const SHORTCUT: &str = r#"{"envelope_id": "57d6a792-4d35-4d0b-b6aa-3361493e1caf", "type": "interactive",
 "accepts_response_payload": false,
 "payload": {"type": "shortcut", "token": "verification-token", "action_ts": "1610198080.300836",
             "team": {"id": "T111", "domain": "testxyz"},
             "user": {"id": "U111", "username": "testxyz", "team_id": "T111"},
             "is_enterprise_install": false, "enterprise": null, "callback_id": "do-something",
             "trigger_id": "111.222.xxx"}}"#;

fn envelope(kind: &str, payload: serde_json::Value) -> Event {
    Event::from_json(json!({"envelope_id": "e1", "type": kind, "payload": payload}).to_string()).unwrap()
}

#[test]
fn slash_command_sample_parses_from_the_envelope_payload() {
    let event = Event::from_json(SLASH).unwrap();
    let command = SlashCommand::from_event(&event).unwrap();
    assert_eq!(command.command, "/hello-socket-mode");
    assert_eq!(command.text, "");
    assert_eq!(
        (command.user_id.as_str(), command.user_name.as_deref()),
        ("U111", Some("testxyz"))
    );
    assert_eq!(
        (command.channel_id.as_str(), command.channel_name.as_deref()),
        ("C111", Some("random"))
    );
    assert_eq!(command.team_id, "T111");
    assert_eq!(
        command.response_url,
        "https://hooks.slack.com/commands/T111/111/xxx"
    );
    assert_eq!(command.trigger_id, "111.222.xxx");
    assert_eq!(command.api_app_id.as_deref(), Some("A111"));
}

#[test]
fn shortcut_sample_parses() {
    let shortcut = Shortcut::from_event(&Event::from_json(SHORTCUT).unwrap()).unwrap();
    assert_eq!(shortcut.callback_id, "do-something");
    assert_eq!(shortcut.trigger_id, "111.222.xxx");
    assert_eq!(shortcut.user.id, "U111");
    assert_eq!(shortcut.user.username.as_deref(), Some("testxyz"));
    assert_eq!(shortcut.team.as_ref().map(|t| t.id.as_str()), Some("T111"));
}

#[test]
fn block_actions_parse_with_their_actions_and_message() {
    let event = envelope(
        "interactive",
        json!({
            "type": "block_actions", "user": {"id": "U1", "username": "alice", "team_id": "T1"},
            "api_app_id": "A1", "team": {"id": "T1", "domain": "x"},
            "container": {"type": "message", "message_ts": "1.000100", "channel_id": "C1", "is_ephemeral": false},
            "trigger_id": "1.2.3", "channel": {"id": "C1", "name": "general"},
            "message": {"type": "message", "ts": "1.000100", "text": "Deploy?", "bot_id": "B1",
                        "blocks": [{"type": "actions"}]},
            "response_url": "https://hooks.slack.com/actions/T1/1/x",
            "actions": [
                {"action_id": "approve", "block_id": "b1", "type": "button", "value": "v1",
                 "text": {"type": "plain_text", "text": "Approve"}, "action_ts": "1.5"},
                {"action_id": "env", "block_id": "b1", "type": "static_select",
                 "selected_option": {"text": {"type": "plain_text", "text": "Staging"}, "value": "stg"}}
            ],
            "state": {"values": {}}, "some_future_field": [1, 2]
        }),
    );
    let actions = BlockActions::from_event(&event).unwrap();
    assert_eq!(actions.user.id, "U1");
    assert_eq!(actions.channel.as_ref().unwrap().id, "C1");
    assert_eq!(actions.message.as_ref().unwrap().ts, "1.000100");
    assert_eq!(
        actions.container.as_ref().unwrap().message_ts.as_deref(),
        Some("1.000100")
    );
    assert_eq!(
        actions.response_url.as_deref(),
        Some("https://hooks.slack.com/actions/T1/1/x")
    );
    let approve = actions.action("approve").unwrap();
    assert_eq!(
        (approve.kind.as_str(), approve.value.as_deref()),
        ("button", Some("v1"))
    );
    let env = actions.action("env").unwrap();
    assert_eq!(env.selected_option.as_ref().unwrap().value, "stg");
    assert!(actions.action("deny").is_none());
}

#[test]
fn view_submission_parses_its_state_and_metadata() {
    let event = envelope(
        "interactive",
        json!({
            "type": "view_submission", "team": {"id": "T1", "domain": "x"},
            "user": {"id": "U1", "username": "alice", "name": "alice", "team_id": "T1"},
            "api_app_id": "A1", "trigger_id": "1.2.3",
            "view": {"id": "V1", "type": "modal", "callback_id": "survey", "private_metadata": "C1",
                     "hash": "1.abc", "blocks": [],
                     "state": {"values": {
                         "email": {"email_input": {"type": "plain_text_input", "value": "a@b.c"}},
                         "team": {"team_select": {"type": "static_select",
                                  "selected_option": {"text": {"type": "plain_text", "text": "Ops"}, "value": "ops"}}}
                     }}},
            "response_urls": [{"block_id": "where", "action_id": "conv", "channel_id": "C2",
                               "response_url": "https://hooks.slack.com/app/x"}]
        }),
    );
    let submission = ViewSubmission::from_event(&event).unwrap();
    assert_eq!(submission.view.callback_id, "survey");
    assert_eq!(submission.view.private_metadata, "C1");
    assert_eq!(submission.view.state.value("email", "email_input"), Some("a@b.c"));
    assert_eq!(submission.view.state.value("team", "team_select"), Some("ops"));
    assert_eq!(submission.view.state.value("team", "missing"), None);
    assert_eq!(
        submission.response_urls[0].response_url,
        "https://hooks.slack.com/app/x"
    );
}

#[test]
fn view_closed_message_shortcut_and_block_suggestion_parse() {
    let closed = ViewClosed::from_event(&envelope(
        "interactive",
        json!({"type": "view_closed", "user": {"id": "U1"}, "view": {"callback_id": "survey"}, "is_cleared": true}),
    ))
    .unwrap();
    assert!(closed.is_cleared);
    assert_eq!(closed.view.callback_id, "survey");

    let shortcut = MessageShortcut::from_event(&envelope(
        "interactive",
        json!({"type": "message_action", "callback_id": "save", "trigger_id": "1.2", "user": {"id": "U1"},
               "channel": {"id": "C1", "name": "general"}, "message_ts": "5.0",
               "message": {"type": "message", "user": "U2", "ts": "5.0", "text": "keep me"},
               "response_url": "https://hooks.slack.com/app/y"}),
    ))
    .unwrap();
    assert_eq!(shortcut.callback_id, "save");
    assert_eq!(shortcut.message.unwrap().text.as_deref(), Some("keep me"));

    let suggestion = BlockSuggestion::from_event(&envelope(
        "interactive",
        json!({"type": "block_suggestion", "user": {"id": "U1"}, "action_id": "pick", "block_id": "b", "value": "st"}),
    ))
    .unwrap();
    assert_eq!(
        (suggestion.action_id.as_str(), suggestion.value.as_str()),
        ("pick", "st")
    );
}

#[test]
fn a_payload_missing_a_required_field_names_it() {
    let event = envelope("slash_commands", json!({"command": "/x"}));
    let error = SlashCommand::from_event(&event).unwrap_err();
    assert_eq!(error.event_type, "slash_commands");
    assert!(error.to_string().contains("user_id"), "{error}");
}

#[test]
fn answers_serialise_to_slacks_shapes() {
    let message = MessageResponse::ephemeral("only you").blocks(vec![json!({"type": "divider"})]);
    assert_eq!(
        serde_json::to_value(&message).unwrap(),
        json!({"text": "only you", "response_type": "ephemeral", "blocks": [{"type": "divider"}]})
    );
    assert_eq!(
        serde_json::to_value(MessageResponse::ephemeral("x").in_thread("1.0")).unwrap(),
        json!({"text": "x", "response_type": "in_channel", "thread_ts": "1.0", "replace_original": false})
    );
    assert_eq!(
        serde_json::to_value(MessageResponse::in_channel("done").replace_original()).unwrap(),
        json!({"text": "done", "response_type": "in_channel", "replace_original": true})
    );
    assert_eq!(
        serde_json::to_value(MessageResponse::ephemeral("gone").delete_original()).unwrap()["delete_original"],
        true
    );
    let view = json!({"type": "modal", "title": {"type": "plain_text", "text": "Next"}, "blocks": []});
    assert_eq!(
        serde_json::to_value(ViewResponse::update(view.clone())).unwrap(),
        json!({"response_action": "update", "view": view})
    );
    assert_eq!(
        serde_json::to_value(ViewResponse::push(view.clone())).unwrap(),
        json!({"response_action": "push", "view": view})
    );
    assert_eq!(
        serde_json::to_value(ViewResponse::clear()).unwrap(),
        json!({"response_action": "clear"})
    );
    assert_eq!(
        serde_json::to_value(OptionsResponse::new([("Staging", "stg")])).unwrap(),
        json!({"options": [{"text": {"type": "plain_text", "text": "Staging"}, "value": "stg"}]})
    );
}
