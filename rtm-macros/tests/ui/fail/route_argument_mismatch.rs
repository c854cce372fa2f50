// A catalog struct that is not the route's event type would fail on every event.
use rtm_core::{events::Message, rtm_event};

#[rtm_event(type = "team_join")]
async fn greet(_message: Message) {}

fn main() {}
