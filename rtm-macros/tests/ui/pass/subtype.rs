// `subtype` narrows a type: only bot messages reach this handler.
use rtm_core::{RtmClient, RtmDispatcher, rtm_event};

#[derive(serde::Deserialize)]
struct BotMessage {
    bot_id: String,
}

#[rtm_event(type = "message", subtype = "bot_message")]
pub(crate) async fn bots(message: BotMessage) {
    println!("{}", message.bot_id);
}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<bots>()
}

fn main() {
    let _ = build;
}
