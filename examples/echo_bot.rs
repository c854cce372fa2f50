//! Echo bot: answers every user's message with the same text, in the same channel.
//!
//! ```text
//! cargo run -p rtm-examples --example echo_bot                     # bundled emulator, scripted demo
//! SLACK_TOKEN=xoxb-… cargo run -p rtm-examples --example echo_bot  # a real workspace
//! SLACK_TOKEN=… SLACK_API_URL=http://127.0.0.1:8080/api/ cargo run …  # any Slack emulator
//! ```
//!
//! This file is also the benchmark contract. For every `message` event with no subtype whose
//! `user` is not the bot itself, it sends the same `text` back to the same `channel` over RTM.
//! Sends are pipelined: it never waits for one reply before sending the next echo, and checks
//! replies as they arrive. On a fatal error (e.g. `invalid_auth`) it exits with status 1 and a
//! one-line message.

mod common;

use std::{borrow::Cow, process::ExitCode, time::Duration};

use futures::{StreamExt, stream::FuturesUnordered};
use rtm_core::{ClientConfig, Event, RtmClient};
use serde::Deserialize;

/// The fields of a `message` event the bot needs, borrowed from the event's frame (only a
/// string with JSON escapes in it is copied). A missing field reads as empty. (Serde borrows
/// only a bare `Cow`, never one inside an `Option`.)
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(borrow, default)]
    user: Cow<'a, str>,
    #[serde(borrow, default)]
    channel: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Cow<'a, str>,
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();

    let result = if std::env::var_os(rtm_core::TOKEN_ENV).is_some() {
        run_against_slack().await
    } else {
        demo().await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_bot: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs until ctrl-c or a fatal error, against `SLACK_API_URL` (default: Slack).
async fn run_against_slack() -> Result<(), rtm_core::Error> {
    let client = RtmClient::connect(ClientConfig::from_env()?).await?;
    let info = client.info();
    eprintln!(
        "echo_bot: connected as {} ({}) to {}",
        info.self_user.name, info.self_user.id, info.team.name
    );
    tokio::select! {
        result = echo(&client) => result.map(drop),
        _ = tokio::signal::ctrl_c() => {
            client.disconnect().await;
            Ok(())
        }
    }
}

/// The echo loop: drain-all reads, pipelined sends, replies checked as they come. Returns
/// how many echoes Slack accepted.
async fn echo(client: &RtmClient) -> Result<u64, rtm_core::Error> {
    let me = client.info().self_user.id.clone();
    let mut replies = FuturesUnordered::new();
    let mut echoed = 0;
    loop {
        tokio::select! {
            batch = client.read() => {
                let Some(batch) = batch? else { break };
                for event in batch {
                    if let Some((channel, text)) = echo_of(&event, &me) {
                        replies.push(client.send_message(&channel, &text));
                    }
                }
            }
            Some(reply) = replies.next() => echoed += accepted(reply),
        }
    }
    // Closed on request: collect the replies still in flight.
    while let Some(reply) = replies.next().await {
        echoed += accepted(reply);
    }
    Ok(echoed)
}

fn accepted(reply: Result<rtm_core::Reply, rtm_core::SendError>) -> u64 {
    match reply {
        Ok(_) => 1,
        Err(e) => {
            tracing::warn!(error = %e, "echo failed");
            0
        }
    }
}

/// The channel and text to echo, for a plain message from someone else.
fn echo_of<'a>(event: &'a Event, me: &str) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
    if event.kind() != "message" || event.subtype().is_some() {
        return None;
    }
    let message: Incoming<'_> = event.parse().ok()?;
    if message.user == me || message.channel.is_empty() || message.text.is_empty() {
        return None;
    }
    Some((message.channel, message.text))
}

/// Without `SLACK_TOKEN`: start the bundled emulator, play a short conversation, print it.
async fn demo() -> Result<(), rtm_core::Error> {
    let emulator = common::start_emulator().await?;
    let config = ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .build()?;
    let client = RtmClient::connect(config).await?;
    let info = client.info();
    println!(
        "connected as {} ({}) to team {}",
        info.self_user.name, info.self_user.id, info.team.name
    );

    let bot = tokio::spawn({
        let client = client.clone();
        async move { echo(&client).await }
    });
    let script = [
        ("U0ALICE", "hello, bot!"),
        ("U0BOB", "can you hear me?"),
        ("U0ALICE", "echo echo echo"),
    ];
    for (n, (user, text)) in script.iter().enumerate() {
        println!("  {user} in C0GENERAL: {text:?}");
        emulator.message("C0GENERAL", user, text);
        // Wait for the bot's echo; the emulator records every message frame it receives.
        match emulator.wait_for_sent(n + 1, Duration::from_secs(5)).await {
            Ok(sent) => {
                let echo = &sent[n];
                println!(
                    "  bot   in {}: {}",
                    echo["channel"].as_str().unwrap_or("?"),
                    echo["text"]
                );
            }
            Err(_) => println!("  (no echo within 5 s)"),
        }
    }
    client.disconnect().await;
    let echoed = bot
        .await
        .map_err(|e| rtm_core::Error::Config(format!("echo task failed: {e}")))??;
    println!(
        "done: {} events received, {echoed} echoes accepted by the server",
        client.stats().events
    );
    Ok(())
}
