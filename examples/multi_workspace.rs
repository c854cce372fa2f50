//! Several workspaces in one process: one client and one dispatcher per token, all running
//! concurrently on one runtime. Handlers are plain functions shared by every dispatcher;
//! `ctx.info()` says which workspace an event came from.
//!
//! ```text
//! cargo run -p rtm-examples --example multi_workspace                        # two emulated workspaces
//! SLACK_TOKENS=xoxb-a,xoxb-b cargo run -p rtm-examples --example multi_workspace
//! ```

mod common;

use std::time::Duration;

use rtm_core::{
    BoxError, ClientConfig, Context, RtmClient, RtmDispatcher, emulator::Emulator, events, rtm_event,
};
use tokio::task::JoinSet;

/// Answers `status` in any workspace with the workspace's name. (The bot's own messages
/// never get here: `message` routes skip them by default.)
#[rtm_event(type = "message")]
async fn status(ctx: Context, message: events::Message) -> Result<(), BoxError> {
    if message.subtype.is_none() && message.text.as_deref() == Some("status") {
        let team = ctx.info().team.name.clone();
        ctx.reply(&format!("all good in {team}")).await?;
        println!("[{team}] answered status in {}", message.channel);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging();
    let mut dispatchers = JoinSet::new();
    // Emulated workspaces must outlive their dispatchers.
    let mut emulators = Vec::new();

    if let Ok(tokens) = std::env::var("SLACK_TOKENS") {
        for token in tokens.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let mut config = ClientConfig::builder(token);
            if let Ok(url) = std::env::var(rtm_core::API_URL_ENV) {
                config = config.api_url(url);
            }
            let client = RtmClient::connect(config.build()?).await?;
            println!("connected to {}", client.info().team.name);
            let ctrl_c = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            dispatchers.spawn(RtmDispatcher::new(client).handler::<status>().run_until(ctrl_c));
        }
    } else {
        // Two emulated workspaces, each with its own server, token and team.
        for (team_id, team_name) in [("T0NORTH", "North Office"), ("T0SOUTH", "South Office")] {
            let emulator = Emulator::builder()
                .team_id(team_id)
                .team_name(team_name)
                .start()
                .await?;
            let config = ClientConfig::builder(emulator.token())
                .api_url(emulator.api_url())
                .build()?;
            let client = RtmClient::connect(config).await?;
            println!("connected to emulated workspace {}", client.info().team.name);
            let stop = tokio::time::sleep(Duration::from_secs(1));
            dispatchers.spawn(RtmDispatcher::new(client).handler::<status>().run_until(stop));
            emulators.push(emulator);
        }
        for emulator in &emulators {
            emulator.message("C0GENERAL", "U0ALICE", "status");
        }
        for emulator in &emulators {
            let sent = emulator.wait_for_sent(1, Duration::from_secs(5)).await?;
            println!("  workspace {} received: {}", emulator.team_id(), sent[0]["text"]);
        }
    }

    while let Some(result) = dispatchers.join_next().await {
        result??;
    }
    Ok(())
}
