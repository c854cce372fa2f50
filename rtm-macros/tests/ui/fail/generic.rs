use rtm_core::{FromEvent, rtm_event};

#[rtm_event(type = "team_join")]
async fn greet<E: FromEvent>(_event: E) {}

fn main() {}
