//! Echo bot, the way the README writes bots: an `#[rtm_event(type = "message")]` handler run
//! by an `RtmDispatcher`, answering with `ctx.reply(..).await`.
//!
//! ```text
//! cargo run -p rtm-examples --example dispatcher_echo_bot                     # bundled emulator, scripted demo
//! SLACK_TOKEN=xoxb-… cargo run -p rtm-examples --example dispatcher_echo_bot  # a real workspace
//! SLACK_TOKEN=… SLACK_API_URL=http://127.0.0.1:8080/api/ cargo run …          # any Slack emulator
//! RTM_ORDERING=per-channel cargo run -p rtm-examples --example dispatcher_echo_bot
//! ```
//!
//! This file is a benchmark contract, the same as `echo_bot`'s. For every `message` event
//! with no subtype whose `user` is not the bot itself, it sends the same `text` back to the
//! same `channel` over RTM (a message without a channel or with an empty text is not
//! answered). The bot's own messages never reach the handler: `message` routes skip them by
//! default. Each call awaits its reply, and sends overlap because the dispatcher runs calls
//! concurrently. `RTM_ORDERING` = `concurrent` (default), `per-channel` or `sequential`
//! picks the dispatcher's ordering. It reads `SLACK_TOKEN` and `SLACK_API_URL`; without
//! `SLACK_TOKEN` it plays a scripted demo on the bundled emulator. Exit status: 0 when it
//! stops on Ctrl-C (or the demo ends); 1 with a one-line message on a fatal error (e.g.
//! `invalid_auth`) or an invalid `RTM_ORDERING`.

mod common;

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use rtm_core::{
    BoxError, ClientConfig, Context, Error, Ordering, RtmClient, RtmDispatcher, State, rtm_event,
};
use serde::Deserialize;

/// The environment variable that picks the ordering.
const ORDERING_ENV: &str = "RTM_ORDERING";

/// The one field of a `message` the handler needs (the channel comes from the context).
#[derive(Deserialize)]
struct Incoming {
    #[serde(default)]
    text: String,
}

/// How many echoes Slack accepted: the handlers' application state.
#[derive(Clone, Default)]
struct Echoed(Arc<AtomicU64>);

/// Says a plain message back, in its channel. The bot's own messages never get here.
#[rtm_event(type = "message")]
async fn echo(ctx: Context, State(echoed): State<Echoed>, message: Incoming) -> Result<(), BoxError> {
    let has_channel = ctx.channel().is_some_and(|channel| !channel.is_empty());
    if ctx.event().subtype().is_some() || !has_channel || message.text.is_empty() {
        return Ok(());
    }
    ctx.reply(&message.text).await?;
    echoed.0.fetch_add(1, Relaxed);
    Ok(())
}

fn dispatcher(client: RtmClient, ordering: Ordering, echoed: Echoed) -> RtmDispatcher<Echoed> {
    RtmDispatcher::new(client)
        .ordering(ordering)
        .with_state(echoed)
        .handler::<echo>()
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();

    let result = match ordering_from_env() {
        Ok(ordering) if std::env::var_os(rtm_core::TOKEN_ENV).is_some() => run_against_slack(ordering).await,
        Ok(ordering) => demo(ordering).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dispatcher_echo_bot: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `RTM_ORDERING`: unset or empty means concurrent.
fn ordering_from_env() -> Result<Ordering, Error> {
    let value = std::env::var(ORDERING_ENV).unwrap_or_default();
    match value.trim() {
        "" | "concurrent" => Ok(Ordering::Concurrent),
        "per-channel" => Ok(Ordering::PerChannel),
        "sequential" => Ok(Ordering::Sequential),
        other => Err(Error::Config(format!(
            "{ORDERING_ENV}={other:?}: expected concurrent, per-channel or sequential"
        ))),
    }
}

/// Runs until Ctrl-C or a fatal error, against `SLACK_API_URL` (default: Slack).
async fn run_against_slack(ordering: Ordering) -> Result<(), Error> {
    let client = RtmClient::connect(ClientConfig::from_env()?).await?;
    let info = client.info();
    eprintln!(
        "dispatcher_echo_bot: connected as {} ({}) to {} ({ordering:?})",
        info.self_user.name, info.self_user.id, info.team.name
    );
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    dispatcher(client, ordering, Echoed::default())
        .run_until(ctrl_c)
        .await
}

/// Without `SLACK_TOKEN`: start the bundled emulator, play a short conversation, print it.
async fn demo(ordering: Ordering) -> Result<(), Error> {
    let emulator = common::start_emulator().await?;
    let config = ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .build()?;
    let client = RtmClient::connect(config).await?;
    let info = client.info();
    println!(
        "connected as {} ({}) to team {} ({ordering:?})",
        info.self_user.name, info.self_user.id, info.team.name
    );

    let echoed = Echoed::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bot = tokio::spawn(
        dispatcher(client.clone(), ordering, echoed.clone()).run_until(async {
            let _ = stopped.await;
        }),
    );
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
    // A graceful stop: running handlers finish, then the client disconnects.
    let _ = stop.send(());
    bot.await
        .map_err(|e| Error::Config(format!("dispatcher task failed: {e}")))??;
    println!(
        "done: {} events received, {} echoes accepted by the server",
        client.stats().events,
        echoed.0.load(Relaxed)
    );
    Ok(())
}
