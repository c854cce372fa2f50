use rtm_core::{Event, interaction};

#[interaction(type = "block_actions", value = "yes")]
async fn approve(_event: Event) {}

fn main() {}
