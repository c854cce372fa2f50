use rtm_core::{Event, rtm_event};

#[rtm_event(type = "Team Join")]
async fn greet(_event: Event) {}

fn main() {}
