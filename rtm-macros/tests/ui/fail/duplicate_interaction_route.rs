// The same interaction route twice when stacked.
use rtm_core::{Event, interaction};

#[interaction(type = "block_actions", action_id = "approve")]
#[interaction(type = "block_actions", action_id = "approve")]
async fn approve(_event: Event) {}

fn main() {}
