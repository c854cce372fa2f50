// `type = "*"` receives every event.
use rtm_core::{Context, Event, RtmClient, RtmDispatcher, rtm_event};

#[rtm_event(type = "*")]
async fn log(_ctx: Context, event: Event) {
    println!("{event}");
}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<log>()
}

fn main() {
    let _ = build;
}
