// Slash commands and interactions, alone and stacked (with `#[rtm_event]` too), each with its
// payload struct, the raw event or a serde struct of one's own. Stacking leaves no import
// unused (the stacked attribute is taken over by the outer one and never expands itself).
#![deny(unused_imports)]
use rtm_core::{
    BoxError, Context, Event, RtmDispatcher, SocketModeClient, interaction,
    interactive::{BlockActions, BlockSuggestion, MessageResponse, MessageShortcut, OptionsResponse, Shortcut,
                  SlashCommand, ViewClosed, ViewResponse, ViewSubmission},
    rtm_event, slash_command,
};

#[slash_command("/deploy")]
async fn deploy(ctx: Context, command: SlashCommand) -> Result<(), BoxError> {
    ctx.respond(&MessageResponse::ephemeral(command.text)).await?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct JustText {
    text: String,
}

#[slash_command("/echo")]
#[slash_command("/say-it_2")]
async fn echo(_text: JustText) {}

#[interaction(type = "block_actions", action_id = "approve")]
#[interaction(type = "block_actions", action_id = "deny")]
async fn decide(_ctx: Context, _actions: BlockActions) {}

#[interaction(type = "block_suggestion", action_id = "pick")]
async fn suggest(ctx: Context, _suggestion: BlockSuggestion) {
    let _ = ctx.respond(&OptionsResponse::new([("A", "a")])).await;
}

#[interaction(type = "view_submission", callback_id = "survey")]
async fn submit(ctx: Context, _submission: ViewSubmission) {
    let _ = ctx.respond(&ViewResponse::clear()).await;
}

#[interaction(type = "view_closed", callback_id = "survey")]
async fn closed(_closed: ViewClosed) {}

#[interaction(type = "shortcut", callback_id = "new_ticket")]
async fn ticket(_shortcut: Shortcut) {}

#[interaction(type = "message_action", callback_id = "save")]
async fn save(_shortcut: MessageShortcut) {}

#[interaction(type = "block_actions")]
#[slash_command("/anything")]
#[rtm_event(type = "message")]
async fn everything(_event: Event) {}

fn build(client: SocketModeClient) -> RtmDispatcher {
    RtmDispatcher::socket_mode(client)
        .handler::<deploy>()
        .handler::<echo>()
        .handler::<decide>()
        .handler::<suggest>()
        .handler::<submit>()
        .handler::<closed>()
        .handler::<ticket>()
        .handler::<save>()
        .handler::<everything>()
}

fn main() {
    let _ = build;
}
