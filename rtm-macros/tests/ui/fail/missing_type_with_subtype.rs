use rtm_core::{Event, rtm_event};

#[rtm_event(subtype = "bot_message")]
async fn bots(_event: Event) {}

fn main() {}
