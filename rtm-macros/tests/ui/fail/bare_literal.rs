// A string where `type = "..."` belongs: the error says which key to write.
use rtm_core::{Event, rtm_event};

#[rtm_event("message")]
async fn echo(_event: Event) {}

fn main() {}
