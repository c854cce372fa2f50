// A handler that takes a state, registered on a dispatcher that was given none.
use rtm_core::{Event, RtmClient, RtmDispatcher, State, rtm_event};

#[derive(Clone)]
struct Db;

#[rtm_event(type = "message")]
async fn save(State(_db): State<Db>, _event: Event) {}

fn build(client: RtmClient) -> RtmDispatcher {
    RtmDispatcher::new(client).handler::<save>()
}

fn main() {
    let _ = build;
}
