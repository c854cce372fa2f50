//! Socket Mode echo bot: answers every user's message with the same text, in the same
//! channel, through the Web API.
//!
//! ```text
//! cargo run -p rtm-examples --example socket_echo_bot           # bundled emulator, scripted demo
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… cargo run -p rtm-examples --example socket_echo_bot
//! SLACK_APP_TOKEN=… SLACK_BOT_TOKEN=… SLACK_API_URL=http://127.0.0.1:8080/api/ cargo run …  # any emulator
//! ```
//!
//! This file is also the Socket Mode benchmark and fault-test contract:
//! - It reads `SLACK_APP_TOKEN` (the app-level `xapp-` token, for `apps.connections.open`),
//!   `SLACK_BOT_TOKEN` (for the Web API) and `SLACK_API_URL` (default Slack's).
//! - It acknowledges every envelope, at once, on receipt (the client does, before anything
//!   else happens to the envelope).
//! - For every `events_api` envelope whose event is a `message` with no subtype, not posted by
//!   the bot itself (its `user` and `bot_id` from `auth.test`), it posts the same `text` to the
//!   same `channel` with `chat.postMessage`. Posts are pipelined: it never waits for one post
//!   before starting the next, and checks the answers as they arrive.
//! - On a fatal error (`invalid_auth`, `link_disabled`, …) it exits with status 1 and a
//!   one-line message.
//! - Without tokens it runs a short demo on the bundled emulator and exits 0.

mod common;

use std::{borrow::Cow, process::ExitCode, time::Duration};

use futures::{StreamExt, stream::FuturesUnordered};
use rtm_core::{ClientConfig, Event, SocketModeClient, web::AuthTest};
use serde::Deserialize;

/// The fields of a `message` event the bot needs, borrowed from the event where possible.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(borrow, default)]
    user: Cow<'a, str>,
    #[serde(borrow, default)]
    bot_id: Cow<'a, str>,
    #[serde(borrow, default)]
    channel: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Cow<'a, str>,
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    let has_tokens = std::env::var_os(rtm_core::APP_TOKEN_ENV).is_some()
        || std::env::var_os(rtm_core::BOT_TOKEN_ENV).is_some();
    let result = if has_tokens {
        run_against_slack().await
    } else {
        demo().await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socket_echo_bot: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs until ctrl-c or a fatal error, against `SLACK_API_URL` (default: Slack).
async fn run_against_slack() -> Result<(), rtm_core::Error> {
    let client = SocketModeClient::from_env().await?;
    let auth = client.auth();
    eprintln!(
        "socket_echo_bot: connected as {} ({}) to {}",
        auth.user, auth.user_id, auth.team
    );
    tokio::select! {
        result = echo(&client) => result.map(drop),
        _ = tokio::signal::ctrl_c() => {
            client.disconnect().await;
            Ok(())
        }
    }
}

/// The echo loop: drain-all reads, pipelined posts, answers checked as they come. Returns
/// how many posts Slack accepted.
async fn echo(client: &SocketModeClient) -> Result<u64, rtm_core::Error> {
    let auth = client.auth().clone();
    let mut posts = FuturesUnordered::new();
    let mut echoed = 0;
    loop {
        tokio::select! {
            batch = client.read() => {
                let Some(batch) = batch? else { break };
                for event in batch {
                    if let Some((channel, text)) = echo_of(&event, &auth) {
                        posts.push(client.post_message(&channel, &text, None));
                    }
                }
            }
            Some(posted) = posts.next() => echoed += accepted(posted),
        }
    }
    while let Some(posted) = posts.next().await {
        echoed += accepted(posted);
    }
    Ok(echoed)
}

fn accepted(posted: Result<rtm_core::Reply, rtm_core::SendError>) -> u64 {
    match posted {
        Ok(_) => 1,
        Err(e) => {
            tracing::warn!(error = %e, "echo failed");
            0
        }
    }
}

/// The channel and text to echo, for a plain message from someone other than the bot. Over
/// Socket Mode the client hands over the `events_api` envelope's `payload.event`.
fn echo_of<'a>(event: &'a Event, me: &AuthTest) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
    if event.kind() != "message" || event.subtype().is_some() {
        return None;
    }
    let message: Incoming<'_> = event.parse().ok()?;
    let from_me = message.user == me.user_id
        || me
            .bot_id
            .as_deref()
            .is_some_and(|bot| !bot.is_empty() && message.bot_id == bot);
    if from_me || message.channel.is_empty() || message.text.is_empty() {
        return None;
    }
    Some((message.channel, message.text))
}

/// Without tokens: start the bundled emulator, push a short conversation, print it.
async fn demo() -> Result<(), rtm_core::Error> {
    let emulator = common::start_emulator().await?;
    let bot = ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .build()?;
    let client = SocketModeClient::connect(emulator.app_token(), bot).await?;
    println!(
        "connected over Socket Mode as {} ({})",
        client.auth().user,
        client.auth().user_id
    );

    let task = tokio::spawn({
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
        emulator.push_event_envelope(serde_json::json!({
            "type": "message", "channel": "C0GENERAL", "user": user, "text": text,
            "ts": format!("1700000000.{n:06}"), "channel_type": "channel",
        }));
        match emulator.wait_for_posts(n + 1, Duration::from_secs(5)).await {
            Some(posts) => println!("  bot   in {}: {:?}", posts[n].channel, posts[n].text),
            None => println!("  (no echo within 5 s)"),
        }
    }
    client.disconnect().await;
    let echoed = task
        .await
        .map_err(|e| rtm_core::Error::Config(format!("echo task failed: {e}")))??;
    println!(
        "done: {} envelopes acked, {echoed} posts accepted",
        emulator.acks().len()
    );
    Ok(())
}
