use rtm_core::{Event, rtm_event};

#[rtm_event(type = "message", subtype = "bot_message")]
#[rtm_event(type = "team_join")]
#[rtm_event(type = "message", subtype = "bot_message")]
async fn log(_event: Event) {}

fn main() {}
