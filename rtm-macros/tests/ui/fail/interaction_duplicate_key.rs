use rtm_core::{Event, interaction};

#[interaction(type = "block_actions", action_id = "approve", action_id = "deny")]
async fn approve(_event: Event) {}

fn main() {}
