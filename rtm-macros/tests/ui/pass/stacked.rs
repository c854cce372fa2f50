// Stacked attributes give one handler several routes; the path form works too.
use rtm_core::{Event, RtmClient, RtmDispatcher, rtm_event};

#[rtm_event(type = "reaction_added")]
#[rtm_event(type = "reaction_removed")]
#[rtm_core::rtm_event(type = "message", subtype = "reaction_added")]
async fn reactions(event: Event) {
    println!("{}", event.kind());
}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<reactions>()
}

fn main() {
    let _ = build;
}
