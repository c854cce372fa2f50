// The smallest handler: the raw event only, returning `()`.
use rtm_core::{Event, RtmClient, RtmDispatcher, rtm_event};

#[rtm_event(type = "team_join")]
async fn on_join(event: Event) {
    println!("{}", event.kind());
}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<on_join>()
}

fn main() {
    let _ = build;
}
