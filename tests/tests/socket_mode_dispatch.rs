//! One dispatcher over Socket Mode against the bundled emulator: `dispatcher_bot`-style
//! `#[rtm_event]` handlers on `events_api` envelopes, slash-command and interaction routes
//! (attribute and `Route` forms) that fire only for their command / action / callback id,
//! typed payload arguments, replies from a slash command to its channel, and a panicking
//! handler that does not take the bot down.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use rtm_core::{
    BoxError, Context, DispatcherProbe, Route, RtmDispatcher, SocketModeClient, State,
    emulator::Emulator,
    events::{Message, ReactionAdded, TeamJoin},
    interaction,
    interactive::{BlockActions, Shortcut, SlashCommand},
    rtm_event, slash_command,
};
use rtm_tests::{WAIT, config, init_tracing, within};
use serde_json::json;

const CHANNEL: &str = "C0GENERAL";

async fn start() -> (Emulator, SocketModeClient) {
    init_tracing();
    let emulator = Emulator::start().await.expect("emulator starts");
    // Slash commands and interactions are delivered once, never redelivered: a keepalive
    // timeout on a loaded machine (the shared config's is 300 ms) would replace the socket and
    // lose what the emulator pushed to the old one, so this file keeps the default timeout.
    let bot = config(&emulator)
        .keepalive_interval(Duration::from_secs(1))
        .keepalive_timeout(Duration::from_secs(10))
        .build()
        .expect("valid config");
    let client = within("connect", SocketModeClient::connect(emulator.app_token(), bot))
        .await
        .expect("client connects");
    assert!(emulator.wait_for_socket_mode_connections(1, WAIT).await);
    (emulator, client)
}

/// Waits until the dispatcher has handled everything pushed so far (the probe's marker goes
/// through Socket Mode like any event); returns the handler failures.
async fn settle(emulator: &Emulator, probe: &DispatcherProbe) -> Vec<String> {
    emulator.push_event_envelope(probe.sync_event());
    within("dispatcher settles", probe.settled()).await
}

// --- dispatcher_bot's handlers, as written for RTM ---

#[rtm_event(type = "team_join")]
async fn greet(ctx: Context, join: TeamJoin) -> Result<(), BoxError> {
    ctx.send_message(CHANNEL, &format!("Welcome, <@{}>!", join.user.id))
        .await?;
    Ok(())
}

#[rtm_event(type = "message")]
async fn echo(ctx: Context, message: Message) -> Result<(), BoxError> {
    let (None, Some(text)) = (&message.subtype, message.text) else {
        return Ok(());
    };
    ctx.reply(&text).await?;
    Ok(())
}

#[rtm_event(type = "reaction_added")]
async fn thank_reaction(ctx: Context, reaction: ReactionAdded) -> Result<(), BoxError> {
    ctx.reply_in_thread(&format!("Thanks for the :{}:!", reaction.reaction))
        .await?;
    Ok(())
}

#[tokio::test]
async fn dispatcher_bot_handlers_run_unchanged_over_socket_mode() {
    let (emulator, client) = start().await;
    let (dispatcher, probe) = RtmDispatcher::socket_mode(client.clone())
        .handler::<greet>()
        .handler::<echo>()
        .handler::<thank_reaction>()
        .with_probe();
    let running = tokio::spawn(dispatcher.run());

    emulator.push_event_envelope(json!({"type": "team_join", "user": {"id": "U0ALICE", "name": "alice"}}));
    emulator.push_event_envelope(
        json!({"type": "message", "channel": "C0RANDOM", "user": "U0BOB", "text": "hi there", "ts": "5.000100"}),
    );
    emulator.push_event_envelope(json!({
        "type": "reaction_added", "user": "U0ALICE", "reaction": "wave", "item_user": "U0BOB",
        "item": {"type": "message", "channel": "C0RANDOM", "ts": "5.000100"}, "event_ts": "6.0",
    }));
    let posts = within("three answers", emulator.wait_for_posts(3, WAIT))
        .await
        .expect("three posts");
    let mut seen: Vec<(String, String, Option<String>)> = posts
        .into_iter()
        .map(|post| (post.channel, post.text, post.thread_ts))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (CHANNEL.into(), "Welcome, <@U0ALICE>!".into(), None),
            (
                "C0RANDOM".into(),
                "Thanks for the :wave:!".into(),
                Some("5.000100".into())
            ),
            ("C0RANDOM".into(), "hi there".into(), None),
        ]
    );
    // The bot's own posts came back as envelopes and were not answered.
    assert!(settle(&emulator, &probe).await.is_empty());
    assert_eq!(emulator.posts().len(), 3);
    client.disconnect().await;
    within("dispatcher stops", running).await.unwrap().unwrap();
}

/// What the routes below saw, in order.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }

    fn sorted(&self) -> Vec<String> {
        let mut entries = self.0.lock().unwrap().clone();
        entries.sort();
        entries
    }
}

#[slash_command("/deploy")]
async fn deploy(ctx: Context, State(seen): State<Seen>, command: SlashCommand) -> Result<(), BoxError> {
    seen.push(format!(
        "deploy {} by {} in {}",
        command.text, command.user_id, command.channel_id
    ));
    // A reply from a slash command goes to the channel it was typed in.
    ctx.reply(&format!("deploying {}", command.text)).await?;
    Ok(())
}

#[interaction(type = "block_actions", action_id = "approve")]
async fn approve(State(seen): State<Seen>, click: BlockActions) {
    let value = click.action("approve").and_then(|a| a.value.clone());
    seen.push(format!(
        "approve {} by {}",
        value.unwrap_or_default(),
        click.user.id
    ));
}

#[interaction(type = "shortcut", callback_id = "new_ticket")]
async fn new_ticket(State(seen): State<Seen>, shortcut: Shortcut) {
    seen.push(format!(
        "shortcut {} by {}",
        shortcut.callback_id, shortcut.user.id
    ));
}

#[tokio::test]
async fn slash_and_interaction_routes_fire_only_for_their_command_action_or_callback() {
    let (emulator, client) = start().await;
    let seen = Seen::default();
    let by_hand = seen.clone();
    let (dispatcher, probe) = RtmDispatcher::socket_mode(client.clone())
        .with_state(seen.clone())
        .handler::<deploy>()
        .handler::<approve>()
        .handler::<new_ticket>()
        // The macro-free form of the same routes.
        .on(Route::slash_command("/status"), move |command: SlashCommand| {
            let seen = by_hand.clone();
            async move { seen.push(format!("status {}", command.text)) }
        })
        .with_probe();
    let running = tokio::spawn(dispatcher.run());

    emulator.push_slash_command("/deploy", "v42", "U0ALICE", CHANNEL);
    emulator.push_slash_command("/status", "now", "U0ALICE", CHANNEL);
    emulator.push_slash_command("/deploy-all", "no", "U0ALICE", CHANNEL);
    emulator.push_button_click("approve", "release-42", "U0BOB", CHANNEL, "7.0");
    emulator.push_button_click("deny", "release-42", "U0BOB", CHANNEL, "7.0");
    emulator.push_envelope(
        "interactive",
        json!({"type": "shortcut", "callback_id": "new_ticket", "trigger_id": "1.2", "user": {"id": "U0CAROL"}}),
    );
    emulator.push_envelope(
        "interactive",
        json!({"type": "shortcut", "callback_id": "other", "trigger_id": "1.3", "user": {"id": "U0CAROL"}}),
    );
    assert_eq!(settle(&emulator, &probe).await, Vec::<String>::new());
    assert_eq!(
        seen.sorted(),
        [
            "approve release-42 by U0BOB",
            "deploy v42 by U0ALICE in C0GENERAL",
            "shortcut new_ticket by U0CAROL",
            "status now",
        ]
    );
    let posts = within("the reply", emulator.wait_for_posts(1, WAIT))
        .await
        .expect("one post");
    assert_eq!(
        (posts[0].channel.as_str(), posts[0].text.as_str()),
        (CHANNEL, "deploying v42")
    );
    client.disconnect().await;
    within("dispatcher stops", running).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_panicking_slash_command_handler_does_not_take_the_bot_down() {
    let (emulator, client) = start().await;
    let seen = Seen::default();
    let handled = seen.clone();
    let (dispatcher, probe) = RtmDispatcher::socket_mode(client.clone())
        .on(
            Route::slash_command("/boom"),
            |command: SlashCommand| async move {
                assert!(command.text.is_empty(), "a handler panics on purpose");
            },
        )
        .on(Route::slash_command("/ok"), move |command: SlashCommand| {
            let seen = handled.clone();
            async move { seen.push(command.text) }
        })
        .with_probe();
    let running = tokio::spawn(dispatcher.run());

    emulator.push_slash_command("/boom", "first", "U0ALICE", CHANNEL);
    emulator.push_slash_command("/ok", "after the panic", "U0ALICE", CHANNEL);
    let failures = settle(&emulator, &probe).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("panicked on a `slash_commands` event"),
        "{failures:?}"
    );
    assert_eq!(seen.sorted(), ["after the panic"]);

    // Still running: the next command is handled too, and every envelope was acked.
    emulator.push_slash_command("/ok", "later", "U0ALICE", CHANNEL);
    assert!(settle(&emulator, &probe).await.is_empty());
    assert_eq!(seen.sorted(), ["after the panic", "later"]);
    assert!(emulator.wait_for_acks(3, WAIT).await.is_some());
    client.disconnect().await;
    within("dispatcher stops", running).await.unwrap().unwrap();
}

// --- answers through the ack, from handlers ---

#[slash_command("/echo")]
async fn echo_command(ctx: Context, command: SlashCommand) -> Result<(), BoxError> {
    let answered = ctx
        .respond(&rtm_core::interactive::MessageResponse::in_channel(command.text))
        .await?;
    assert_eq!(answered, rtm_core::Answered::InAck);
    Ok(())
}

const BROKEN_PANIC: &str = "this handler always panics";

#[slash_command("/broken")]
async fn broken_command(_command: SlashCommand) {
    panic!("{BROKEN_PANIC}");
}

/// The panic hook runs before the handler's call unwinds and releases its ack, so its time
/// counts against the response budget. The default hook prints a backtrace when
/// `RUST_BACKTRACE` is set, which takes seconds on a cold machine (CI saw it), so `/broken`'s
/// panic is not printed; every other panic goes to the hook that was there.
fn quiet_broken_command_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload_as_str() != Some(BROKEN_PANIC) {
                previous(info);
            }
        }));
    });
}

/// The ack recorded for `envelope_id`, waiting for it.
async fn ack_of(emulator: &Emulator, envelope_id: &str) -> serde_json::Value {
    within("the ack", async {
        loop {
            if let Some(ack) = emulator
                .acks()
                .into_iter()
                .find(|ack| ack["envelope_id"] == envelope_id)
            {
                return ack;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

#[tokio::test]
async fn a_slash_command_answered_by_its_handler_is_answered_in_the_ack() {
    let (emulator, client) = start().await;
    let (dispatcher, probe) = RtmDispatcher::socket_mode(client.clone())
        .handler::<echo_command>()
        .with_probe();
    let running = tokio::spawn(dispatcher.run());

    let envelope_id = emulator.push_slash_command("/echo", "hello there", "U0ALICE", CHANNEL);
    let ack = ack_of(&emulator, &envelope_id).await;
    assert_eq!(ack["payload"]["text"], "hello there", "{ack}");
    assert_eq!(ack["payload"]["response_type"], "in_channel", "{ack}");
    assert!(
        settle(&emulator, &probe).await.is_empty(),
        "the handler succeeded"
    );
    assert!(
        emulator.response_url_posts().is_empty(),
        "nothing went the slow way"
    );
    assert_eq!(
        emulator
            .acks()
            .iter()
            .filter(|a| a["envelope_id"] == envelope_id)
            .count(),
        1,
        "acked once"
    );
    client.disconnect().await;
    within("dispatcher stops", running).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_slash_command_whose_handler_panics_is_acked_empty_without_waiting_for_the_budget() {
    quiet_broken_command_panics();
    let (emulator, client) = start().await;
    let (dispatcher, probe) = RtmDispatcher::socket_mode(client.clone())
        .handler::<broken_command>()
        .with_probe();
    let running = tokio::spawn(dispatcher.run());

    let pushed = tokio::time::Instant::now();
    let envelope_id = emulator.push_slash_command("/broken", "", "U0ALICE", CHANNEL);
    let ack = ack_of(&emulator, &envelope_id).await;
    // The client would ack empty at the response budget (2 s) anyway; the dispatcher acks as
    // soon as the handler is done, panicked or not.
    assert!(
        pushed.elapsed() < rtm_core::DEFAULT_RESPONSE_BUDGET,
        "acked after {:?}",
        pushed.elapsed()
    );
    assert!(
        ack.get("payload")
            .is_none_or(|p| p.as_object().is_some_and(|o| o.is_empty())),
        "{ack}"
    );
    let failures = settle(&emulator, &probe).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("always panics"), "{failures:?}");
    // The bot is still up.
    let next = emulator.push_slash_command("/broken", "", "U0ALICE", CHANNEL);
    ack_of(&emulator, &next).await;
    client.disconnect().await;
    within("dispatcher stops", running).await.unwrap().unwrap();
}
