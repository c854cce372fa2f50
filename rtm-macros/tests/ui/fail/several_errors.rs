// Every mistake is reported in one compile, and nothing else (no follow-on errors at the
// registration site).
use rtm_core::{Event, RtmClient, RtmDispatcher, rtm_event};

#[rtm_event(type = "TeamJoin", subtype = 5)]
fn greet<T>(_event: Event, _other: T, _third: u8) {}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<greet>()
}

fn main() {
    let _ = build;
}
