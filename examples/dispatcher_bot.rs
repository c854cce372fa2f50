//! Dispatcher bot: three `#[rtm_event]` handlers, a `team_join` greeter, a message echo and a
//! reaction handler, run by an `RtmDispatcher`, with application state (a greeting counter)
//! and an error hook that tells the user in the channel. The handlers live in
//! `common/bot.rs`, so that `socket_mode_bot` runs the very same ones over Socket Mode.
//!
//! ```text
//! cargo run -p rtm-examples --example dispatcher_bot                    # bundled emulator, scripted demo
//! SLACK_TOKEN=xoxb-… cargo run -p rtm-examples --example dispatcher_bot # a real workspace (Ctrl-C stops)
//! ```

mod common;

use std::time::Duration;

use common::bot;
use rtm_core::{ClientConfig, RtmClient, RtmDispatcher, emulator::Emulator};
use serde_json::json;

fn dispatcher(client: RtmClient) -> RtmDispatcher<bot::Greeted> {
    bot::with_handlers(RtmDispatcher::new(client), "dispatcher_bot")
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
