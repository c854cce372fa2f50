use rtm_core::{Event, interaction};

const APPROVE: &str = "approve";

#[interaction(type = "block_actions", action_id = APPROVE)]
async fn approve(_event: Event) {}

fn main() {}
