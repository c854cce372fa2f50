//! Dispatcher bot: three `#[rtm_event]` handlers, a `team_join` greeter, a message echo and a
//! reaction handler, run by an `RtmDispatcher`, with application state (a greeting counter)
//! and an error hook that tells the user in the channel.
//!
//! ```text
//! cargo run -p rtm-examples --example dispatcher_bot                    # bundled emulator, scripted demo
//! SLACK_TOKEN=xoxb-… cargo run -p rtm-examples --example dispatcher_bot # a real workspace (Ctrl-C stops)
//! ```

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use rtm_core::{
    BoxError, ClientConfig, Context, Ordering, RtmClient, RtmDispatcher, State, emulator::Emulator, events,
    rtm_event,
};
use serde_json::json;

/// Where the greeter welcomes new members (a channel id).
const WELCOME_CHANNEL: &str = "C0GENERAL";

/// The bot's application state: handlers take it with `State<Greeted>`.
#[derive(Clone, Default)]
struct Greeted(Arc<AtomicU64>);

/// Welcomes every new member of the workspace, and counts them.
#[rtm_event(type = "team_join")]
async fn greet(ctx: Context, State(greeted): State<Greeted>, join: events::TeamJoin) -> Result<(), BoxError> {
    let n = greeted.0.fetch_add(1, Relaxed) + 1;
    let text = format!("Welcome to the team, <@{}>! You are newcomer #{n}.", join.user.id);
    ctx.send_message(WELCOME_CHANNEL, &text).await?;
    println!("greeted {} in {WELCOME_CHANNEL}", join.user.id);
    Ok(())
}

/// Says every message back, in the same channel. The bot's own messages never get here:
/// `message` routes skip them by default.
#[rtm_event(type = "message")]
async fn echo(ctx: Context, message: events::Message) -> Result<(), BoxError> {
    // Only plain messages: no edits, joins or bot posts.
    let (None, Some(text)) = (&message.subtype, message.text) else {
        return Ok(());
    };
    ctx.reply(&text).await?;
    println!("echoed {text:?} in {}", message.channel);
    Ok(())
}

/// Thanks whoever reacts to a message, in a thread under the reacted message.
#[rtm_event(type = "reaction_added")]
async fn thank_reaction(ctx: Context, reaction: events::ReactionAdded) -> Result<(), BoxError> {
    ctx.reply_in_thread(&format!(
        "Thanks for the :{}:, <@{}>!",
        reaction.reaction, reaction.user
    ))
    .await?;
    println!(
        "thanked {} for :{}: in {}",
        reaction.user,
        reaction.reaction,
        ctx.channel().unwrap_or("?")
    );
    Ok(())
}

fn dispatcher(client: RtmClient) -> RtmDispatcher<Greeted> {
    RtmDispatcher::new(client)
        // Answers in one channel keep the conversation's order; channels run concurrently.
        .ordering(Ordering::PerChannel)
        .with_state(Greeted::default())
        .handler::<greet>()
        .handler::<echo>()
        .handler::<thank_reaction>()
        // Tell the user when a handler failed, where it happened.
        .on_error_async(|error, ctx| async move {
            eprintln!("dispatcher_bot: {error}");
            if ctx.channel().is_some() {
                let _ = ctx.reply_in_thread("Sorry, that did not work.").await;
            }
        })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    if std::env::var_os(rtm_core::TOKEN_ENV).is_some() {
        let client = RtmClient::connect(ClientConfig::from_env()?).await?;
        println!("connected as {}; Ctrl-C to stop", client.info().self_user.name);
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        dispatcher(client).run_until(ctrl_c).await?;
        return Ok(());
    }

    // No token: play a short conversation on the bundled emulator, then stop.
    let emulator = Emulator::start().await?;
    let config = ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .build()?;
    let client = RtmClient::connect(config).await?;
    println!(
        "no {} set: running against the bundled emulator",
        rtm_core::TOKEN_ENV
    );

    emulator.push(json!({"type": "team_join", "user": {"id": "U0ALICE", "name": "alice"}}));
    emulator.message("C0GENERAL", "U0ALICE", "hello bot!");
    let question = emulator.message("C0RANDOM", "U0BOB", "anyone here?");
    emulator.push(json!({
        "type": "reaction_added", "user": "U0ALICE", "reaction": "wave", "item_user": "U0BOB",
        "item": {"type": "message", "channel": "C0RANDOM", "ts": question["ts"]},
        "event_ts": "1700000000.000100",
    }));

    dispatcher(client)
        .run_until(tokio::time::sleep(Duration::from_secs(2)))
        .await?;

    println!("the bot sent:");
    for frame in emulator.sent().iter().filter(|frame| frame["type"] == "message") {
        let (channel, text) = (frame["channel"].as_str(), frame["text"].as_str());
        let thread = frame["thread_ts"]
            .as_str()
            .map(|ts| format!(" (in thread {ts})"))
            .unwrap_or_default();
        println!("  {}: {}{thread}", channel.unwrap_or("?"), text.unwrap_or("?"));
    }
    Ok(())
}
