//! Bring your own loop without sleeping: `read()` waits until events arrive, then returns
//! everything buffered in one batch. The loop ends when the client is closed, and `?` surfaces
//! a fatal error such as a revoked token.
//!
//! ```text
//! cargo run -p rtm-examples --example read_loop
//! ```

mod common;

use std::time::Duration;

use rtm_core::events::Message;

#[tokio::main]
async fn main() -> Result<(), rtm_core::Error> {
    common::init_logging();
    let (client, emulator) = common::connect().await?;

    if let Some(emulator) = emulator {
        // Play a short conversation, then close the client so the loop below ends.
        let client = client.clone();
        tokio::spawn(async move {
            for text in ["good morning", "anyone here?", "bye"] {
                emulator.message("C0GENERAL", "U0ALICE", text);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            client.disconnect().await;
        });
    }

    while let Some(batch) = client.read().await? {
        for event in batch {
            if event.kind() != "message" || event.subtype().is_some() {
                continue;
            }
            match event.parse::<Message>() {
                Ok(message) => println!(
                    "{} in {}: {}",
                    message.user.as_deref().unwrap_or("?"),
                    message.channel,
                    message.text.as_deref().unwrap_or("")
                ),
                Err(e) => eprintln!("skipping a message: {e}"),
            }
        }
    }
    println!("client closed; {} events received", client.stats().events);
    Ok(())
}
