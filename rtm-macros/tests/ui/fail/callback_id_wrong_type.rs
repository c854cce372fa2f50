// Block actions are routed by action id, not callback id.
use rtm_core::{Event, interaction};

#[interaction(type = "block_actions", callback_id = "survey")]
async fn approve(_event: Event) {}

fn main() {}
