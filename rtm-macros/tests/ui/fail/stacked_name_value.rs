use rtm_core::{Event, rtm_event};

#[rtm_event(type = "message")]
#[rtm_event = "team_join"]
async fn log(_event: Event) {}

fn main() {}
