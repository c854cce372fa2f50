//! The handlers of `dispatcher_bot`, shared with `socket_mode_bot`: the same three
//! `#[rtm_event]` functions run over RTM and over Socket Mode, unchanged.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering::Relaxed},
};

use rtm_core::{BoxError, Context, Ordering, RtmDispatcher, State, events, rtm_event};

/// Where the greeter welcomes new members (a channel id).
pub const WELCOME_CHANNEL: &str = "C0GENERAL";

/// The bot's application state: handlers take it with `State<Greeted>`.
#[derive(Clone, Default)]
pub struct Greeted(Arc<AtomicU64>);

/// Welcomes every new member of the workspace, and counts them.
#[rtm_event(type = "team_join")]
pub async fn greet(
    ctx: Context,
    State(greeted): State<Greeted>,
    join: events::TeamJoin,
) -> Result<(), BoxError> {
    let n = greeted.0.fetch_add(1, Relaxed) + 1;
    let text = format!("Welcome to the team, <@{}>! You are newcomer #{n}.", join.user.id);
    ctx.send_message(WELCOME_CHANNEL, &text).await?;
    println!("greeted {} in {WELCOME_CHANNEL}", join.user.id);
    Ok(())
}

/// Says every message back, in the same channel. The bot's own messages never get here:
/// `message` routes skip them by default.
#[rtm_event(type = "message")]
pub async fn echo(ctx: Context, message: events::Message) -> Result<(), BoxError> {
    // Only plain messages: no edits, joins or bot posts.
    let (None, Some(text)) = (&message.subtype, message.text) else {
        return Ok(());
    };
    ctx.reply(&text).await?;
    println!("echoed {text:?} in {}", message.channel);
    Ok(())
}

/// Thanks whoever reacts to a message, in a thread under the reacted message.
#[rtm_event(type = "reaction_added")]
pub async fn thank_reaction(ctx: Context, reaction: events::ReactionAdded) -> Result<(), BoxError> {
    ctx.reply_in_thread(&format!(
        "Thanks for the :{}:, <@{}>!",
        reaction.reaction, reaction.user
    ))
    .await?;
    println!(
        "thanked {} for :{}: in {}",
        reaction.user,
        reaction.reaction,
        ctx.channel().unwrap_or("?")
    );
    Ok(())
}

/// The bot on `dispatcher`, whatever its transport: ordering, state, the three handlers and
/// an error hook that tells the user in the channel (`name` prefixes the hook's log line).
pub fn with_handlers(dispatcher: RtmDispatcher, name: &'static str) -> RtmDispatcher<Greeted> {
    dispatcher
        // Answers in one channel keep the conversation's order; channels run concurrently.
        .ordering(Ordering::PerChannel)
        .with_state(Greeted::default())
        .handler::<greet>()
        .handler::<echo>()
        .handler::<thank_reaction>()
        // Tell the user when a handler failed, where it happened.
        .on_error_async(move |error, ctx| async move {
            eprintln!("{name}: {error}");
            if ctx.channel().is_some() {
                let _ = ctx.reply_in_thread("Sorry, that did not work.").await;
            }
        })
}
