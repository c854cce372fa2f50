use rtm_core::{Event, interaction};

#[interaction(type = "block_actions", action_id = "")]
async fn approve(_event: Event) {}

fn main() {}
