use rtm_core::{Event, rtm_event};

#[rtm_event(type = "message", kind = "bot_message")]
async fn echo(_event: Event) {}

fn main() {}
