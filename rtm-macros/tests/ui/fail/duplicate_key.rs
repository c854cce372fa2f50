use rtm_core::{Event, rtm_event};

#[rtm_event(type = "message", type = "team_join")]
async fn echo(_event: Event) {}

fn main() {}
