//! Graceful shutdown: on Ctrl-C the dispatcher stops reading, lets the handlers already
//! running finish (up to a deadline), then closes the websocket cleanly.
//!
//! ```text
//! cargo run -p rtm-examples --example graceful_shutdown   # emulator: a timer plays the Ctrl-C
//! ```

mod common;

use std::time::Duration;

use rtm_core::{BoxError, Context, RtmDispatcher, events, rtm_event};

/// A slow handler: it is in the middle of its work when the shutdown arrives. (The bot's own
/// messages never get here: `message` routes skip them by default.)
#[rtm_event(type = "message")]
async fn slow_report(ctx: Context, message: events::Message) -> Result<(), BoxError> {
    if message.subtype.is_some() {
        return Ok(());
    }
    println!("handler: working on {:?}…", message.text.as_deref().unwrap_or(""));
    tokio::time::sleep(Duration::from_millis(500)).await;
    ctx.reply("report ready").await?;
    println!("handler: finished and replied");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logging();
    let (client, emulator) = common::connect().await?;

    // The shutdown signal: Ctrl-C, or in the emulator demo a timer that fires while the
    // handler is still working.
    let demo = emulator.is_some();
    let shutdown = async move {
        if demo {
            tokio::time::sleep(Duration::from_millis(200)).await;
        } else {
            let _ = tokio::signal::ctrl_c().await;
        }
        println!("shutdown requested: no new events are read; waiting for running handlers");
    };
    if let Some(emulator) = &emulator {
        emulator.message("C0GENERAL", "U0ALICE", "please make a report");
    }

    RtmDispatcher::new(client.clone())
        .handler::<slow_report>()
        .shutdown_timeout(Duration::from_secs(5))
        .run_until(shutdown)
        .await?;

    println!(
        "dispatcher stopped; connection state: {:?}",
        *client.state().borrow()
    );
    if let Some(emulator) = emulator {
        let replies: Vec<_> = emulator
            .sent()
            .into_iter()
            .filter(|f| f["type"] == "message")
            .collect();
        println!(
            "the in-flight handler's reply reached the server: {}",
            replies.len() == 1
        );
    }
    Ok(())
}
