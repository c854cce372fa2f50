//! Web API bot: when someone says "who am I", it looks them up with `users.info`, answers in
//! a thread, reacts to the question, and lists the channel's last 50 messages through the
//! paginated `conversations.history` stream.
//!
//! ```text
//! cargo run -p rtm-examples --example web_api                     # bundled emulator, scripted
//! SLACK_TOKEN=xoxb-… cargo run -p rtm-examples --example web_api  # a real workspace
//! ```
//!
//! The socket brings the question; every answer goes through the Web API client that
//! [`RtmClient::web`] hands out (same token, same HTTP connection pool).

mod common;

use std::process::ExitCode;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use rtm_core::{RtmClient, WebError, emulator::Emulator};
use serde::Deserialize;

/// The fields of a `message` event the bot needs.
#[derive(Deserialize)]
struct Incoming {
    #[serde(default)]
    user: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    ts: String,
    #[serde(default)]
    subtype: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    let result = async {
        let (client, emulator) = common::connect().await.map_err(|e| e.to_string())?;
        match emulator {
            // Offline: play a short script, then stop. Bounded so CI never hangs.
            Some(emulator) => tokio::time::timeout(Duration::from_secs(60), demo(&client, &emulator))
                .await
                .map_err(|_| "the demo did not finish in 60 s".to_owned())?,
            None => serve(&client).await,
        }
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("web_api: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Fills the emulated channel with history, asks the question, and waits for the answer.
async fn demo(client: &RtmClient, emulator: &Emulator) -> Result<(), String> {
    for i in 1..=120 {
        emulator.message("C0GENERAL", "U0BOB", &format!("earlier message {i}"));
    }
    // Those were pushed to the socket too; read them off before asking.
    let asked = emulator.message("C0GENERAL", "U0ALICE", "who am I?");
    let asked_ts = asked["ts"].as_str().unwrap_or_default().to_owned();
    loop {
        let Some(batch) = client.read().await.map_err(|e| e.to_string())? else {
            return Err("the connection closed".into());
        };
        for event in batch {
            if event.kind() != "message" {
                continue;
            }
            let message: Incoming = event.parse().map_err(|e| e.to_string())?;
            if message.ts == asked_ts {
                answer(client, &message).await.map_err(|e| e.to_string())?;
                let posts = emulator.posts();
                println!("the emulator saw {} post(s) from the bot", posts.len());
                return Ok(());
            }
        }
    }
}

/// Answers every "who am I" until ctrl-c or a fatal error.
async fn serve(client: &RtmClient) -> Result<(), String> {
    let me = client.info().self_user.id.clone();
    let mut events = client.events();
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = tokio::signal::ctrl_c() => {
                client.disconnect().await;
                return Ok(());
            }
        };
        let Some(event) = event else { return Ok(()) };
        let event = event.map_err(|e| e.to_string())?;
        if event.kind() != "message" {
            continue;
        }
        let Ok(message) = event.parse::<Incoming>() else {
            continue;
        };
        if message.user != me && message.subtype.is_none() && is_question(&message.text) {
            // A failed answer (missing scope, …) is reported, the bot keeps running.
            if let Err(e) = answer(client, &message).await {
                eprintln!("web_api: {e}");
            }
        }
    }
}

fn is_question(text: &str) -> bool {
    text.trim().trim_end_matches('?').eq_ignore_ascii_case("who am i")
}

/// The answer: a user lookup, a thread reply, a reaction, and a page through history.
async fn answer(client: &RtmClient, message: &Incoming) -> Result<(), WebError> {
    let web = client.web();
    let user = web.users_info(&message.user).await?;
    let name = user.real_name.as_deref().unwrap_or(&user.name);
    let reply = format!("You are {name} (<@{}>)", user.id);
    let posted = web.reply_in_thread(&message.channel, &message.ts, &reply).await?;
    println!("replied in thread {}: {reply} (ts {})", message.ts, posted.ts);
    web.reactions_add(&message.channel, &message.ts, "wave").await?;
    println!("reacted with :wave:");

    // Pages of 20 are fetched as the stream is read; `take(50)` stops after the third.
    let last_50: Vec<_> = web
        .conversations_history(&message.channel)
        .page_size(20)
        .items()
        .take(50)
        .try_collect()
        .await?;
    println!("the last {} messages of {}:", last_50.len(), message.channel);
    for m in last_50.iter().take(3) {
        println!("  {} {}: {}", m.ts, m.user.as_deref().unwrap_or("?"), m.text);
    }
    println!("  …");
    Ok(())
}
