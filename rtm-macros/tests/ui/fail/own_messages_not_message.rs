use rtm_core::{Event, rtm_event};

#[rtm_event(type = "team_join", own_messages)]
async fn greet(_event: Event) {}

fn main() {}
