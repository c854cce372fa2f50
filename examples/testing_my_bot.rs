//! How to test your own bot offline with the bundled emulator: start it, connect your bot to
//! it, push an event, and assert what the bot sent. The tests at the bottom are real tests:
//!
//! ```text
//! cargo test -p rtm-examples --example testing_my_bot
//! ```
//!
//! In your crate, enable the emulator for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! rtm-core = { version = "0.1", features = ["emulator"] }
//! ```

use rtm_core::{BoxError, ClientConfig, Context, RtmClient, RtmDispatcher, events, rtm_event};

// ---- the bot under test -------------------------------------------------------------------

/// Answers `ping` with `pong`.
#[rtm_event(type = "message")]
async fn ping_pong(ctx: Context, message: events::Message) -> Result<(), BoxError> {
    if message.subtype.is_none() && message.text.as_deref() == Some("ping") {
        ctx.reply("pong").await?;
    }
    Ok(())
}

/// The bot: everything but the connection, so tests and `main` build the same thing.
fn bot(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<ping_pong>()
}

// ---- running it for real ------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os(rtm_core::TOKEN_ENV).is_some() {
        let client = RtmClient::connect(ClientConfig::from_env()?).await?;
        bot(client).run().await?;
    } else {
        println!("this example is a test suite: cargo test -p rtm-examples --example testing_my_bot");
    }
    Ok(())
}

// ---- the tests ----------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rtm_core::emulator::Emulator;

    use super::*;

    /// Starts an emulator and runs the bot against it until the returned sender is dropped.
    async fn start() -> (Emulator, tokio::sync::oneshot::Sender<()>) {
        let emulator = Emulator::start().await.unwrap();
        let config = ClientConfig::builder(emulator.token())
            .api_url(emulator.api_url())
            .build()
            .unwrap();
        let client = RtmClient::connect(config).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(bot(client).run_until(async {
            let _ = stopped.await;
        }));
        (emulator, stop)
    }

    #[tokio::test]
    async fn answers_ping_with_pong_in_the_same_channel() {
        let (emulator, _stop) = start().await;
        emulator.message("C0GENERAL", "U0ALICE", "ping");
        let sent = emulator.wait_for_sent(1, Duration::from_secs(5)).await.unwrap();
        assert_eq!(sent[0]["type"], "message");
        assert_eq!(sent[0]["channel"], "C0GENERAL");
        assert_eq!(sent[0]["text"], "pong");
    }

    #[tokio::test]
    async fn ignores_other_messages() {
        let (emulator, _stop) = start().await;
        emulator.message("C0GENERAL", "U0ALICE", "hello");
        emulator.message("C0GENERAL", "U0ALICE", "ping");
        // Only the ping was answered: the first frame the bot sent is the pong.
        let sent = emulator.wait_for_sent(1, Duration::from_secs(5)).await.unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["text"], "pong");
    }

    #[tokio::test]
    async fn handlers_are_plain_functions_too() {
        // No server needed to unit-test a handler's parsing: build the event by hand.
        let event = rtm_core::Event::from_json(
            r#"{"type":"message","channel":"C1","user":"U1","text":"hi","ts":"1.0"}"#,
        )
        .unwrap();
        let message: events::Message = event.parse().unwrap();
        assert_eq!(message.text.as_deref(), Some("hi"));
    }
}
