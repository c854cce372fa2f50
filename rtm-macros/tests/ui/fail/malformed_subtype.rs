use rtm_core::{Event, rtm_event};

#[rtm_event(type = "message", subtype = "bot-message")]
async fn bots(_event: Event) {}

fn main() {}
