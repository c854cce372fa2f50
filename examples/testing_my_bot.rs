//! How to test your own bot offline, two ways. The tests at the bottom are real tests:
//!
//! ```text
//! cargo test -p rtm-examples --example testing_my_bot
//! ```
//!
//! - **Unit tests of a handler**, no server: call the handler with the context of a
//!   [`TestContext`](rtm_core::TestContext), then assert what it sent (text, channel, thread).
//! - **End-to-end tests** with the bundled emulator: start it, run your dispatcher against it,
//!   push an event, and assert what the bot sent.
//!
//! In your crate, enable the emulator for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! rtm-core = { version = "0.1", features = ["emulator"] }
//! ```

use rtm_core::{BoxError, ClientConfig, Context, RtmClient, RtmDispatcher, events, rtm_event};

// ---- the bot under test -------------------------------------------------------------------

/// Answers `ping` with `pong`, and `help` in a thread. (The bot's own messages never get
/// here: `message` routes skip them by default.)
#[rtm_event(type = "message")]
async fn ping_pong(ctx: Context, message: events::Message) -> Result<(), BoxError> {
    if message.subtype.is_some() {
        return Ok(());
    }
    match message.text.as_deref() {
        Some("ping") => drop(ctx.reply("pong").await?),
        Some("help") => drop(ctx.reply_in_thread("say `ping`").await?),
        _ => {}
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

    use rtm_core::{DispatcherProbe, Event, TestContext, emulator::Emulator};

    use super::*;

    // ---- unit tests: a handler and a TestContext, no server --------------------------------

    /// A `message` event from alice in C1, as Slack would send it.
    fn message(text: &str) -> Event {
        let json = serde_json::json!({"type": "message", "channel": "C1", "user": "U0ALICE", "text": text, "ts": "5.0"});
        Event::from_json(json.to_string()).unwrap()
    }

    #[tokio::test]
    async fn ping_is_answered_with_pong_in_its_channel() {
        let test = TestContext::new(message("ping"));
        ping_pong(test.context(), test.context().event().parse().unwrap())
            .await
            .unwrap();
        let sent = test.sent();
        assert_eq!(test.sent_texts(), ["pong"]);
        assert_eq!(
            (sent[0].channel.as_str(), sent[0].thread_ts.as_deref()),
            ("C1", None)
        );
    }

    #[tokio::test]
    async fn help_is_answered_in_a_thread_under_the_question() {
        let test = TestContext::new(message("help"));
        ping_pong(test.context(), test.context().event().parse().unwrap())
            .await
            .unwrap();
        assert_eq!(test.sent_texts(), ["say `ping`"]);
        assert_eq!(test.sent()[0].thread_ts.as_deref(), Some("5.0"));
    }

    #[tokio::test]
    async fn other_messages_get_no_answer() {
        let test = TestContext::new(message("hello"));
        ping_pong(test.context(), test.context().event().parse().unwrap())
            .await
            .unwrap();
        assert!(test.sent().is_empty());
    }

    // ---- end-to-end tests: the dispatcher against the bundled emulator ---------------------

    const WAIT: Duration = Duration::from_secs(5);

    /// Runs the bot on a fresh emulator; the probe tells when it has handled everything.
    async fn start() -> (Emulator, DispatcherProbe) {
        let emulator = Emulator::start().await.unwrap();
        let (dispatcher, probe) = bot(emulator.client().await.unwrap()).with_probe();
        tokio::spawn(dispatcher.run());
        (emulator, probe)
    }

    #[tokio::test]
    async fn answers_ping_with_pong_in_the_same_channel() {
        let (emulator, _probe) = start().await;
        emulator.message("C0GENERAL", "U0ALICE", "ping");
        let posts = emulator.wait_for_posts(1, WAIT).await.unwrap();
        assert_eq!(
            (posts[0].channel.as_str(), posts[0].text.as_str()),
            ("C0GENERAL", "pong")
        );
    }

    #[tokio::test]
    async fn help_gets_its_answer_in_the_questions_thread() {
        let (emulator, _probe) = start().await;
        let question = emulator.message("C0GENERAL", "U0ALICE", "help");
        let posts = emulator.wait_for_posts(1, WAIT).await.unwrap();
        assert_eq!(posts[0].thread_ts.as_deref(), question["ts"].as_str());
    }

    #[tokio::test]
    async fn ignores_other_messages() {
        let (emulator, probe) = start().await;
        emulator.message("C0GENERAL", "U0ALICE", "hello");
        assert_eq!(emulator.settle(&probe, WAIT).await, Some(vec![]));
        assert!(emulator.posts().is_empty());
    }

    #[tokio::test]
    async fn never_answers_its_own_messages() {
        let (emulator, probe) = start().await;
        emulator.message("C0GENERAL", emulator.self_id(), "ping");
        assert_eq!(emulator.settle(&probe, WAIT).await, Some(vec![]));
        assert!(emulator.posts().is_empty());
    }

    #[tokio::test]
    async fn a_malformed_message_is_reported_not_hidden() {
        let (emulator, probe) = start().await;
        emulator.push(serde_json::json!({"type": "message", "text": "ping"})); // no channel, no ts
        let errors = emulator.settle(&probe, WAIT).await.unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("ping_pong"), "{errors:?}");
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
