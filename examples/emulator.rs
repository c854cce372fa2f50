//! The bundled Slack emulator as a process of its own, so you can run your real bot binary
//! offline.
//!
//! ```text
//! cargo run -p rtm-examples --example emulator
//! ```
//!
//! It prints the `SLACK_API_URL` and `SLACK_TOKEN` to start your bot with, then reads lines on
//! standard input: each line is posted as a message from a person (`U0HUMAN`) to `#C0GENERAL`,
//! or to another channel when the line starts with one (`C0RANDOM hi there`). Whatever your bot
//! sends is printed as it arrives. It stops at the end of input (Ctrl-D) or on Ctrl-C.

mod common;

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

const HUMAN: &str = "U0HUMAN";
const DEFAULT_CHANNEL: &str = "C0GENERAL";

#[tokio::main]
async fn main() -> Result<(), rtm_core::Error> {
    common::init_logging();
    let emulator = rtm_core::emulator::Emulator::start()
        .await
        .map_err(|e| rtm_core::Error::Config(format!("cannot start the emulator: {e}")))?;
    println!("Slack emulator running. Start your bot with:");
    println!(
        "  SLACK_API_URL={} SLACK_TOKEN={} <your bot>",
        emulator.api_url(),
        emulator.token()
    );
    println!(
        "  Socket Mode bots: SLACK_API_URL={} SLACK_APP_TOKEN={} SLACK_BOT_TOKEN={} <your bot>",
        emulator.api_url(),
        emulator.app_token(),
        emulator.token()
    );
    println!("Type a message and press Enter (prefix a channel id to pick the channel); Ctrl-D ends.");

    let printer = {
        let emulator = emulator.clone();
        tokio::spawn(async move {
            let mut shown = 0;
            loop {
                let sent = emulator.sent();
                for frame in sent.iter().skip(shown).filter(|f| f["type"] != "ping") {
                    println!("bot → {frame}");
                }
                shown = sent.len();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line,
            _ = tokio::signal::ctrl_c() => break,
        };
        let Ok(Some(line)) = line else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (channel, text) = match line.split_once(' ') {
            Some((first, rest)) if is_channel_id(first) => (first, rest),
            _ => (DEFAULT_CHANNEL, line),
        };
        emulator.message(channel, HUMAN, text);
        println!("{HUMAN} → #{channel}: {text}");
    }
    // Let the bot's last answers show before stopping.
    tokio::time::sleep(Duration::from_millis(200)).await;
    printer.abort();
    emulator.shutdown();
    Ok(())
}

/// `C…`, `G…` or `D…` followed by upper-case letters and digits, as Slack's ids are.
fn is_channel_id(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(chars.next(), Some('C' | 'G' | 'D'))
        && word.len() >= 2
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}
