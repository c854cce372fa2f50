use rtm_core::{Event, rtm_event};

#[rtm_event]
async fn greet(_event: Event) {}

fn main() {}
