//! Socket Mode bot: the `dispatcher_bot` handlers (greeter, echo, reaction thanks, from
//! `common/bot.rs`, unchanged) on Socket Mode, plus what only Socket Mode delivers: a slash
//! command (`/echo`, answered in its acknowledgement) and a button (`approve`, answered
//! through the click's `response_url`, or with the Web API when that is not possible).
//!
//! ```text
//! cargo run -p rtm-examples --example socket_mode_bot                    # bundled emulator, scripted demo
//! SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… cargo run -p rtm-examples --example socket_mode_bot
//! ```
//!
//! For a real workspace the app needs Socket Mode switched on, an app-level token with
//! `connections:write`, a bot token with `chat:write`, the `/echo` command, Interactivity
//! switched on, and event subscriptions for `message.channels`, `team_join` and
//! `reaction_added`. Type `/echo button` to get a message with the button.

mod common;

use std::{process::ExitCode, time::Duration};

use common::bot;
use rtm_core::{
    BoxError, ClientConfig, Context, RtmDispatcher, SocketModeClient,
    emulator::Emulator,
    interaction,
    interactive::{BlockActions, MessageResponse, SlashCommand},
    slash_command,
};
use serde_json::json;

/// `/echo <text>`: says the text back to the channel, in the command's acknowledgement
/// (Slack shows it at once). `/echo button` answers with a message holding the button.
#[slash_command("/echo")]
async fn echo_command(ctx: Context, command: SlashCommand) -> Result<(), BoxError> {
    let text = match command.text.trim() {
        "" => "(nothing to echo)".to_owned(),
        text => text.to_owned(),
    };
    let mut answer = MessageResponse::in_channel(&text);
    if text == "button" {
        answer = answer.blocks(vec![
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "Ship release 42?"}}),
            json!({"type": "actions", "elements": [{"type": "button", "action_id": "approve",
                    "value": "release-42", "text": {"type": "plain_text", "text": "Approve"}}]}),
        ]);
    }
    match ctx.respond(&answer).await {
        Ok(how) => println!("answered {} from {} ({how:?})", command.command, command.user_id),
        Err(error) => {
            // Not answerable in the ack (e.g. it went out already): post instead.
            println!(
                "could not answer {} in its ack ({error}); posting with chat.postMessage",
                command.command
            );
            ctx.reply(&text).await?;
        }
    }
    Ok(())
}

/// The `approve` button: replaces the button's message through the click's `response_url`;
/// when that is not possible, posts in a thread under it with the Web API.
#[interaction(type = "block_actions", action_id = "approve")]
async fn approve(ctx: Context, click: BlockActions) -> Result<(), BoxError> {
    let what = click
        .action("approve")
        .and_then(|action| action.value.clone())
        .unwrap_or_default();
    let text = format!("<@{}> approved {what}", click.user.id);
    match ctx
        .respond(&MessageResponse::in_channel(&text).replace_original())
        .await
    {
        Ok(how) => println!("answered the click of {} ({how:?})", click.user.id),
        Err(error) => {
            println!(
                "could not answer the click through its response_url ({error}); posting with chat.postMessage"
            );
            ctx.reply_in_thread(&text).await?;
        }
    }
    Ok(())
}

/// The bot: `dispatcher_bot`'s handlers, plus the command and the button.
fn dispatcher(client: SocketModeClient) -> RtmDispatcher<bot::Greeted> {
    bot::with_handlers(RtmDispatcher::socket_mode(client), "socket_mode_bot")
        .handler::<echo_command>()
        .handler::<approve>()
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
        Err(error) => {
            eprintln!("socket_mode_bot: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs on Slack (`SLACK_APP_TOKEN`, `SLACK_BOT_TOKEN`) until Ctrl-C or a fatal error.
async fn run_against_slack() -> Result<(), BoxError> {
    let client = SocketModeClient::from_env().await?;
    println!("connected as {}; Ctrl-C to stop", client.auth().user);
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    dispatcher(client).run_until(ctrl_c).await?;
    Ok(())
}

/// No tokens: a short scripted session on the bundled emulator, then stop.
async fn demo() -> Result<(), BoxError> {
    let emulator = Emulator::start().await?;
    let config = ClientConfig::builder(emulator.token())
        .api_url(emulator.api_url())
        .build()?;
    let client = SocketModeClient::connect(emulator.app_token(), config).await?;
    println!(
        "no {} / {} set: running over Socket Mode against the bundled emulator",
        rtm_core::APP_TOKEN_ENV,
        rtm_core::BOT_TOKEN_ENV
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(dispatcher(client).run_until(async {
        let _ = stopped.await;
    }));

    // An event, a slash command and a button click.
    emulator.push_event_envelope(json!({"type": "team_join", "user": {"id": "U0ALICE", "name": "alice"}}));
    emulator.push_event_envelope(json!({"type": "message", "channel": "C0GENERAL", "user": "U0BOB",
                                        "text": "hello bot!", "ts": "1700000000.000200"}));
    emulator.push_slash_command("/echo", "ship it", "U0ALICE", "C0GENERAL");
    emulator.push_button_click("approve", "release-42", "U0BOB", "C0GENERAL", "1700000000.000300");

    // Four answers: the greeting, the echo, and the command's and the click's, unless those
    // two went in the ack or the response_url (then they are not posts).
    let _ = emulator.wait_for_posts(4, Duration::from_secs(3)).await;
    let _ = stop.send(());
    running.await??;

    print_session(&emulator);
    Ok(())
}

fn print_session(emulator: &Emulator) {
    println!("the bot posted (chat.postMessage):");
    for post in emulator.posts() {
        println!("  {}: {}", post.channel, post.text);
    }
    println!("acknowledgements with an answer:");
    let answers: Vec<_> = emulator
        .acks()
        .into_iter()
        .filter_map(|mut ack| ack.get_mut("payload").map(std::mem::take))
        .collect();
    if answers.is_empty() {
        println!("  (none)");
    }
    for answer in answers {
        println!("  {answer}");
    }
}
