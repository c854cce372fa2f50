// The event as the user's own serde struct, with a `String` error.
use rtm_core::{Context, RtmClient, RtmDispatcher, rtm_event};
use serde::Deserialize;

#[derive(Deserialize)]
struct TeamJoin {
    user: User,
}

#[derive(Deserialize)]
struct User {
    id: String,
}

#[rtm_event(type = "team_join")]
async fn greet(ctx: Context, join: TeamJoin) -> Result<(), String> {
    let text = format!("welcome <@{}>!", join.user.id);
    ctx.client().send_message("C0GENERAL", &text).await.map_err(|e| e.to_string())?;
    Ok(())
}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<greet>()
}

fn main() {
    let _ = build;
}
