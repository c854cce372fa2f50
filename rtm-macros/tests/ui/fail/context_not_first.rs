use rtm_core::{Context, Event, rtm_event};

#[rtm_event(type = "message")]
async fn echo(_event: Event, _ctx: Context) {}

fn main() {}
