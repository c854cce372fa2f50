// `Context` first, then the event; `?` on a send works because the error is a `BoxError`.
use rtm_core::{BoxError, Context, Event, RtmClient, RtmDispatcher, rtm_event};

#[rtm_event(type = "message")]
async fn echo(ctx: Context, event: Event) -> Result<(), BoxError> {
    ctx.reply(event.json()).await?;
    Ok(())
}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<echo>()
}

fn main() {
    let _ = build;
}
