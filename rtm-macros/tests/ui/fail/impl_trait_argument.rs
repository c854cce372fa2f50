use rtm_core::{FromEvent, rtm_event};

#[rtm_event(type = "team_join")]
async fn greet(_event: impl FromEvent) {}

fn main() {}
