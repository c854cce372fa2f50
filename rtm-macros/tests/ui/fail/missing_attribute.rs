use rtm_core::{Event, RtmClient, RtmDispatcher};

async fn greet(_event: Event) {}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<greet>()
}

fn main() {
    let _ = build;
}
