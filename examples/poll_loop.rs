//! Bring your own loop: poll with the non-blocking `try_read()` and sleep in between, as in
//! the design note's first example. One call returns *everything* buffered, so even a slow
//! polling interval never falls behind a busy workspace.
//!
//! ```text
//! cargo run -p rtm-examples --example poll_loop
//! ```

mod common;

use std::time::Duration;

use rtm_core::events::Message;

#[tokio::main]
async fn main() -> Result<(), rtm_core::Error> {
    common::init_logging();
    let (client, emulator) = common::connect().await?;

    let mut polls = 0;
    let mut seen = 0;
    while let Some(batch) = client.try_read()? {
        polls += 1;
        if !batch.is_empty() {
            println!("poll {polls}: {} events in one call", batch.len());
        }
        for event in batch {
            seen += 1;
            if event.kind() == "message" {
                match event.parse::<Message>() {
                    Ok(message) => println!("  {}: {}", message.channel, message.text.unwrap_or_default()),
                    Err(e) => eprintln!("  skipping a message: {e}"),
                }
            }
        }
        if let Some(emulator) = &emulator {
            // A busy workspace: five events arrive between two polls.
            if polls <= 3 {
                for i in 0..5 {
                    emulator.message("C0GENERAL", "U0ALICE", &format!("burst {polls}, message {i}"));
                }
            } else if seen >= 16 {
                break; // hello + 3 bursts of 5
            }
        }
        // Slow polling on purpose: the next call still gets everything that arrived meanwhile.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client.disconnect().await;
    println!("done: {seen} events in {polls} polls");
    Ok(())
}
