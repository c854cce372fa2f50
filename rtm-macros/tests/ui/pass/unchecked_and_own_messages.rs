// A type the catalog lacks, with the explicit escape; a `message` route that wants the bot's
// own messages too.
use rtm_core::{Event, RtmClient, RtmDispatcher, rtm_event};

#[rtm_event(type = "app_mention", unchecked)]
async fn mentioned(_event: Event) {}

#[rtm_event(type = "message", own_messages)]
async fn audit(_event: Event) {}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<mentioned>().handler::<audit>()
}

fn main() {
    let _ = build;
}
