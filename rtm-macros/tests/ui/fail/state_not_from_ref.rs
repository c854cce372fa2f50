// A handler asking for a state the dispatcher cannot give does not compile.
use rtm_core::{Event, RtmClient, RtmDispatcher, State, rtm_event};

#[derive(Clone)]
struct AppState;

#[derive(Clone)]
struct Db;

#[rtm_event(type = "message")]
async fn save(State(_db): State<Db>, _event: Event) {}

fn build(client: RtmClient) -> RtmDispatcher<AppState> {
    RtmDispatcher::new(client).with_state(AppState).handler::<save>()
}

fn main() {
    let _ = build;
}
